import pytest

from bot import ChatBot, CorpusError
from bot.config import load_manifest
from bot.sources.load import load_corpus


def write(tmp_path, text, doc="doc.md", body="# T\n\nSome text here.\n"):
    (tmp_path / "corpus.yaml").write_text(text, encoding="utf-8")
    if doc:
        (tmp_path / doc).write_text(body, encoding="utf-8")
    return tmp_path


def test_default_manifest_has_credit():
    m = load_manifest("corpus/corpus.yaml")
    doc = m.documents[0]
    assert doc.path == "llm-vs-genai.md"
    assert doc.metadata["author"] == "Monika Karlović"
    assert doc.metadata["published"] == "2024-03-28"
    assert m.settings.answer.top_k >= 1


def test_broken_yaml_names_file_and_line(tmp_path):
    write(tmp_path, "documents:\n  - path: doc.md\n    title: [unclosed\n")
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    msg = str(err.value)
    assert "corpus.yaml:" in msg and "invalid YAML" in msg
    line = int(msg.split("corpus.yaml:")[1].split(":")[0])
    assert line in (3, 4)


def test_a_manifest_is_read_by_pyyaml_whether_libyaml_is_installed_or_not(tmp_path):
    """libyaml (where installed) accepts some manifests PyYAML refuses, so a corpus.yaml is always
    read by PyYAML: whether it is valid, and the line named, do not depend on what is installed."""
    write(tmp_path, "documents:\n  - path: doc.md\n    title: t\t\n")
    with pytest.raises(CorpusError, match=r"corpus.yaml:3: invalid YAML"):
        load_manifest(tmp_path / "corpus.yaml")


def test_missing_path_names_line(tmp_path):
    write(tmp_path, "name: x\ndocuments:\n  - title: No path here\n")
    with pytest.raises(CorpusError, match=r"corpus.yaml:3: documents\[0\] has no 'path'"):
        load_corpus(tmp_path)


def test_unknown_setting_and_bad_type(tmp_path):
    write(tmp_path, "documents: [doc.md]\nsettings:\n  top_kk: 3\n")
    with pytest.raises(CorpusError, match=r"corpus.yaml:3: unknown setting 'top_kk'"):
        load_corpus(tmp_path)
    write(tmp_path, "documents: [doc.md]\nsettings:\n  top_k: zero\n")
    with pytest.raises(CorpusError, match=r"corpus.yaml:3: settings.top_k must be a whole number"):
        load_corpus(tmp_path)
    write(tmp_path, "documents: [doc.md]\nsettings:\n  top_k: 0\n")
    with pytest.raises(CorpusError, match=r"corpus.yaml:3: settings.top_k must be between 1 and 100, got 0"):
        load_corpus(tmp_path)


def test_missing_document_and_binary_document(tmp_path):  # each alone: nothing left to load
    write(tmp_path, "documents:\n  - path: nowhere.md\n", doc=None)
    with pytest.raises(CorpusError, match=r"corpus.yaml:2: document 'nowhere.md' not found"):
        load_corpus(tmp_path)
    (tmp_path / "bin.md").write_bytes(b"\x00\x01\x02binary")
    write(tmp_path, "documents:\n  - path: bin.md\n", doc=None)
    with pytest.raises(CorpusError, match="binary"):
        load_corpus(tmp_path)
    (tmp_path / "latin.md").write_bytes("caf\xe9\n".encode("latin-1"))
    write(tmp_path, "documents:\n  - path: latin.md\n", doc=None)
    with pytest.raises(CorpusError, match=r"latin.md:1: not valid UTF-8"):
        load_corpus(tmp_path)


def test_empty_and_duplicate(tmp_path):
    write(tmp_path, "")
    with pytest.raises(CorpusError, match="empty"):
        load_corpus(tmp_path)
    write(tmp_path, "documents:\n  - path: doc.md\n  - path: doc.md\n")
    with pytest.raises(CorpusError, match="repeats id"):
        load_corpus(tmp_path)


