"""Readers of documentation: man pages rendered as text and documentation HTML, read as their units."""
import textwrap


from bot import ChatBot
from bot.sources.htmldoc import is_documentation, read_html_doc
from bot.sources.ingest import read_file
from bot.sources.manpage import looks_like_man, read_man
from bot.sources.readers import LoadReport
from bot.sources.structure import CODE, HEADING, ITEM, KEY, ROW, Builder, decode, units
from bot.sources.split import split_document

MAN = textwrap.dedent("""\
    WIDGET(1)                     User Commands                    WIDGET(1)

    NAME
           widget - list and tidy the widgets of a workshop

    SYNOPSIS
           widget [OPTION]... [FILE]...

    DESCRIPTION
           widget lists the widgets found in each FILE and can tidy them into
           drawers.  With no FILE, the current workshop is read.

    OPTIONS
       Listing
           -a, --all
                  Do not ignore widgets whose names start with a dot; hidden
                  widgets are listed as well.

           --sort=KEY
                  Sort the list by KEY instead of by name.  To sort by weight,
                  use this command:

                      widget --sort=weight drawers/

                  The heaviest widget comes last.

       Tidying
           --drawer=DIR
                  Put every widget into DIR after listing it.

    EXIT STATUS
           0      All widgets were listed.

           2      A FILE could not be read, or it held a broken
                  widget.

    SEE ALSO
           gadget(1)

    widget 2.4                       March 2024                        WIDGET(1)
    """)


def _units(text: str, flat):
    blocks = decode(flat, len(text))
    return [(u.kind, u.headings, text[u.start:u.end]) for u in units(text, blocks)]


def test_a_man_page_is_read_as_sections_option_entries_examples_and_rows():
    assert looks_like_man(MAN) and not looks_like_man("Widgets\n\nA plain note about widgets.\n")
    text, flat, title = read_man(MAN)
    assert title == "widget - list and tidy the widgets of a workshop"
    got = _units(text, flat)
    # the option entry is a unit keyed by its option names, its wrapped lines joined
    assert (0 + 2, ("OPTIONS", "Listing", "-a, --all"),
            "Do not ignore widgets whose names start with a dot; hidden widgets are listed as well.") in got
    # the example below a lead-in is code, kept as written; the sentence after it stays prose
    sort = [u for u in got if u[1][-1:] == ("--sort=KEY",)]
    assert [k for k, _, _ in sort] == [2, CODE, 2]
    assert sort[0][2].endswith("use this command:") and sort[1][2] == "widget --sort=weight drawers/"
    assert ("OPTIONS", "Tidying", "--drawer=DIR") in [h for _, h, _ in got]
    # exit codes are table rows, a wrapped description joined to its row
    rows = [t for k, h, t in got if k == ROW]
    assert rows == ["0 All widgets were listed.", "2 A FILE could not be read, or it held a broken widget."]
    # the running header and footer are gone, and no hard wrapping or indentation is left in prose
    assert "WIDGET(1)" not in text and "March 2024" not in text
    assert all("\n" not in t and "  " not in t for k, _, t in got if k != CODE)


SUBCOMMANDS_MAN = textwrap.dedent("""\
    GIZMO(8)                          GIZMO                          GIZMO(8)

    NAME
           gizmo - manage gizmo pools

    SUBCOMMAND
           grow [options] <path>
                  Grow the pool to fill its device.

                  NOTE:
                     Growing never touches the partition table.

                  -q|--quiet
                         Print nothing.

           sync [options] [<poolid>...]
           <path>
                  Wait until deleted pools are cleaned up.

    MOUNT OPTIONS
           clear_cache
                  Rebuild the free space cache.

           commit=<seconds>
                  (default: 30)

                  Set the interval of periodic commits.

           compress, compress=<type[:level]>, compress-force,
           compress-force=<type[:level]>
                  Control data compression.

    gizmo 1.0                          May 2024                       GIZMO(8)
    """)


