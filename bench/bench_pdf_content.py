"""PDF text extraction on files whose pages hold far more content than text (issue 22, row 10).

    .venv/bin/python bench/bench_pdf_content.py [--pages 20] [--mb 1]

Builds three small PDFs with pypdf, each page drawing "Page text" and then ``--mb`` megabytes of
``0 0 m`` (a path operator pypdf parses, slowly, for nothing):

- shared:   every page's /Contents is the same stream (the 5.1 KB file of the issue)
- distinct: each page its own stream (the same content, no sharing to exploit)
- forms:    each page draws one form XObject holding that content 50 times

and times ``bot.sources.pdf.pdf_to_markdown`` (the product: per-page and per-document content
budgets, shared streams parsed once) against a plain pypdf loop (``extract_text`` on every page,
what the product did before), printing seconds, the pages whose text each kept, and the ratio.
The plain loop is skipped for "forms" unless ``--all`` (it parses 50 x pages x mb megabytes).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.sources.pdf import pdf_to_markdown  # noqa: E402
from bot.sources.readers import LoadReport  # noqa: E402

TEXT = b"BT /F1 12 Tf 72 712 Td (Page text) Tj ET\n"


def build(path: Path, kind: str, pages: int, mb: float) -> None:
    w = PdfWriter()
    junk = b"0 0 m\n" * int(mb * 1_000_000 / 6)
    font = w._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                           NameObject("/Subtype"): NameObject("/Type1"),
                                           NameObject("/BaseFont"): NameObject("/Helvetica")}))

    def stream(data: bytes, **extra) -> object:
        s = StreamObject()
        s.set_data(data)
        s = s.flate_encode()
        for k, v in extra.items():
            s[NameObject(k)] = v
        return w._add_object(s)

    fonts = DictionaryObject({NameObject("/F1"): font})
    shared = stream(TEXT + junk)
    for n in range(pages):
        page = w.add_blank_page(612, 792)
        resources = DictionaryObject({NameObject("/Font"): fonts})
        if kind == "shared":
            page[NameObject("/Contents")] = shared
        elif kind == "distinct":
            page[NameObject("/Contents")] = stream(TEXT + b"%% page %d\n" % n + junk)
        else:
            form = stream(junk + TEXT, **{"/Type": NameObject("/XObject"), "/Subtype": NameObject("/Form"),
                                          "/BBox": ArrayObject([NumberObject(0)] * 2 + [NumberObject(612),
                                                                                        NumberObject(792)]),
                                          "/Resources": DictionaryObject({NameObject("/Font"): fonts})})
            resources[NameObject("/XObject")] = DictionaryObject({NameObject("/Fm0"): form})
            page[NameObject("/Contents")] = stream(TEXT + b"/Fm0 Do\n" * 50)
        page[NameObject("/Resources")] = resources
    with path.open("wb") as f:
        w.write(f)


def plain(path: Path) -> int:
    return sum(1 for page in PdfReader(str(path)).pages if "Page text" in (page.extract_text() or ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--mb", type=float, default=1.0)
    ap.add_argument("--all", action="store_true", help="run the plain loop on the 'forms' file too")
    args = ap.parse_args()
    print(f"{'file':9} {'KB':>6} {'product s':>10} {'pages':>6} {'plain s':>8} {'pages':>6} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("shared", "distinct", "forms"):
            path = Path(tmp) / f"{kind}.pdf"
            build(path, kind, args.pages, args.mb)
            t = time.perf_counter()
            report = LoadReport()
            try:
                text, _ = pdf_to_markdown(path, report)
            except Exception as exc:  # noqa: BLE001 - a file left out entirely is a result too
                text = ""
                report.problems.append(str(exc))
            ours = time.perf_counter() - t
            kept = text.count("## Page ")
            if kind != "forms" or args.all:
                t = time.perf_counter()
                theirs_kept = plain(path)
                theirs = time.perf_counter() - t
                cols = f"{theirs:8.2f} {theirs_kept:6d} {theirs / ours:6.1f}"
            else:
                cols = f"{'-':>8} {'-':>6} {'-':>6}"
            print(f"{kind:9} {path.stat().st_size / 1024:6.1f} {ours:10.2f} {kept:6d} {cols}")
            for p in report.problems:
                print(f"          {p.split(': ', 1)[1]}")


if __name__ == "__main__":
    main()
