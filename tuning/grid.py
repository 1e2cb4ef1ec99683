"""Parse NAME=v1,v2 arguments into every combination of settings (for the tune_* scripts)."""
from __future__ import annotations


def combos(args: list[str], default: list[tuple[str, list[float]]] | None = None) -> list[list[tuple[str, float]]]:
    grid = [(a.split("=")[0], [float(v) for v in a.split("=")[1].split(",")]) for a in args] or (default or [])
    out: list[list[tuple[str, float]]] = [[]]
    for name, values in grid:
        out = [c + [(name, v)] for c in out for v in values]
    return out