def test_man_page_subcommands_and_mount_options_are_keys_and_a_note_is_not():
    """A subcommand with its arguments and a lower-case key with its syntax ("commit=<seconds>")
    are keys like "--all"; an admonition's label ("NOTE:") stays in the unit it sits in."""
    text, flat, _ = read_man(SUBCOMMANDS_MAN)
    got = _units(text, flat)
    heads = {h for _, h, _ in got}
    assert ("SUBCOMMAND", "grow [options] <path>", "-q|--quiet") in heads
    assert ("SUBCOMMAND", "sync [options] [<poolid>...] <path>") in heads  # its arguments wrapped
    assert ("MOUNT OPTIONS", "commit=<seconds>") in heads
    compress = ("MOUNT OPTIONS", "compress, compress=<type[:level]>, compress-force, compress-force=<type[:level]>")
    assert (KEY, compress, "Control data compression.") in [(KEY, h, t) for _, h, t in got]
    assert not any(h[-1].endswith(":") for h in heads if h)
    note = [t for _, h, t in got if h == ("SUBCOMMAND", "grow [options] <path>")]
    assert "NOTE: Growing never touches the partition table." in note  # prose under its key, not code
    assert all(k != CODE for k, _, _ in got)


def test_a_man_page_answers_with_the_option_it_documents(tmp_path):
    (tmp_path / "widget.txt").write_text(MAN)
    (tmp_path / "notes.md").write_text("# Notes\n\nThe workshop opens at nine.\n")
    bot = ChatBot.load(tmp_path)
    hit = bot.search("list hidden widgets too", 1)[0]
    assert hit["title"] == "OPTIONS > Listing > -a, --all"
    reply = bot.ask("how do I list hidden widgets too?")
    assert reply.support in ("answer", "closest") and reply.citations[0].title == "OPTIONS > Listing > -a, --all"
    assert "--all" in reply.answer.replace("\\", "")  # the unit's key labels its quote
    doc = next(d for d in bot.documents if d.source == "widget.txt")
    for c in reply.citations:
        for q in c.quotes:
            assert q in c.passage and q in doc.text  # verbatim, no markup
    code = bot.ask("how do I sort widgets by weight?")
    assert "widget --sort=weight drawers/" in code.answer  # the command after its lead-in
    assert "`widget --sort=weight drawers/`" in code.answer  # shown as code


DOC_HTML = """<!DOCTYPE html><html><head><title>Widget FAQ &#8212; Widget 2.4 documentation</title>
<meta name="generator" content="Docutils 0.19: https://docutils.sourceforge.io/" /></head><body>
<div class="related" role="navigation"><ul><li><a href="index.html">index</a></li><li>modules |</li></ul></div>
<div class="sphinxsidebar" role="navigation"><h3>Navigation</h3><p>Quick search</p></div>
<div class="body" role="main">
<section id="widget-faq"><h1>Widget FAQ<a class="headerlink" href="#widget-faq">¶</a></h1>
<ul><li><a href="#how-do-i-oil">How do I oil a widget?</a></li><li><a href="#sizes">Sizes</a></li>
<li><a href="#terms">Terms</a></li></ul>
<section id="how-do-i-oil"><h2>How do I oil a widget?<a class="headerlink" href="#how-do-i-oil">¶</a></h2>
<p>Oil a widget once a month<sup>1</sup> with the <code>widget-oil</code> tool. Run:</p>
<div class="highlight"><pre><span class="gp">$ </span>widget-oil --drops=3 hinge.cfg
</pre></div>
<p>See also <a href="care.html">Widget care</a>.</p>
</section>
<section id="sizes"><h2>Sizes<a class="headerlink" href="#sizes">¶</a></h2>
<table><thead><tr><th>Size</th><th>Weight</th></tr></thead>
<tbody><tr><td>small</td><td>2 kg</td></tr><tr><td>large</td><td>9 kg</td></tr></tbody></table>
</section>
<section id="terms"><h2>Terms<a class="headerlink" href="#terms">¶</a></h2>
<dl><dt>sprocket</dt><dd><p>The toothed wheel that drives a widget.</p></dd>
<dt>hinge</dt><dd><p>The joint a widget folds on.</p></dd></dl>
<p><b>Can widgets get wet?</b></p>
<blockquote><p>Only the sealed models: rain rusts the others within a week.</p></blockquote>
</section></section></div>
<div class="footer">&#169; Copyright 2024, Widget Corp.</div></body></html>"""


