"""Turn a saved index into the layout versions before document structure had a file of its own
wrote: each document's blocks in its metadata in ``documents.jsonl`` (as "_blocks", a flat list of
ints), no ``blocks*.bin`` files and no ``blocks_start``/``blocks_end`` in ``documents.npz``, and a
``corpus.yaml`` beside the index listing "_blocks" under each structured document.

Made from an index the current code builds (so the test needs no old code): the rest of the
files are as both versions write them. Generation 0 only (a fresh build)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import yaml

from bot.index import layout
from bot.index.files import checksum


def to_earlier_layout(idx: Path) -> None:
    header = json.loads((idx / layout.INDEX_JSON).read_text(encoding="utf-8"))
    assert int(header.get("generation") or 0) == 0 and header["parts"] == [""], "a fresh build only"
    files = header["files"]
    names = layout.part_files("")
    with np.load(idx / layout.DOCUMENTS_NPZ) as dz:
        arrays = {k: dz[k] for k in dz.files}
    blob = (idx / names["blocks"]).read_bytes()
    meta = (idx / names["meta"]).read_bytes()
    lines, starts, ends, at = [], [], [], 0
    blocks_of: dict[str, list[int]] = {}
    for i in range(len(arrays["part"])):
        o = json.loads(meta[arrays["meta_start"][i]:arrays["meta_end"][i]])
        lo, hi = int(arrays["blocks_start"][i]), int(arrays["blocks_end"][i])
        if hi > lo:
            flat = np.frombuffer(blob[lo:hi], "<i4").tolist()
            fmt = o["metadata"].pop("format", None)  # the readers set "_blocks" before "format"
            o["metadata"]["_blocks"] = flat
            if fmt is not None:
                o["metadata"]["format"] = fmt
            blocks_of[o["source"].split("#")[0]] = flat
        line = (json.dumps(o, ensure_ascii=False) + "\n").encode("utf-8")
        lines.append(line)
        starts.append(at)
        at += len(line)
        ends.append(at)
    (idx / names["meta"]).write_bytes(b"".join(lines))
    arrays["meta_start"], arrays["meta_end"] = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    del arrays["blocks_start"], arrays["blocks_end"]
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (idx / layout.DOCUMENTS_NPZ).write_bytes(buf.getvalue())
    (idx / names["blocks"]).unlink()
    del files[names["blocks"]]
    for name in (names["meta"], layout.DOCUMENTS_NPZ):
        files[name] = checksum(idx / name)
    (idx / layout.INDEX_JSON).write_text(json.dumps(header, ensure_ascii=False, indent=1), encoding="utf-8")
    manifest = idx / "corpus.yaml"
    text = manifest.read_text(encoding="utf-8")
    head, body = text.split("\n", 1)
    data = yaml.safe_load(body)
    entries = []
    for entry in data["documents"]:  # "_blocks" after the path and title, where the old writer put it
        flat = blocks_of.get(entry["path"])
        if flat:
            front = {k: entry[k] for k in ("path", "title") if k in entry}
            entry = {**front, "_blocks": flat, **{k: v for k, v in entry.items() if k not in front}}
        entries.append(entry)
    data["documents"] = entries
    manifest.write_text(head + "\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
