"""Update a saved index when some source files changed: re-read only files whose size, time or
hash changed, drop what was removed, add what is new, and end with the index a full build of
the same sources would give (same documents, passages, statistics and scores, in the same order).

A large (tantivy) index is updated in place without touching a file the current index uses:
new documents go to a new part (``texts.<n>.bin``, ``documents.<n>.jsonl``, ``blocks.<n>.bin``,
``terms.<n>.txt``),
tantivy gets the new passages in a copy of its folder (the passages they replace stay there,
marked dead), and the arrays, statistics and word lists are written as generation ``n``; the
rename of ``index.json`` is the one step that switches to them, then the files of the previous
generation are deleted. Killed before that rename, the old index stays whole, and the next run
deletes the leftovers. Acronyms defined or dropped by the changed files change the terms of
other passages (a long form gets its acronym's key): those passages' documents are re-analyzed
from their stored text too.

A small (postings) index is rebuilt in memory from the documents it stores plus the files that
changed (its analysis joins split spellings across the whole corpus, so it cannot be patched);
only changed files are read. Settings or manifest titles that changed, other inputs, a first
build or an index of an earlier layout (``layout.outdated``) need a full build: ``update`` says so
and the caller builds.
"""
from __future__ import annotations

import dataclasses
import gzip
import heapq
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from bot.index import layout
from bot.index import store
from bot.index import writer
from bot.text.analyze import Analyzer, WORD, normalize, words as surface_words
from bot.index.build import analyze_all, analyze_documents
from bot.config import MANIFEST, CorpusError, Manifest
from bot.index.engines import POSTINGS, TANTIVY, tantivy_engine
from bot.index.files import atomic_npz, atomic_write, load_npz
from bot.text.glossary import Glossary, pairs_in
from bot.index.corpus import CorpusIndex, PassageAnalyzer
from bot.sources.load import Planned, plan_sources, read_planned
from bot.model import Document
from bot.sources.readers import LoadReport
from bot.text.spelling import candidate_words


class _FullBuild(Exception):
    """Raised inside an update that finds only a full build can do it (nothing was switched)."""


@dataclass
class UpdateReport:
    """What an update did (or why it could not: ``full`` says why a full build is needed)."""

    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reanalyzed: int = 0  # documents of unchanged files analyzed again (an acronym they use changed)
    documents: int = 0
    passages: int = 0
    problems: list[str] = field(default_factory=list)
    full: str | None = None

    @property
    def touched(self) -> bool:
        return bool(self.changed or self.added or self.removed)


def _same_file(old: dict[str, Any], p: Planned) -> dict[str, Any] | None:
    """The record of ``p`` when its content is the one ``old`` describes (None: read it again)."""
    if old.get("source") != p.source or old.get("entry") != p.signature() or old.get("size", -1) < 0:
        return None
    try:
        st = p.path.stat()
    except OSError:
        return None
    if st.st_size != old["size"]:
        return None
    if st.st_mtime_ns == old["mtime"]:
        return old
    fresh = writer.file_record(p.path, p.source)  # same size, new time: compare the hashes
    if fresh["sha256"] != old["sha256"]:
        return None
    return {**old, "mtime": fresh["mtime"]}


def _pairs_of(docs: Iterable[Document]) -> list[list[str]]:
    out: list[list[str]] = []
    for d in docs:
        for short, long in pairs_in(d.text):
            if [short, long] not in out:
                out.append([short, long])
    return out


def update(folder: str | Path, inputs: Sequence[str] | None = None,
           progress: Callable[[Iterable[Any]], Any] | None = None) -> UpdateReport:
    """Bring the index at ``folder`` up to date with its sources (``inputs``: must be the ones it
    was built from; default: those). ``report.full`` is set, and nothing changed, when only a
    full build can do it."""
    folder = Path(folder)
    if not layout.is_index(folder):
        return UpdateReport(full=f"{folder} holds no index yet")
    with writer.writing(folder) as real:
        return _update(real, inputs, progress)