def test_documentation_html_is_read_as_its_units_without_page_furniture():
    text, flat, title = read_html_doc(DOC_HTML)
    assert title == "Widget FAQ"
    got = _units(text, flat)
    for junk in ("¶", "Navigation", "Quick search", "index", "Copyright", "See also", "How do I oil a widget?\n"):
        assert junk not in [t for _, _, t in got] and (junk != "¶" or junk not in text)
    assert ("How do I oil a widget?",) in [h for _, h, _ in got]
    oil = [(k, t) for k, h, t in got if h == ("How do I oil a widget?",)]
    # the footnote marker is dropped; the code block is kept verbatim, as code
    assert oil[0] == (2, "Oil a widget once a month with the widget-oil tool. Run:")
    assert oil[1] == (CODE, "$ widget-oil --drops=3 hinge.cfg")
    rows = [t for k, _, t in got if k == ROW]
    assert rows == ["Size | Weight", "small | 2 kg", "large | 9 kg"]
    assert (2, ("Terms", "sprocket"), "The toothed wheel that drives a widget.") in got  # a term heads its definition
    assert ("Terms", "Can widgets get wet?") in [h for _, h, _ in got]  # a bold-only paragraph is a question
    assert "<" not in text and "`" not in text and "\\" not in text


def test_documentation_html_answers_with_the_command_after_its_lead_in(tmp_path):
    (tmp_path / "faq.html").write_text(DOC_HTML)
    (tmp_path / "other.html").write_text(DOC_HTML.replace("Widget FAQ", "Gadget FAQ").replace("widget", "gadget"))
    bot = ChatBot.load(tmp_path)
    doc = next(d for d in bot.documents if d.source == "faq.html")
    assert doc.metadata["format"] == "structured" and "published" not in doc.metadata  # no copyright-year date
    reply = bot.ask("how do i oil my widget")
    assert reply.citations and reply.citations[0].title == "How do I oil a widget?"
    assert "widget-oil --drops=3 hinge.cfg" in reply.answer
    for c in reply.citations:
        for q in c.quotes:
            assert q in c.passage and q in doc.text or q in next(d.text for d in bot.documents if d.source == c.source)


def test_an_article_page_still_goes_to_the_article_extractor(tmp_path):
    page = ("<html><head><title>Our trip</title></head><body><nav><a href='/'>Home</a></nav><article>"
            "<h1>Our trip to the coast</h1><p>We drove to the coast in May and stayed for a week.</p>"
            "<p>The weather was kind to us every day.</p></article></body></html>")
    import lxml.html

    assert not is_documentation(lxml.html.document_fromstring(page))
    (tmp_path / "trip.html").write_text(page)
    (doc,) = read_file(tmp_path / "trip.html", "trip.html", LoadReport())
    assert doc.metadata["format"] == "markdown"  # the article decision model, its text read as Markdown
    assert "We drove to the coast in May and stayed for a week." in doc.text and "#" not in doc.text


def test_blocks_that_do_not_fit_the_text_are_ignored():
    b = Builder()
    b.add(HEADING, "Title", 1)
    b.add(KEY, "term", 2)
    b.add(ITEM, "one item")
    text, flat = b.build()
    assert [u.headings for u in units(text, decode(flat, len(text)))] == [("term",)]
    assert decode(flat, 3) == [] and decode([1, 2, 3], len(text)) == [] and decode("junk", 10) == []


