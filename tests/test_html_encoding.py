"""HTML read from its bytes as a browser reads it: the byte-order mark, the XML declaration or the
<meta> charset, else UTF-8 with stray bytes as windows-1252; XHTML with an XML declaration (what
DocBook XSL writes) is read as documentation, not handed to the article extractor."""
from __future__ import annotations

import pytest

from bot import ChatBot
from bot.serve.attachments import ATTACHED, Attachments, sniff
from bot.sources.ingest import read_file
from bot.sources.readers import LoadReport, decode_html, html_encoding
from bot.sources.structure import CODE, HEADING, KEY, decode, units

# The shape DocBook XSL gives a chapter (Debian's release notes, PostgreSQL's manual).
DOCBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>Chapter 4. Upgrading the gizmo</title><meta name="generator" content="DocBook XSL Stylesheets Vsnapshot" /></head>
<body><div class="navheader"><table width="100%" summary="Navigation header"><tr><th colspan="3">Chapter 4. Upgrading</th></tr>
<tr><td><a accesskey="p" href="ch03.html">Prev</a></td><td><a accesskey="n" href="ch05.html">Next</a></td></tr></table><hr /></div>
<div class="chapter"><div class="titlepage"><div><div><h1 class="title"><a id="ch-upgrading"></a>Chapter 4. Upgrading the gizmo</h1></div></div></div>
<div class="toc"><p><strong>Table of Contents</strong></p><dl class="toc"><dt><span class="section"><a href="#backup">4.1. Back up the gizmo</a></span></dt></dl></div>
<div class="section"><div class="titlepage"><div><div><h2 class="title" style="clear: both"><a id="backup"></a>4.1. Back up the gizmo</h2></div></div></div>
<p>Copy the settings folder of the gizmo to a safe place before the upgrade; a failed upgrade
cannot be undone otherwise.<sup>[<a id="id-1.5" href="#ftn.id-1.5" class="footnote">5</a>]</sup> The café
mode keeps its own copy.</p>
<div class="section"><div class="titlepage"><div><div><h3 class="title"><a id="check"></a>4.1.1. Check the release</h3></div></div></div>
<p>Run <code class="literal">gizmo_release</code> to see which release is installed:</p>
<pre class="screen">
# gizmo_release -a
# gizmo-get full-upgrade
</pre>
<div class="variablelist"><dl class="variablelist"><dt><span class="term"><code class="literal">gizmo_release</code></span></dt>
<dd><p>Prints the release of the gizmo and its <span class="emphasis"><em>code name</em></span>.</p></dd>
<dt><span class="term"><span class="command"><strong>gizmo-get full-upgrade</strong></span></span></dt>
<dd><p>Upgrades every part of the gizmo at once.</p></dd></dl></div>
</div></div>
<div class="footnotes"><br /><hr /><div id="ftn.id-1.5" class="footnote"><p><sup>[<a href="#id-1.5" class="para">5</a>] </sup>
The folder is named after the gizmo.</p></div></div></div>
<div class="navfooter"><hr /><table width="100%" summary="Navigation footer"><tr><td><a href="ch03.html">Prev</a></td></tr></table></div>
</body></html>
"""
MARKUP = ("<sup", "</", "\\_", "\\[", "\\*", "**", "[5]")


def _read(tmp_path, name: str, data: bytes):
    (tmp_path / name).write_bytes(data)
    (doc,) = read_file(tmp_path / name, name, LoadReport())
    return doc


def _units(doc):
    return [(u.kind, u.headings, doc.text[u.start:u.end])
            for u in units(doc.text, decode(doc.metadata["_blocks"], len(doc.text)))]


def test_xhtml_with_an_xml_declaration_is_read_as_documentation(tmp_path):
    doc = _read(tmp_path, "upgrading.html", DOCBOOK.encode("utf-8"))
    assert doc.metadata["format"] == "structured"  # not the article extractor's Markdown
    assert doc.title == "Chapter 4. Upgrading the gizmo"
    got = _units(doc)
    heads = {h for _, h, _ in got}
    assert ("4.1. Back up the gizmo",) in heads and ("4.1. Back up the gizmo", "4.1.1. Check the release") in heads
    assert (CODE, ("4.1. Back up the gizmo", "4.1.1. Check the release"),
            "# gizmo_release -a\n# gizmo-get full-upgrade") in got
    keys = [h[-1] for _, h, _ in got if len(h) == 3]
    assert "gizmo_release" in keys and "gizmo-get full-upgrade" in keys  # definition terms head their entries
    assert "The café mode keeps its own copy." in doc.text  # UTF-8 read as UTF-8
    assert "Run gizmo_release to see which release is installed:" in doc.text  # inline code kept verbatim
    for mark in MARKUP:
        assert mark not in doc.text, mark
    assert "Prev" not in doc.text and "Table of Contents" not in doc.text


def test_the_documentation_answers_from_the_xhtml_page(tmp_path):
    (tmp_path / "upgrading.html").write_bytes(DOCBOOK.encode("utf-8"))
    bot = ChatBot.load(tmp_path)
    reply = bot.ask("what does gizmo_release print?")
    assert reply.support == "answer", reply.answer
    assert any("Prints the release of the gizmo" in q for c in reply.citations for q in c.quotes)
    for c in reply.citations:
        for q in c.quotes:
            assert not any(mark in q for mark in MARKUP), q


LATIN = ("<html><head>{meta}<title>Recettes</title></head><body><h1>Recettes</h1><h2>Le café</h2>"
         "<p>Le café se sert très chaud, sans crème.</p><h2>Le thé</h2><p>Le thé infuse trois minutes.</p>"
         "<h2>Les crêpes</h2><p>Les crêpes se mangent à la chandeleur.</p></body></html>")


@pytest.mark.parametrize("meta", ['<meta charset="iso-8859-1">',
                                  '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
                                  "<meta charset=windows-1252>"])
def test_a_latin1_page_is_decoded_by_its_meta_charset(tmp_path, meta):
    doc = _read(tmp_path, "recettes.html", LATIN.format(meta=meta).encode("latin-1"))
    assert "Le café se sert très chaud, sans crème." in doc.text
    assert "\ufffd" not in doc.text and "Ã" not in doc.text


def test_a_page_without_a_declaration_is_utf8_with_stray_bytes_as_windows_1252():
    assert decode_html("<p>café</p>".encode("utf-8")) == "<p>café</p>"
    assert decode_html(b"<p>caf\xe9 \x93quoted\x94 \x81</p>") == "<p>café “quoted” \x81</p>"
    assert decode_html("<p>déjà</p>".encode("utf-8") + b" <p>caf\xe9</p>") == "<p>déjà</p> <p>café</p>"


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf" + LATIN.format(meta="").encode("utf-8"),
                                  LATIN.format(meta="").encode("utf-16"),  # with its byte-order mark
                                  LATIN.format(meta="").encode("utf-16-be").join([b"\xfe\xff", b""]),
                                  # the mark wins over a declaration that contradicts it
                                  b"\xef\xbb\xbf" + LATIN.format(meta='<meta charset="iso-8859-1">').encode("utf-8")])
def test_a_byte_order_mark_says_the_encoding(tmp_path, data):
    doc = _read(tmp_path, "recettes.html", data)
    assert "Le café se sert très chaud, sans crème." in doc.text and "\ufeff" not in doc.text


def test_what_a_page_declares():
    assert html_encoding(b'<?xml version="1.0" encoding="ISO-8859-15"?><html>') == "iso8859-15"
    assert html_encoding(b"<!-- <meta charset=koi8-r> --><meta charset=shift_jis>") == "shift_jis"
    assert html_encoding(b'<meta charset="hex">') is None  # a Python codec, not a text encoding
    assert html_encoding(b'<meta charset="utf-7">') is None
    assert html_encoding(b'<meta charset="utf-16">') == "utf-8"  # as browsers read it
    assert html_encoding(b"<html><p>nothing declared</p>") is None
    assert html_encoding('<?xml version="1.0"?><html>'.encode("utf-16-le")) == "utf-16-le"


def test_an_attached_latin1_page_is_read_the_same_way(tmp_path):
    data = LATIN.format(meta='<meta charset="iso-8859-1">').encode("latin-1")
    assert sniff(data, "recettes.html") == "html"  # not refused as "not UTF-8"
    corpus = ChatBot.load()
    store = Attachments(corpus, root=tmp_path / "attached")
    try:
        cid = store.create()
        store.add(cid, "recettes.html", data)
        reply = store.ask(cid, corpus, "Comment se sert le café?")
        cited = [c for c in reply.citations if c.source.startswith(ATTACHED)]
        assert cited and "Le café se sert très chaud, sans crème." in cited[0].passage
        xhtml = store.add(cid, "upgrading.xhtml.html", DOCBOOK.encode("utf-8"))
        assert xhtml["type"] == "html"
        reply = store.ask(cid, corpus, "what does gizmo_release print?")
        assert any("Prints the release of the gizmo" in q for c in reply.citations for q in c.quotes), reply.answer
    finally:
        store.close()


def test_headings_of_the_xhtml_page_are_headings(tmp_path):
    doc = _read(tmp_path, "upgrading.html", DOCBOOK.encode("utf-8"))
    blocks = decode(doc.metadata["_blocks"], len(doc.text))
    assert [doc.text[b.start:b.end] for b in blocks if b.kind == HEADING] == [
        "Chapter 4. Upgrading the gizmo", "4.1. Back up the gizmo", "4.1.1. Check the release"]
    assert sum(1 for b in blocks if b.kind == KEY) == 2


@pytest.mark.parametrize("page", [
    '<html><head><title>Pumps</title><meta name="generator" content="Sphinx"></head><body><h1>Pumps</h1>'
    '<p>The pump runs quietly.</p></body></html>\n<p>The pump filter is washed monthly.</p>\n',
    '<html><head><title>Pumps</title></head><body><h1>Pumps</h1><p>The pump runs quietly in the night, as the '
    'manual says at length in its first chapter.</p></BODY></HTML >\n<p>The pump filter is washed monthly, '
    'as the second chapter says.</p>\n',
])
def test_text_after_the_end_of_a_page_is_read_as_a_browser_shows_it(tmp_path, page):
    """A paragraph after ``</html>`` (a footer pasted on, a fragment appended) is part of the
    page in a browser; lxml's parser dropped it, a documentation page's and an article's alike."""
    f = tmp_path / "pumps.html"
    f.write_text(page, encoding="utf-8")
    docs = read_file(f, tmp_path, LoadReport())
    assert len(docs) == 1 and "The pump runs quietly" in docs[0].text and "washed monthly" in docs[0].text
