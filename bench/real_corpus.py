"""A large corpus of real English text (not replicated): Debian's documentation packages.

    .venv/bin/python bench/real_corpus.py --out /tmp/realtext [--cache ~/.cache/grounded-bot-bench]

Downloads the packages below with `apt-get download` (nothing is installed), unpacks them with
`dpkg-deb -x` into the cache folder, and writes English documents as BEIR-style JSON Lines files
of at most 20 documents each (a folder of exports: changing ten files means about 200 documents):

- HTML manuals and API references (Python, Django, SciPy, pandas, the Linux kernel, PostgreSQL,
  Rust, Racket, Erlang, Java, Sage, GIMP, LibreOffice help, ...): one document per page, headings
  kept as Markdown headings, navigation, scripts and index pages dropped;
- GCIDE (the Collaborative International Dictionary of English): one document per headword;
- WordNet: one document per synset gloss group (a lemma with its glosses and examples);
- manual pages and Perl POD: one document per page.

Non-English pages (paths with other language codes, or text with too few English function
words) and duplicate texts are skipped. Prints documents, words and distinct words. Not a test.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
from pathlib import Path

PACKAGES = """
linux-doc-6.1 python3.11-doc python-django-doc python-scipy-doc python-sklearn-doc python-sympy-doc
python-astropy-doc python-statsmodels-doc python-pandas-doc postgresql-doc-15 perl-doc dict-gcide wordnet-base
git-doc gimp-help-en libreoffice-help-en-us debian-handbook rust-web-doc racket-doc erlang-doc gnucash-docs
octave-doc maxima-doc kicad-doc-en python-biopython-doc sagemath-doc openjdk-17-doc scala-doc ghc-doc sumo-doc
python-skimage-doc gnome-user-docs python-werkzeug-doc python-flask-doc python-requests-doc python-lxml-doc
cmake-doc bash-doc vim-doc nginx-doc apache2-doc zsh-doc tcl8.6-doc tk8.6-doc ruby3.1-doc nodejs-doc
golang-1.19-doc
""".split()
PER_FILE = 20
MIN_WORDS = 25  # a page shorter than this is navigation, not text
MIN_ENTRY_WORDS = 8  # a dictionary entry or a gloss may be short
ENGLISH = frozenset("the of and to in is a that for it as with be on are this by or an can from which not "
                    "you if use at when".split())
# ISO 639-1 codes of the languages documentation packages ship translations in
_LANGS = set("""af am ar as ast az be bg bn bo br bs ca cs cy da de dz el eo es et eu fa fi fr ga gd gl gu he hi
hr hu hy ia id is it ja ka kk km kn ko ku ky lo lt lv mk ml mn mr ms my nb ne nl nn oc or pa pl ps pt ro ru si sk
sl sq sr sv ta te tg th tr ug uk ur uz vi wa xh zh zu""".split())
_LANG_DIR = re.compile(r"^(?P<lang>[a-z]{2,3})(?:[_@.-][A-Za-z0-9]{2,8})*$")
_OK_LANG = {"en", "en_US", "en-US", "en_GB", "en-GB", "C"}
_SKIP_PARTS = {"_sources", "_static", "_images", "_downloads", "search", "genindex", "static", "js", "css"}
_SKIP_NAMES = re.compile(r"^(?:genindex.*|search|py-modindex|modindex|index-all|allclasses.*|overview-tree|"
                         r"deprecated-list|help-doc|constant-values|serialized-form)\.html?$")
_BLOCKS = {"p", "li", "dd", "dt", "pre", "blockquote", "td", "th", "caption", "figcaption", "h1", "h2", "h3",
           "h4", "h5", "h6", "div", "section", "article", "dl", "ul", "ol", "table", "tr"}
_DROP = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg", "button")
_SPACE = re.compile(r"\s+")


def english(text: str, min_words: int = MIN_WORDS) -> bool:
    words = text.lower().split()
    return len(words) >= min_words and sum(w in ENGLISH for w in words) >= 0.06 * len(words)


def fetch(cache: Path) -> Path:
    """Download and unpack the packages once; the unpacked tree."""
    debs, tree = cache / "debs", cache / "x"
    debs.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_")[0] for p in debs.glob("*.deb")}
    for pkg in PACKAGES:
        if pkg not in have:
            p = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True, text=True)
            if p.returncode:
                print(f"{pkg}: not available here ({p.stderr.strip()[-200:]}); skipped", file=sys.stderr)
    if not tree.is_dir():
        tmp = cache / "x.tmp"
        tmp.mkdir(exist_ok=True)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        tmp.rename(tree)
    return tree


def html_document(path: str) -> tuple[str, str] | None:
    """(title, Markdown text) of one HTML page: block elements in order, headings as '#'."""
    from lxml import etree, html

    try:
        root = html.parse(path).getroot()
    except (OSError, ValueError, etree.ParserError):
        return None
    if root is None:
        return None
    for bad in root.iter(*_DROP):
        bad.drop_tree() if bad.getparent() is not None else None
    for el in root.iter():
        cls = el.get("class") or ""
        if any(x in cls for x in ("sphinxsidebar", "related", "navigation", "breadcrumb", "footer", "toc")):
            if el.getparent() is not None:
                el.drop_tree()
    title = _SPACE.sub(" ", (root.findtext(".//title") or "")).strip()
    body = root.find(".//body")
    if body is None:
        return None
    out: list[str] = []
    for el in body.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag not in _BLOCKS or any(isinstance(c.tag, str) and c.tag in _BLOCKS for c in el.iterdescendants()):
            continue
        text = _SPACE.sub(" ", el.text_content()).strip()
        if not text:
            continue
        if tag[:1] == "h" and tag[1:].isdigit():
            out.append("#" * int(tag[1]) + " " + text.rstrip("¶#").strip())
        else:
            out.append(text)
    text = "\n\n".join(out)
    return (title or (out[0].lstrip("# ") if out else "")), text


def gcide_documents(tree: Path):
    raw = gzip.open(tree / "usr/share/dictd/gcide.dict.dz", "rt", encoding="utf-8", errors="replace").read()
    for entry in re.split(r"\n(?=[^\s\n][^\n]*\n\n)", raw):
        lines = entry.strip().split("\n", 1)
        if len(lines) < 2:
            continue
        head = lines[0].strip()
        body = re.sub(r"[{}]", "", lines[1])
        body = re.sub(r"\n\s+", " ", body).strip()
        yield f"Dictionary: {head}", f"# {head}\n\n{body}"


def wordnet_documents(tree: Path):
    for pos in ("noun", "verb", "adj", "adv"):
        for line in open(tree / f"usr/share/wordnet/data.{pos}", encoding="latin-1"):
            if line.startswith("  ") or "|" not in line:
                continue
            fields, gloss = line.split("|", 1)
            parts = fields.split()
            n = int(parts[3], 16)
            lemmas = [parts[4 + 2 * i].replace("_", " ") for i in range(n)]
            yield f"WordNet: {lemmas[0]} ({pos})", f"# {', '.join(lemmas)} ({pos})\n\n{gloss.strip()}"


def man_documents(tree: Path):
    for f in sorted((tree / "usr/share/man").rglob("*.gz")):
        if not re.match(r"man\d", f.parent.name):
            continue
        try:
            text = gzip.open(f, "rt", encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        out = []
        for line in text.split("\n"):
            if line.startswith(".SH") or line.startswith(".SS"):
                out.append("\n## " + line[3:].strip().strip('"').title() + "\n")
            elif line.startswith(".") or line.startswith("'\\\""):
                arg = line.split(" ", 1)[1] if " " in line else ""
                if line[:3] in (".B ", ".I ", ".BR", ".IR", ".RB", ".BI", ".IB"):
                    out.append(arg.replace('"', ""))
                elif line.startswith((".PP", ".LP", ".P", ".TP", ".IP")):
                    out.append("\n")
            else:
                out.append(line)
        body = re.sub(r"\\f[BIRP]|\\-|\\\(.{2}|\\&|\\e", "", " ".join(out))
        body = re.sub(r"[ \t]+", " ", body)
        yield f"Manual: {f.name.split('.')[0]}", f"# {f.name.split('.')[0]}\n\n{body.strip()}"


def pod_documents(tree: Path):
    for f in sorted(tree.rglob("*.pod")):
        text = f.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"^=head(\d)\s+(.*)$", lambda m: "#" * (int(m.group(1)) + 1) + " " + m.group(2), text, flags=re.M)
        text = re.sub(r"^=\w+.*$", "", text, flags=re.M)
        text = re.sub(r"[A-Z]<([^<>]*)>", r"\1", text)
        yield f"Perl: {f.stem}", f"# {f.stem}\n\n{text.strip()}"


def html_files(tree: Path) -> list[str]:
    out = []
    for f in tree.rglob("*.htm*"):
        rel = f.relative_to(tree).parts
        if any(p in _SKIP_PARTS for p in rel) or _SKIP_NAMES.match(f.name):
            continue
        if any((m := _LANG_DIR.match(p)) and m.group("lang") in _LANGS for p in rel[3:-1]):
            continue  # a translation
        out.append(str(f))
    return sorted(out)


def _html_job(path: str) -> tuple[str, str, str] | None:
    got = html_document(path)
    if got is None:
        return None
    return path, got[0], got[1]


def reshard(srcs: list[Path], out: Path, max_words: int) -> int:
    """Documents of an earlier output, in a seeded random order (every package mixed in), cut
    into files of PER_FILE documents, up to ``max_words`` words."""
    import random

    lines = [line for src in srcs for f in sorted(src.glob("*.jsonl"))
             for line in f.read_text(encoding="utf-8").splitlines()]
    lines = [json.dumps({**json.loads(line), "format": "markdown"}, ensure_ascii=False) for line in lines]
    random.Random(13).shuffle(lines)
    out.mkdir(parents=True, exist_ok=True)
    words = docs = files = 0
    vocab: set[str] = set()
    for i in range(0, len(lines), PER_FILE):
        chunk = lines[i : i + PER_FILE]
        (out / f"docs-{files:05d}.jsonl").write_text("\n".join(chunk) + "\n", encoding="utf-8")
        files += 1
        for line in chunk:
            text = json.loads(line)["text"]
            words += len(text.split())
            vocab.update(w.lower().strip(".,;:()[]\"'") for w in text.split())
        docs += len(chunk)
        if words >= max_words:
            break
    print(json.dumps({"documents": docs, "words": words, "files": files, "distinct_words": len(vocab)}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "grounded-bot-bench")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--max-words", type=int, default=10**9, help="stop at about this many words")
    ap.add_argument("--reshard", type=Path, nargs="+", help="re-cut earlier output folders instead of converting")
    ap.add_argument("--skip-html", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reshard is not None:
        return reshard(args.reshard, args.out, args.max_words)
    tree = fetch(args.cache)
    args.out.mkdir(parents=True, exist_ok=True)
    seen: set[bytes] = set()
    stats = {"documents": 0, "words": 0}
    vocab: set[str] = set()
    batch: list[str] = []
    n_files = 0

    def flush() -> None:
        nonlocal n_files
        if batch:
            (args.out / f"docs-{n_files:05d}.jsonl").write_text("".join(batch), encoding="utf-8")
            n_files += 1
            batch.clear()

    def add(doc_id: str, title: str, text: str, min_words: int = MIN_WORDS) -> None:
        if not english(text, min_words):
            return
        h = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()
        if h in seen:
            return
        seen.add(h)
        words = text.split()
        stats["documents"] += 1
        stats["words"] += len(words)
        vocab.update(w.lower().strip(".,;:()[]\"'") for w in words)
        batch.append(json.dumps({"_id": doc_id, "title": title[:200], "text": text, "format": "markdown"},
                                ensure_ascii=False) + "\n")
        if len(batch) >= PER_FILE:
            flush()

    files = [] if args.skip_html else html_files(tree)
    print(f"{len(files):,} HTML pages to read", file=sys.stderr)
    with multiprocessing.Pool(args.workers) as pool:
        for got in pool.imap(_html_job, files, chunksize=64):
            if got:
                path, title, text = got
                add(str(Path(path).relative_to(tree)), title, text)
    flush()
    for name, gen, least in (("gcide", gcide_documents, MIN_ENTRY_WORDS), ("wordnet", wordnet_documents,
                                                                         MIN_ENTRY_WORDS),
                             ("man", man_documents, MIN_WORDS), ("pod", pod_documents, MIN_WORDS)):
        for i, (title, text) in enumerate(gen(tree)):
            add(f"{name}/{i}", title, text, least)
        flush()
    print(json.dumps({**stats, "files": n_files, "distinct_words": len(vocab)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