def test_a_structured_document_splits_into_its_units_with_offsets(tmp_path):
    (tmp_path / "widget.txt").write_text(MAN)
    (doc,) = read_file(tmp_path / "widget.txt", "widget.txt", LoadReport())
    passages = split_document(doc)
    assert {p.headings for p in passages} >= {("OPTIONS", "Listing", "-a, --all"), ("EXIT STATUS",)}
    for p in passages:
        assert doc.text[p.start:p.end] == p.text
        for s in p.sentences:
            assert doc.text[s.start:s.end] == s.text
    code = [s for p in passages for s in p.sentences if s.text.startswith("widget --sort")]
    assert code and code[0].bullet  # a code block is one unit, never cut into sentences


def test_content_wrapped_in_an_element_with_a_furniture_class_is_kept():
    """A Sphinx theme (BorgBackup's guzzle theme) wraps the whole page in
    ``<div class="document clearer body">``: "clearer" names a float-clearing div elsewhere, but an
    element holding most of the page's words is the page, not furniture. A small sidebar with
    the same kind of class is still dropped."""
    from bot.sources.htmldoc import read_html_doc

    body = " ".join(f"Pruning keeps archive number {i} when the rule matches." for i in range(30))
    html = ("<html><head><meta name='generator' content='Docutils 0.19'><title>borg prune</title></head><body>"
            "<div class='related' role='navigation'><a href='a.html'>borg delete</a></div>"
            "<div class='sphinxsidebar'><h3>Navigation</h3><ul><li>Installation</li></ul></div>"
            "<div class='document clearer body'><section><h1>borg prune</h1>"
            f"<pre>borg prune --keep-daily 7 REPO</pre><p>{body}</p>"
            "<section><h2>Examples</h2><p>Keep seven daily archives.</p></section></section></div>"
            "</body></html>")
    text, blocks, title = read_html_doc(html)
    assert "borg prune --keep-daily 7 REPO" in text and "archive number 29" in text
    assert "Keep seven daily archives." in text
    assert "Navigation" not in text and "Installation" not in text and "borg delete" not in text


def test_stored_blocks_are_checked_as_one_check_of_each_block_would():
    """A document's stored blocks are checked column by column (a large document has hundreds of
    thousands): the same lists pass and the same damaged ones give no blocks as a check of each
    block in turn, with wrong types, kinds, overlaps, empty blocks and offsets past the text."""
    import random
    from array import array

    from bot.sources import structure

    def one_by_one(flat, text_length):  # the check as it was written first
        flat = structure.unpack(flat, 4 * text_length)
        if flat is None or len(flat) % 4:
            return None
        last = 0
        for i in range(0, len(flat), 4):
            kind, level, start, end = flat[i], flat[i + 1], flat[i + 2], flat[i + 3]
            if not (type(kind) is int and type(level) is int and type(start) is int and type(end) is int) or not (
                    0 <= kind < len(structure.KIND_NAMES) and last <= start < end <= text_length):
                return None
            last = end
        return list(flat)

    rng = random.Random(3)
    passed = failed = 0
    for _ in range(3000):
        flat, at = [], 0
        for _ in range(rng.randint(0, 12)):
            a = at + rng.randint(0, 3)
            b = a + rng.randint(1, 9)
            flat += [rng.randrange(len(structure.KIND_NAMES)), rng.randint(0, 4), a, b]
            at = b
        text_length = at + rng.randint(0, 3)
        if flat and rng.random() < 0.6:  # damage one value
            i = rng.randrange(len(flat))
            flat[i] = rng.choice([-1, 0, 2**70, len(structure.KIND_NAMES), True, 2.0, "3", None, flat[i] + 5,
                                  flat[i] - 5, text_length + 1])
        if rng.random() < 0.1:
            flat = flat[:-1]
        for value in (flat, structure.pack(flat) if flat and all(type(x) is int and 0 <= x < 2**32 for x in flat) else flat):
            want = one_by_one(value, text_length)
            got = structure.decode(value, text_length)
            assert (list(got.flat) if hasattr(got, "flat") else None) == want or (want == [] and list(got) == []), (flat, text_length)
            passed += want is not None
            failed += want is None
    assert passed > 1000 and failed > 1000
    assert list(structure.decode(array("I", [2, 0, 0, 4]), 4).flat) == [2, 0, 0, 4]
