"""One small document of each kind a user indexes, in the shapes real generators write them (a man
page rendered as text, Sphinx HTML, DocBook XSL XHTML with its XML declaration, an article page,
a PDF, BEIR JSON Lines), each with a question it answers and an edit that changes the answer.

``KINDS[name]`` is a ``Kind``: ``write(folder)`` writes the file(s) and gives the one to edit;
``question`` is answered by a sentence holding ``before``; ``edit`` replaces ``before`` with
``after`` in the file, so the same question is then answered with ``after``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mixed_corpus import make_pdf

MARKDOWN = """# Lantern guide

## Charging

The lantern battery charges fully in four hours from a USB port.

## Cleaning

Wipe the lantern lens with a dry cloth once a month.
"""

TEXT = """Greenhouse notes

The greenhouse vents open automatically when the air reaches 28 degrees.

Tomato seedlings are moved outside after the last frost in May.
"""

# groff's rendering (`man -P cat`): running header, indented bodies, option tags over descriptions
MAN = """FROB(1)                          User Commands                         FROB(1)

NAME
       frob - rotate log archives

SYNOPSIS
       frob [OPTION]... [FILE]...

DESCRIPTION
       Frob rotates log archives and compresses the rotated copies.

OPTIONS
       -k, --keep=COUNT
              Keep COUNT old archives before deleting the oldest one.

       -z, --compress
              Compress rotated archives with gzip.

       -q, --quiet
              Print nothing but errors.

SEE ALSO
       logrotate(8)

frob 1.2                           March 2024                          FROB(1)
"""

SPHINX = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="generator" content="Docutils 0.19: https://docutils.sourceforge.io/" />
    <title>Queue configuration &#8212; Quokka 2.1 documentation</title>
    <script src="_static/doctools.js"></script>
  </head><body>
    <div class="related" role="navigation" aria-label="related navigation">
      <ul><li><a href="index.html">Quokka 2.1 documentation</a> &#187;</li></ul>
    </div>
    <div class="document"><div class="documentwrapper"><div class="bodywrapper"><div class="body" role="main">
  <section id="queue-configuration">
<h1>Queue configuration<a class="headerlink" href="#queue-configuration" title="Permalink to this heading">&#182;</a></h1>
<p>Quokka reads its queue settings from <code class="docutils literal notranslate"><span class="pre">quokka.toml</span></code> at startup.</p>
<section id="retry-settings">
<h2>Retry settings<a class="headerlink" href="#retry-settings" title="Permalink to this heading">&#182;</a></h2>
<dl class="std option">
<dt class="sig sig-object std" id="cmdoption-max-retries">
<span class="sig-name descname"><span class="pre">max_retries</span></span></dt>
<dd><p>A failed job is retried at most five times before it is moved to the dead letter queue.</p>
</dd>
<dt class="sig sig-object std" id="cmdoption-backoff">
<span class="sig-name descname"><span class="pre">backoff</span></span></dt>
<dd><p>Seconds to wait between two tries of the same job.</p>
</dd>
</dl>
<div class="highlight-toml notranslate"><div class="highlight"><pre><span></span>[queue]
max_retries = 5
</pre></div></div>
</section>
</section>
    </div></div></div>
    <div class="sphinxsidebar" role="navigation"><h3>Table of Contents</h3><ul><li><a href="#">Queue configuration</a></li></ul></div>
    </div>
    <div class="footer">&#169; Copyright 2024, Quokka developers.</div>
  </body>
</html>
"""