def test_folder_without_manifest_reads_markdown(tmp_path):
    (tmp_path / "notes.md").write_text("# Kettles\n\n## Descaling\n\nVinegar removes limescale from kettles.\n")
    bot = ChatBot.load(tmp_path)
    r = bot.ask("how do I remove limescale?")
    assert not r.abstained and r.citations[0].title == "Descaling"


def test_broken_documents_are_skipped_and_reported(tmp_path):
    (tmp_path / "good.md").write_text("# Good\n\n## Kettles\n\nKettles boil water quickly.\n")
    (tmp_path / "empty.md").write_text("   \n")
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02\x03")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "plain.txt").write_text("A document with no headings at all. It still answers questions about teapots.\n")
    (tmp_path / "corpus.yaml").write_text(
        "documents:\n  - good.md\n  - empty.md\n  - binary.md\n  - latin.txt\n  - missing.md\n  - plain.txt\n")
    bot = ChatBot.load(tmp_path)
    assert [d.source for d in bot.documents] == ["good.md", "plain.txt"]
    joined = "\n".join(bot.problems)
    assert len(bot.problems) == 4
    assert "empty.md: the document is empty; skipped" in joined
    assert "binary.md: looks like a binary file" in joined
    assert "latin.txt:1: not valid UTF-8" in joined
    assert "corpus.yaml:6: document 'missing.md' not found" in joined
    assert not bot.ask("what do kettles do?").abstained
    r = bot.ask("what about teapots?")
    assert r.citations and r.citations[0].title == "plain"


def test_oversized_document_is_skipped(tmp_path):
    (tmp_path / "big.txt").write_text("word " * 300_000)  # 1.5 MB
    (tmp_path / "small.md").write_text("# S\n\nSmall text about lamps.\n")
    (tmp_path / "corpus.yaml").write_text("documents: [big.txt, small.md]\nsettings:\n  max_document_mb: 1\n")
    bot = ChatBot.load(tmp_path)
    assert [d.source for d in bot.documents] == ["small.md"]
    assert "over the 1 MB limit" in bot.problems[0]


def test_nothing_readable_is_an_error(tmp_path):
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "corpus.yaml").write_text("documents: [empty.md]\n")
    with pytest.raises(CorpusError, match="no readable documents"):
        load_corpus(tmp_path)


def test_strictness_setting(tmp_path):
    from bot import ChatBot
    from bot.config import load_manifest

    (tmp_path / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (tmp_path / "corpus.yaml").write_text("documents: [a.md]\nsettings:\n  strictness: 0.9\n")
    assert load_manifest(tmp_path / "corpus.yaml").settings.answer.strictness == 0.9
    bot = ChatBot.load(tmp_path)
    assert bot.responder.decider.settings.strictness == 0.9
    assert ChatBot.load(tmp_path, strictness=0.1).responder.decider.settings.strictness == 0.1
    for bad, needle in (("1.5", "between 0 and 1"), (".nan", "finite"), ("'high'", "must be a number")):
        (tmp_path / "corpus.yaml").write_text(f"documents: [a.md]\nsettings:\n  strictness: {bad}\n")
        with pytest.raises(CorpusError, match=f"corpus.yaml:3: .*{needle}"):
            load_manifest(tmp_path / "corpus.yaml")


def test_bm25_settings_refuse_nan_and_infinity(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nWidgets are blue.\n")
    for key, bad in (("bm25_k1", ".nan"), ("bm25_k1", ".inf"), ("bm25_b", ".nan")):
        (tmp_path / "corpus.yaml").write_text(f"documents: [a.md]\nsettings:\n  {key}: {bad}\n")
        with pytest.raises(CorpusError, match=f"corpus.yaml:3: settings.{key} must be a finite number"):
            load_manifest(tmp_path / "corpus.yaml")
