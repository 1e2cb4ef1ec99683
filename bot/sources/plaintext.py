"""Plain text: a file read as it is (its first line may be its title), or a man page rendered as
text, read as its sections and options (``manpage``)."""
from __future__ import annotations

from pathlib import Path

from bot.sources.manpage import looks_like_man, read_man
from bot.sources.readers import LoadReport, Read, read_text, text_title
from bot.sources.structure import BLOCKS_KEY, STRUCTURED


def read_text_file(path: Path, report: LoadReport) -> Read:
    """A text file: plain text, or a man page in its own structure."""
    text = read_text(path)
    if looks_like_man(text):  # a man page rendered as text
        text, blocks, found = read_man(text)
        return Read(text, found, STRUCTURED, {BLOCKS_KEY: blocks})
    return Read(text, text_title(text), "text")