def _update(folder: Path, inputs: Sequence[str] | None,
            progress: Callable[[Iterable[Any]], Any] | None) -> UpdateReport:
    try:
        header = layout.read_header(folder)
    except CorpusError as exc:
        return UpdateReport(full=str(exc))
    why = layout.outdated(header)
    if why:
        return UpdateReport(full=why)
    inputs = [str(i) for i in (inputs if inputs is not None else header.get("inputs") or [])]
    if [str(Path(i).resolve()) for i in inputs] != header.get("inputs"):
        return UpdateReport(full="the sources given differ from the ones the index was built from")
    damaged = layout.damage(folder, header)
    if damaged:
        return UpdateReport(full=f"the index is damaged ({damaged})")
    writer.remove_unreferenced(folder, header.get("files") or {})  # what a killed update left
    try:
        old_records = layout.read_sources(folder, header)
    except (CorpusError, KeyError):
        return UpdateReport(full="the index does not record its source files")
    snap = layout.snapshot_sources(inputs)
    report = LoadReport()
    manifest, planned = plan_sources(inputs, report, folder / MANIFEST)  # a broken manifest raises
    if dataclasses.asdict(manifest.settings.index) != layout.index_settings(header.get("settings") or {}):
        return UpdateReport(full="the index settings changed")
    by_path = {r["path"]: (k, r) for k, r in enumerate(old_records)}
    kept: dict[int, int] = {}  # planned position -> old record position, for files that did not change
    records: list[dict[str, Any]] = []
    out = UpdateReport()
    for k, p in enumerate(planned):
        path = str(p.path.resolve())
        old = by_path.get(path)
        same = _same_file(old[1], p) if old else None
        if same is not None:
            kept[k] = old[0]
            records.append(same)
        else:
            records.append({})  # read below
            (out.changed if old else out.added).append(p.source)
    planned_paths = {str(p.path.resolve()) for p in planned}
    out.removed = [r["source"] for r in old_records if r["path"] not in planned_paths]
    fresh: dict[int, list[Document]] = {}
    for k, p in enumerate(progress(planned) if progress else planned):
        if k in kept:
            continue
        rec = writer.file_record(p.path, p.source) if p.path.is_file() else {
            "path": str(p.path.resolve()), "source": p.source, "size": -1, "mtime": 0, "sha256": ""}
        own = LoadReport()
        fresh[k] = read_planned(manifest, p, own)
        rec["problems"] = own.problems
        if p.entry is not None:
            rec["entry"] = p.signature()
        records[k] = rec
    for k, p in enumerate(planned):
        if p.entry is not None and "entry" not in records[k]:
            records[k]["entry"] = p.signature()
    out.problems = [x for r in records for x in r.get("problems", [])]
    if not out.touched:
        if layout.fingerprint(snap, layout.index_settings(header.get("settings") or {})) != header.get("fingerprint"):
            _rewrite_header(folder, header, snap, manifest, inputs)
        out.documents, out.passages = header["documents"], header["passages"]
        return out
    if header.get("engine") == TANTIVY:
        try:
            _update_large(folder, header, manifest, inputs, planned, kept, fresh, records, snap, out)
        except _FullBuild as exc:
            return UpdateReport(full=str(exc))
    else:
        _update_small(folder, header, manifest, inputs, planned, kept, fresh, records, snap, out)
    return out


def _rewrite_header(folder: Path, header: dict[str, Any], snap: layout.Snapshot, manifest: Manifest,
                    inputs: Sequence[str]) -> None:
    """Only modification times moved (content unchanged, by hash): the same files under a header
    with the new fingerprint, so the index is current again."""
    writer.write_header(folder, manifest, inputs, header["files"], header["engine"], header["documents"],
                       header["passages"], header.get("problems") or [], snap,
                       int(header.get("generation") or 0), header.get("parts") or [""])


