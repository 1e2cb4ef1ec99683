"""Issue 22, the saved index and its settings: defects found by attacking the product (each test
failed before its fix)."""
from pathlib import Path

import pytest

from bot import ChatBot
from bot.index import indexer
from bot.index.update import update

ALPHA = "# Alpha\n\nThe alpha widget is painted red.\n"
BETA = "# Beta\n\nThe beta gadget runs on solar power.\n"


def two_documents(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "a.md").write_text(ALPHA)
    (folder / "b.md").write_text(BETA)
    return folder


def test_a_loaded_index_keeps_reading_its_own_generation_after_an_update(tmp_path):
    """Row 5: document text was memory-mapped on first read, so a bot loaded before an update
    (the live server's path) read the new texts.bin at the old offsets: garbled quotes cited to
    the wrong source."""
    src, idx = two_documents(tmp_path / "src"), tmp_path / "idx"
    indexer.build([src], idx)
    bot = ChatBot.load(idx)  # no document text read yet
    (src / "a.md").write_text("# Alpha\n\n" + "Filler about nothing in particular. " * 20 + ALPHA.split("\n\n")[1])
    assert update(idx).changed == ["a.md"]  # the folder is swapped under the loaded bot
    reply = bot.ask("what does the beta gadget run on?")
    assert reply.support == "answer", reply.answer
    assert [(c.source, c.quotes) for c in reply.citations] == [("b.md", ["The beta gadget runs on solar power."])]
    old = {"a.md": ALPHA, "b.md": BETA}
    for p in bot.index.passages:  # every passage is the old generation's text, none a mix
        assert p.text in old[bot.index.documents[p.doc_id].source], p.text
