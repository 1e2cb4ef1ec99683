"""Defects found by trying the product with hostile and ordinary real-world input (each test
failed before its fix)."""
import subprocess
import sys

import pytest

from bot import ChatBot, CorpusError, indexer
from bot.config import load_manifest
from mixed_corpus import make_pdf


def test_pdf_with_a_title_in_its_metadata_indexes(tmp_path):
    """pypdf returns titles as a str subclass, which PyYAML could not write into corpus.yaml."""
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, ["Staff may work from home on Fridays."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.add_metadata({"/Title": "Staff Handbook", "/Author": "People Team"})
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "handbook.pdf", "wb") as f:
        writer.write(f)
    out = tmp_path / "index"
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Staff Handbook" in (out / "corpus.yaml").read_text(encoding="utf-8")
    r = ChatBot.load(out).ask("when may staff work from home?")
    assert r.citations and "Fridays" in r.citations[0].quotes[0]


@pytest.mark.parametrize("path", ["../secret.md", "/etc/hostname", "sub/../../secret.md"])
def test_manifest_paths_outside_the_corpus_folder_are_refused(tmp_path, path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "secret.md").write_text("# Secret\n\nThe vault code is 4321.\n")
    (corpus / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (corpus / "corpus.yaml").write_text(f"documents:\n  - a.md\n  - {path}\n")
    bot = ChatBot.load(corpus)
    assert len(bot.documents) == 1
    assert any(f"corpus.yaml:3: document '{path}' is outside the corpus folder" in p for p in bot.problems)
    assert "4321" not in bot.ask("what is the vault code?").answer
    # an explicit setting allows it
    (corpus / "corpus.yaml").write_text("documents:\n  - a.md\n  - ../secret.md\nsettings:\n  allow_outside_paths: true\n")
    assert len(ChatBot.load(corpus).documents) == 2


def test_missing_outside_file_message_does_not_tell_whether_it_exists(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (corpus / "corpus.yaml").write_text("documents:\n  - a.md\n  - ../nothing-here.md\n")
    problems = ChatBot.load(corpus).problems
    assert problems and "outside the corpus folder" in problems[0] and "not found" not in problems[0]


def test_utf16_text_with_a_bom_is_read(tmp_path):
    (tmp_path / "notes.txt").write_bytes("Widgets are cleaned with warm water.\r\n".encode("utf-16"))
    r = ChatBot.load(tmp_path).ask("how are widgets cleaned?")
    assert r.support == "answer" and "warm water" in r.citations[0].quotes[0]


def test_nul_bytes_anywhere_mean_binary(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (tmp_path / "b.md").write_bytes(b"# B\n\n" + b"text " * 3000 + b"\x00\x01 hidden")
    bot = ChatBot.load(tmp_path)
    assert len(bot.documents) == 1 and any("b.md" in p and "binary" in p for p in bot.problems)


def test_bm25_values_must_be_finite(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (tmp_path / "corpus.yaml").write_text("documents: [a.md]\nsettings:\n  bm25_b: .nan\n")
    with pytest.raises(CorpusError, match="finite"):
        load_manifest(tmp_path / "corpus.yaml")


def test_search_api_clamps_k(bot):
    assert 1 <= len(bot.search("vae", 5_000_000_000)) <= len(bot.index.passages)
    with pytest.raises(ValueError):
        bot.search("vae", 1e23)  # type: ignore[arg-type]