_GENERATION_FILES = layout.GENERATION_FILES


def _generation_base(name: str) -> str | None:
    """"passages.3.npz" -> layout.PASSAGES_NPZ for the files written anew at each generation."""
    for base in _GENERATION_FILES:
        stem, _, ext = base.partition(".")
        if name == base or (name.startswith(stem + ".") and name.endswith("." + ext)
                            and name[len(stem) + 1 : -len(ext) - 1].isdigit()):
            return base
    return None


# ---- small index: rebuilt in memory from stored documents and the changed files -----------------
def _update_small(folder: Path, header: dict[str, Any], manifest: Manifest, inputs: Sequence[str],
                  planned: Sequence[Planned], kept: dict[int, int], fresh: dict[int, list[Document]],
                  records: list[dict[str, Any]], snap: layout.Snapshot, out: UpdateReport) -> None:
    _, stored, _, _ = store.load(folder, check_stale=False)
    by_file: dict[int, list[int]] = {}
    for pos, f in enumerate(stored.source_file.tolist()):
        by_file.setdefault(f, []).append(pos)
    docs: list[Document] = []
    doc_file: list[int] = []
    for k in range(len(planned)):
        got = [stored.with_blocks(i) for i in by_file.get(kept[k], [])] if k in kept else fresh.get(k, [])
        docs.extend(got)
        doc_file.extend([k] * len(got))
    if not docs:
        raise CorpusError("nothing to index: no readable documents left in the sources")
    s = manifest.settings
    index = CorpusIndex.build(docs, max_words=s.index.passage_max_words,
                              documentation_words=s.index.documentation_max_words, k1=s.index.bm25_k1, b=s.index.bm25_b, engine=POSTINGS)
    stage = writer.staging_dir(folder)
    try:
        writer.save(stage, manifest, docs, index, inputs, out.problems, snap, records, doc_file)
        writer.swap_into(stage, folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    out.documents, out.passages = len(docs), len(index.passages)


# ---- large index: a new part and a new generation, in place ---------------------------------------
def _update_large(folder: Path, header: dict[str, Any], manifest: Manifest, inputs: Sequence[str],
                  planned: Sequence[Planned], kept: dict[int, int], fresh: dict[int, list[Document]],
                  records: list[dict[str, Any]], snap: layout.Snapshot, out: UpdateReport) -> None:
    gen = int(header.get("generation") or 0) + 1
    written: list[Path] = []
    try:
        _write_generation(folder, header, manifest, inputs, planned, kept, fresh, records, snap, out, gen, written)
    except BaseException:
        for path in written:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for leftover in folder.glob(f".*.tmp-{os.getpid()}"):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
        raise


def _vocabulary(old_vocab: list[str], df_old: np.ndarray, term_id: dict[str, int], delta: Counter[str],
                old_glossary: Glossary, glossary: Glossary) -> tuple[list[str], np.ndarray]:
    """The sorted vocabulary and document frequencies after ``delta`` (passages added minus
    passages gone, per term): a full build's are the terms some passage holds plus the glossary
    keys. Only the terms that moved are touched; the rest keep their place."""

    def old_df(t: str) -> int:
        i = term_id.get(t)
        return 0 if i is None else int(df_old[i])

    keys = {e.key for e in glossary.entries}
    changed = {t: old_df(t) + c for t, c in delta.items() if c}  # terms whose document frequency moved
    dropped = {t for t, c in changed.items() if c <= 0 and t not in keys}
    dropped |= {e.key for e in old_glossary.entries if e.key not in keys and changed.get(e.key, old_df(e.key)) <= 0}
    added = sorted({t for t, c in changed.items() if c > 0 and t not in term_id} | (keys - set(term_id)))
    if dropped or added:
        vocab = list(heapq.merge((t for t in old_vocab if t not in dropped), added))
        old_pos = np.fromiter((term_id.get(t, -1) for t in vocab), np.int64, count=len(vocab))
        df = np.where(old_pos >= 0, df_old[np.clip(old_pos, 0, None)], 0).astype(np.int64)
        new_id = {t: i for i, t in enumerate(vocab)}
    else:
        vocab, df, new_id = old_vocab, df_old.astype(np.int64).copy(), term_id
    for t, c in changed.items():
        if t not in dropped:
            df[new_id[t]] = max(c, 0)
    return vocab, df


def _write_generation(folder: Path, header: dict[str, Any], manifest: Manifest, inputs: Sequence[str],
                      planned: Sequence[Planned], kept: dict[int, int], fresh: dict[int, list[Document]],
                      records: list[dict[str, Any]], snap: layout.Snapshot, out: UpdateReport, gen: int,
                      written: list[Path]) -> None:
    settings = manifest.settings
    old_gen = int(header.get("generation") or 0)
    files_in = header["files"]
    _, stored, index, _ = store.load(folder, check_stale=False)
    retriever = index.retriever
    assert isinstance(retriever, tantivy_engine.TantivyRetriever)
    pz = load_npz(folder, layout.generation_name(layout.PASSAGES_NPZ, old_gen),
                  files_in[layout.generation_name(layout.PASSAGES_NPZ, old_gen)])
    bz = load_npz(folder, layout.generation_name(layout.BM25_NPZ, old_gen), files_in[layout.generation_name(layout.BM25_NPZ, old_gen)])
    meta = json.loads(gzip.decompress((folder / layout.generation_name(layout.TERMS_JSON, old_gen)).read_bytes()))
    old_pdoc = pz["doc"]
    doc_lo = np.searchsorted(old_pdoc, np.arange(len(stored) + 1))  # passages of old document d: lo[d]..lo[d+1]
    by_file: dict[int, list[int]] = {}
    for pos, f in enumerate(stored.source_file.tolist()):
        by_file.setdefault(f, []).append(pos)

    # The glossary a full build would mine: each file's acronym pairs, in reading order.
    for k, docs in fresh.items():
        records[k]["pairs"] = _pairs_of(docs)
    glossary = Glossary.from_pairs(tuple(pair) for r in records for pair in r.get("pairs", []))
    old_glossary = index.glossary
    old_entries = {(e.short, e.long, e.key, e.long_terms) for e in old_glossary.entries}
    new_entries = {(e.short, e.long, e.key, e.long_terms) for e in glossary.entries}
    moved = old_entries ^ new_entries
    for key in set(old_glossary.by_key) | set(glossary.by_key):  # a key whose first long form changed
        a, b = old_glossary.by_key.get(key), glossary.by_key.get(key)
        if a != b:
            for e in (a, b):
                if e is not None:
                    moved.add((e.short, e.long, e.key, e.long_terms))
    kept_docs = {pos for k, f in kept.items() for pos in by_file.get(f, [])}
    affected: set[int] = set()  # old documents (of unchanged files) that hold a long form that moved
    for _, _, _, long_terms in moved:
        for pi in retriever.containing_all(long_terms):
            d = int(old_pdoc[pi])
            if d in kept_docs:
                affected.add(d)
    out.reanalyzed = len(affected)

    # The new document order, as a full build reads them: (old position or None, new document or None).
    order: list[tuple[int | None, Document | None, int]] = []
    for k in range(len(planned)):
        if k in kept:
            for pos in by_file.get(kept[k], []):
                order.append((None, stored.with_blocks(pos), k) if pos in affected else (pos, None, k))
        else:
            order.extend((None, d, k) for d in fresh.get(k, []))
    if not order:
        raise CorpusError("nothing to index: no readable documents left in the sources")
    new_docs = [d for pos, d, _ in order if d is not None]

    # Analyze and write the new part.
    suffix = f".{gen}"
    ix = PassageAnalyzer(glossary, Analyzer())
    if (len(order) > 1) != (len(stored) > 1):
        raise _FullBuild("the index goes from one document to several or back (titles are indexed with several)")
    sizes = (settings.index.passage_max_words, settings.index.documentation_max_words)
    res = analyze_all(new_docs, ix, sizes, n_docs=len(order)) if len(new_docs) > 50 else \
        analyze_documents(new_docs, (0, len(new_docs)), ix, sizes, len(order))
    doc_writer = writer.DocumentWriter(folder, suffix)
    terms_writer = writer.TermsWriter(folder, suffix)
    written += [folder / n for n in layout.part_files(suffix).values()]
    for d, m in zip(new_docs, res["meta"]):
        doc_writer.add(d, m)
    first_uid = int(len(bz["uid_len"]))
    tmp = folder / f".tantivy.tmp-{os.getpid()}"
    tv = tantivy_engine.TantivyWriter(tmp, threads=1, copy_of=Path(retriever.path), first_uid=first_uid,
                                      heap=50_000_000)
    new_uids = np.fromiter((tv.add(body) for body in res["bodies"]), np.int64, count=len(res["bodies"]))
    for body in res["bodies"]:
        terms_writer.add(body)
    tv.finish(counts=False)
    del tv
    part_files, part_ranges = doc_writer.close()
    terms_files, terms_ranges = terms_writer.close()
    new_part = len(header.get("parts") or [""])

    # Documents, in the new order.
    n_new = len(new_docs)
    old_cols = {k: getattr(stored, k) for k in ("part", "text_start", "text_end", "meta_start", "meta_end",
                                                "blocks_start", "blocks_end")}
    pick_old = np.asarray([pos if pos is not None else -1 for pos, _, _ in order], np.int64)
    is_new = pick_old < 0
    docs_out: dict[str, np.ndarray] = {}
    for k, col in old_cols.items():
        arr = np.empty(len(order), col.dtype)
        arr[~is_new] = col[pick_old[~is_new]]
        arr[is_new] = np.full(n_new, new_part) if k == "part" else part_ranges[k]  # new documents, in order
        docs_out[k] = arr
    docs_out["source_file"] = np.asarray([k for _, _, k in order], np.int32)

    # Passages: old rows of kept documents and new rows, pooled, then gathered in order.
    new_lo = np.zeros(n_new + 1, np.int64)
    np.cumsum(np.bincount(res["doc"], minlength=n_new), out=new_lo[1:])
    n_old_p = len(old_pdoc)
    rows = []
    j = 0
    for pos, _, _ in order:
        if pos is not None:
            rows.append(np.arange(doc_lo[pos], doc_lo[pos + 1]))
        else:
            rows.append(n_old_p + np.arange(new_lo[j], new_lo[j + 1]))
            j += 1
    take = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    heads = [tuple(h) for h in meta["headings"]]
    head_id = {h: i for i, h in enumerate(heads)}
    new_path = np.fromiter((head_id.setdefault(h, len(head_id)) for h in res["heads"]), np.int32,
                           count=len(res["heads"]))
    heads = list(head_id)
    new_sent_ptr = np.zeros(len(res["n_sent"]) + 1, np.int64)
    np.cumsum(res["n_sent"], out=new_sent_ptr[1:])

    def pool(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        return np.concatenate([old, new.astype(old.dtype)])

    p_out: dict[str, np.ndarray] = {}
    for k, new in (("start", res["start"]), ("end", res["end"]), ("first", res["first"]), ("path", new_path),
                   ("terms_start", terms_ranges["terms_start"]), ("terms_end", terms_ranges["terms_end"]),
                   ("uid", new_uids)):
        p_out[k] = pool(pz[k], new)[take]
    lengths = pool(bz["doc_len"], res["lengths"])[take]
    per_doc = np.asarray([len(r) for r in rows], np.int64)
    p_out["doc"] = np.repeat(np.arange(len(order), dtype=np.int32), per_doc)
    # sentences: each pooled passage's range in the pooled sentence arrays
    s_lo = pool(pz["sent_ptr"][:-1], new_sent_ptr[:-1] + len(pz["sent_start"]))[take]
    s_n = pool(np.diff(pz["sent_ptr"]), np.diff(new_sent_ptr))[take]
    sent_ptr = np.zeros(len(take) + 1, np.int64)
    np.cumsum(s_n, out=sent_ptr[1:])
    s_take = np.repeat(s_lo - sent_ptr[:-1], s_n) + np.arange(int(sent_ptr[-1]))
    for k in ("sent_start", "sent_end", "sent_bullet"):
        p_out[k] = pool(pz[k], res[k])[s_take]
    p_out["sent_ptr"] = sent_ptr

    # Statistics: document frequencies over live passages, the vocabulary, the speller's words.
    gone_docs = [pos for pos in range(len(stored)) if pos not in kept_docs or pos in affected]
    delta: Counter[str] = Counter()
    words = dict(zip(meta["words"], meta.get("word_docs") or [1] * len(meta["words"])))
    for pos in gone_docs:
        surface: set[str] = set()
        for pi in range(int(doc_lo[pos]), int(doc_lo[pos + 1])):
            delta.subtract(set(retriever.terms_of(pi)))
            p = index.passages[pi]  # as the build saw it: no need to split the document again
            surface.update(WORD.findall(normalize(p.text)))
            surface.update(surface_words(" ".join(p.headings)))
        for w in candidate_words(surface):
            words[w] = words.get(w, 0) - 1
    for body in res["bodies"]:
        delta.update(set(body.split()))
    for w, c in res["word_docs"].items():
        words[w] = words.get(w, 0) + c
    vocab, df = _vocabulary(meta["vocab"], bz["df"], retriever.term_id, delta, old_glossary, glossary)
    word_list = sorted(w for w, c in words.items() if c > 0)
    uid_len = np.concatenate([bz["uid_len"], res["lengths"].astype(bz["uid_len"].dtype)])

    # Write generation `gen`, then switch to it with the header.
    def name(base: str) -> str:
        return layout.generation_name(base, gen)

    files: dict[str, Any] = {n: info for n, info in files_in.items() if _generation_base(n) is None
                             and not n.split("/")[0].startswith("tantivy")}
    files.update(part_files)
    files.update(terms_files)
    for base, arrays in ((layout.DOCUMENTS_NPZ, docs_out), (layout.PASSAGES_NPZ, p_out)):
        written.append(folder / name(base))
        files[name(base)] = atomic_npz(folder / name(base), **arrays)
    written.append(folder / name(layout.BM25_NPZ))
    files.update(tantivy_engine.save_statistics(folder, df, lengths.astype(np.int32), settings.index.bm25_k1,
                                                settings.index.bm25_b, uid_len, name=name(layout.BM25_NPZ)))
    written.append(folder / name(layout.TERMS_JSON))
    files[name(layout.TERMS_JSON)] = atomic_write(folder / name(layout.TERMS_JSON), writer.terms_blob(
        heads, vocab, glossary, word_list, [words[w] for w in word_list]))
    written.append(folder / name(layout.SOURCES_JSON))
    files[name(layout.SOURCES_JSON)] = atomic_write(folder / name(layout.SOURCES_JSON), writer.sources_blob(records))
    written.append(folder / name("tantivy"))
    files.update(tantivy_engine.install(tmp, folder, name=name("tantivy")))
    parts = list(header.get("parts") or [""]) + [suffix]
    writer.write_header(folder, manifest, inputs, files, TANTIVY, len(order), int(len(take)), out.problems, snap,
                       gen, parts)
    written.clear()  # the new index is in place: nothing to undo
    # the previous generation stays until the next update: a server still answering from it
    # (app.py looks for a newer index once a second) keeps every file it may open
    writer.remove_unreferenced(folder, {**files_in, **files})
    out.documents, out.passages = len(order), int(len(take))