# DocBook XSL's XHTML output: an XML declaration, the XHTML namespace, navheader/navfooter tables
DOCBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" /><title>Chapter 3. Snapshots</title><meta name="generator" content="DocBook XSL Stylesheets V1.79.2" /><link rel="home" href="index.html" title="Vault Guide" /></head><body><div class="navheader"><table width="100%" summary="Navigation header"><tr><th colspan="3" align="center">Chapter 3. Snapshots</th></tr><tr><td width="20%" align="left"><a accesskey="p" href="ch02.html">Prev</a> </td><th width="60%" align="center"> </th><td width="20%" align="right"> <a accesskey="n" href="ch04.html">Next</a></td></tr></table><hr /></div><div class="chapter"><div class="titlepage"><div><div><h1 class="title"><a id="snapshots"></a>Chapter 3. Snapshots</h1></div></div></div><p>A snapshot records the state of a vault volume at one moment.</p><div class="section"><div class="titlepage"><div><div><h2 class="title"><a id="snapshot-retention"></a>3.1. Snapshot retention</h2></div></div></div><p>Vault keeps each hourly snapshot for seven days unless it is pinned.</p><p>Pinned snapshots are never removed by the cleaner.</p></div></div><div class="navfooter"><hr /><table width="100%" summary="Navigation footer"><tr><td width="40%" align="left"><a accesskey="p" href="ch02.html">Prev</a> </td><td width="20%" align="center"> </td><td width="40%" align="right"> <a accesskey="n" href="ch04.html">Next</a></td></tr></table></div></body></html>
"""

ARTICLE = """<!doctype html><html><head><title>Bike commuting tips</title></head>
<body><nav><a href="/">Home</a> | <a href="/blog">Blog</a></nav>
<main><article><h1>Bike commuting tips</h1>
<p>Commuting by bike in winter needs some preparation. Studded tires keep the bike steady on icy roads during the coldest weeks.</p>
<p>A bright rear light makes the rider visible to drivers in the early dark of winter evenings.</p>
</article></main>
<footer>Copyright 2024 Example Blog. All rights reserved.</footer></body></html>
"""

PDF_PAGES = ["The pump manual covers installation and upkeep.",
             "Replace the pump filter every three months to keep the flow steady."]

JSONL_LINES = [
    {"_id": "k1", "title": "Parking permits", "text": "Parking permits are renewed online every January."},
    {"_id": "k2", "title": "Badge access", "text": "Lost badges are replaced at the front desk within one day."},
]


@dataclass(frozen=True)
class Kind:
    write: Callable[[Path], Path]  # writes the kind's file(s) under the folder; gives the file to edit
    question: str
    before: str  # in the sentence that answers, before the edit
    after: str  # the same sentence's words after the edit

    def edit(self, path: Path) -> None:
        if path.suffix == ".pdf":
            make_pdf(path, [p.replace(self.before, self.after) for p in PDF_PAGES])
            return
        text = path.read_text(encoding="utf-8")
        assert self.before in text
        path.write_text(text.replace(self.before, self.after), encoding="utf-8")


def _file(name: str, body: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body, encoding="utf-8")
        return folder / name
    return write


def _pdf(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    make_pdf(folder / "pump.pdf", PDF_PAGES)
    return folder / "pump.pdf"


def _jsonl(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kb.jsonl").write_text("".join(json.dumps(x) + "\n" for x in JSONL_LINES), encoding="utf-8")
    return folder / "kb.jsonl"


KINDS: dict[str, Kind] = {
    "markdown": Kind(_file("guide.md", MARKDOWN), "How long does the lantern battery take to charge?",
                     "four hours", "six hours"),
    "text": Kind(_file("greenhouse.txt", TEXT), "When do the greenhouse vents open?",
                 "28 degrees", "31 degrees"),
    "man": Kind(_file("frob.txt", MAN), "What does the --keep option do?",
                "Keep COUNT old archives before deleting the oldest one.",
                "Keep COUNT old archives before removing the oldest one."),
    "sphinx": Kind(_file("queue.html", SPHINX), "How many times is a failed job retried?",
                   "at most five times", "at most eight times"),
    "docbook": Kind(_file("ch03.html", DOCBOOK), "How long does vault keep each hourly snapshot?",
                    "seven days", "ten days"),
    "article": Kind(_file("bike.html", ARTICLE), "Which tires keep the bike steady on icy roads?",
                    "Studded tires", "Spiked tires"),
    "pdf": Kind(_pdf, "How often should the pump filter be replaced?", "every three months", "every two months"),
    "jsonl": Kind(_jsonl, "When are parking permits renewed?", "every January", "every March"),
}


def write_all(folder: Path) -> dict[str, Path]:
    """Every kind in one folder (the mixed case): kind -> its file."""
    return {name: kind.write(folder) for name, kind in KINDS.items()}
