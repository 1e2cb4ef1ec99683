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
