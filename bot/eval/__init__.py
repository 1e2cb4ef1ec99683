"""Evaluation: ``python -m bot eval gold / beir / wikiqa / squad / realdocs``. Not imported when
answering; ``beir`` needs the ``eval`` extra (``pip install -e ".[eval]"``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> None:
    """One JSON object a line (``--out`` of every eval command)."""
    with Path(path).open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


class CorpusBots:
    """How evaluations that build a corpus from a folder get its bot: by default the way users
    do, through a saved index (``python -m bot index FOLDER --out IDX``, an update when ``IDX``
    holds one already, then the bot loaded from ``IDX``); with ``from_folder`` the folder is read
    and indexed in memory (``ChatBot.load(FOLDER)``), never saved. The indexes go under
    ``index_dir`` (kept, so a later run only updates them) or a temporary folder removed by
    ``close()``; never beside the data (which may be read-only, as shared/ is).

    Use as a context manager; ``bots(folder, strictness)`` gives a bot."""

    def __init__(self, from_folder: bool = False, index_dir: str | Path | None = None):
        import tempfile

        self.from_folder = from_folder
        self._tmp = None if from_folder or index_dir else tempfile.TemporaryDirectory(prefix="bot-eval-index-")
        self.index_dir = Path(index_dir) if index_dir else (Path(self._tmp.name) if self._tmp else None)

    def index_of(self, folder: str | Path) -> Path:
        """Where the saved index of ``folder`` goes: one per source folder."""
        import hashlib

        real = Path(folder).resolve()
        assert self.index_dir is not None
        tag = hashlib.sha256(str(real).encode()).hexdigest()[:10]
        return self.index_dir / f"{real.parent.name}-{real.name}-{tag}"

    def __call__(self, folder: str | Path, strictness: float | None = None) -> Any:
        from bot.chatbot import ChatBot

        if self.from_folder:
            return ChatBot.load(folder, strictness=strictness)
        from bot.index import indexer, layout

        out = self.index_of(folder)
        if not (layout.is_index(out) and indexer.update(out, [str(folder)]).full is None):
            indexer.build([str(folder)], out)  # what `python -m bot index` does when no update can
        return ChatBot.load(out, strictness=strictness)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "CorpusBots":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def corpus_bots(args: Any) -> CorpusBots:
    """``CorpusBots`` as the eval command's ``--from-folder`` and ``--index-dir`` ask."""
    return CorpusBots(bool(getattr(args, "from_folder", False)), getattr(args, "index_dir", None))
