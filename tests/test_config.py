import pytest

from bot import ChatBot, CorpusError
from bot.config import load_manifest
from bot.load import load_corpus


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
    assert m.settings.top_k >= 1


def test_broken_yaml_names_file_and_line(tmp_path):
    write(tmp_path, "documents:\n  - path: doc.md\n    title: [unclosed\n")
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    msg = str(err.value)
    assert "corpus.yaml:" in msg and "invalid YAML" in msg
    line = int(msg.split("corpus.yaml:")[1].split(":")[0])
    assert line in (3, 4)


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
    with pytest.raises(CorpusError, match="at least 1"):
        load_corpus(tmp_path)


def test_missing_document_and_binary_document(tmp_path):
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
