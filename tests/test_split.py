from bot.model import Document
from bot.sources.split import split_document, split_sentences


def test_abbreviations_do_not_end_sentences():
    text = "Models handle images, e.g. photos and drawings. They also write text, etc. Some make music."
    sents = [s.text for s in split_sentences(text)]
    assert sents == ["Models handle images, e.g. photos and drawings.", "They also write text, etc.",
                     "Some make music."]


def test_sentence_offsets_are_exact():
    text = "  First one. Second one?  Third!"
    for s in split_sentences(text, offset=100):
        assert text[s.start - 100 : s.end - 100] == s.text


def test_sections_bullets_and_offsets():
    md = ("# Title\n\nIntro text here.\n\n## Part A\n\nAlpha one. Alpha two.\n\n### Sub\n\n"
          "- first item\n- second item: with detail\n\n## Part B\n\nBeta.\n")
    doc = Document("d", "Title", "d.md", md)
    ps = split_document(doc)
    assert [p.headings for p in ps] == [(), ("Part A",), ("Part A", "Sub"), ("Part B",)]
    sub = ps[2]
    assert [s.text for s in sub.sentences] == ["first item", "second item: with detail"]
    assert all(s.bullet for s in sub.sentences)
    for p in ps:
        assert md[p.start : p.end] == p.text
        for s in p.sentences:
            assert md[s.start : s.end] == s.text


def test_long_sections_split_at_sentences_within_section():
    body = " ".join(f"Sentence number {i} has several words in it." for i in range(40))
    doc = Document("d", "T", "d.md", f"## Long\n\n{body}\n\n## Next\n\nShort.\n")
    ps = split_document(doc, max_words=50)
    long = [p for p in ps if p.headings == ("Long",)]
    assert len(long) > 3
    assert all(len(p.text.split()) <= 50 for p in long)
    assert long[0].section_first and not long[1].section_first
    assert ps[-1].headings == ("Next",)


def test_default_corpus_passages_keep_heading_paths(bot):
    titles = {p.title for p in bot.index.passages}
    assert "5 types of generative AI > 5. Variational Autoencoders (VAE)" in titles
    # page furniture is gone from the cleaned article
    text = bot.documents[0].text
    for furniture in ("By subscribing", "Learn how Infobip", "Read more about", "9 min read",
                      "Content Marketing Specialist"):
        assert furniture not in text
    assert "Gordan Ramsey" in text  # the author's words stay as written


def test_plain_text_headings_and_title(tmp_path):
    """A plain-text manual: its first line is its title, a short line alone or opening a paragraph
    heads what follows, and sentences never start with a heading."""
    from bot import ChatBot
    from bot.sources.readers import text_heading

    text = ("Kettle KX-200 user manual\n\nSafety\nNever immerse the base in water. Keep it dry.\n\n"
            "Cleaning\n\nDescale every four weeks.\n\nThe filter in the spout can be rinsed.\n")
    (tmp_path / "manual.txt").write_text(text, encoding="utf-8")

    bot = ChatBot.load(tmp_path)
    assert bot.documents[0].title == "Kettle KX-200 user manual"
    ps = bot.index.passages
    assert [p.headings for p in ps] == [("Safety",), ("Cleaning",)]
    assert [s.text for s in ps[0].sentences] == ["Never immerse the base in water.", "Keep it dry."]
    for p in ps:
        assert text[p.start : p.end] == p.text
    assert [text_heading(x) for x in ("Safety", "Using the kettle", "WARRANTY", "Keep it dry.", "- an item",
                                      "3. Fill the tank", "a lowercase line", "Q: how do I reset?")] == \
        [True, True, True, False, False, False, False, False]
    # a text file whose first line is a sentence keeps its file name as its title, and no headings
    (tmp_path / "manual.txt").write_text("Green tea is steamed soon after picking.\n\nBlack tea is oxidised.\n")
    bot = ChatBot.load(tmp_path)
    assert bot.documents[0].title == "manual" and all(p.headings == () for p in bot.index.passages)


FAQ = """Widget FAQ

Q: Why does the widget refuse to start with "bind failed: address in use"?

A: Another program holds the port. Stop it, or give the widget --port 8081.

Q: Can the widget run without a network?
   (asked often)

A: Yes. Start it with --offline; it then reads the local cache only.

Q: Where are the logs?

A: In /var/log/widget.log, rotated weekly.
"""


def test_a_plain_text_faq_entry_is_a_unit_headed_by_its_question():
    doc = Document("f", "Widget FAQ", "faq.txt", FAQ)
    ps = split_document(doc)
    assert [p.headings for p in ps] == [
        ('Why does the widget refuse to start with "bind failed: address in use"?',),
        ("Can the widget run without a network? (asked often)",),
        ("Where are the logs?",)]
    # the answer is the passage, its "A:" marker is not; offsets stay exact
    assert ps[0].text == "Another program holds the port. Stop it, or give the widget --port 8081."
    assert ps[1].sentences[0].text == "Yes."
    for p in ps:
        assert FAQ[p.start:p.end] == p.text


def test_unmarked_questions_head_entries_only_in_an_faq():
    faq = "\n\n".join(f"How do I do thing {i}?\n\nRun the tool with option {i}." for i in range(3)) + "\n"
    ps = split_document(Document("f", "T", "f.txt", faq))
    assert [p.headings for p in ps] == [(f"How do I do thing {i}?",) for i in range(3)]
    prose = ("Why does this matter?\n\nBecause plain text has few marks.\n\n"
             "The rest is prose. It goes on for a while.\n")
    ps = split_document(Document("p", "T", "p.txt", prose))
    assert all(p.headings == () for p in ps)  # one rhetorical question heads nothing
    assert "Why does this matter?" in ps[0].text


def test_a_documentation_unit_is_kept_whole_up_to_its_own_size():
    """Documentation (here plain text, an FAQ as shipped) is cut at ``documentation_words``; an
    article (Markdown) at ``max_words``: an FAQ answer of 140 words stays one passage."""
    answer = " ".join(f"Sentence {i} says one more thing about the widget drawer." for i in range(14))
    faq = Document("faq", "FAQ", "faq.txt", answer, metadata={"format": "text"})
    article = Document("a", "Article", "a.md", answer)
    assert len(split_document(faq, 120, documentation_words=160)) == 1
    assert len(split_document(faq, 120)) == 2  # without its own size, documentation is cut as before
    assert len(split_document(article, 120, documentation_words=160)) == 2


def test_an_faq_answer_in_its_questions_paragraph_is_kept():
    """ "Q: ...?" with "A: ..." on the next line (no blank line between) is one paragraph: the
    question heads the entry and the answer is its text; a "q:" inside an unmarked question is
    not a marker."""
    faq = ("Widget FAQ\n\nQ: How do I reset the widget?\nA: Hold the power button for ten seconds.\n\n"
           "Q: Where are the logs?\nA: In /var/log/widget.log.\n\nQ: What does IRQ: 5 mean on the display?\n"
           "The widget lost its interrupt line.\n")
    ps = split_document(Document("f", "Widget FAQ", "faq.txt", faq))
    assert [(p.headings, p.text) for p in ps] == [
        (("How do I reset the widget?",), "Hold the power button for ten seconds."),
        (("Where are the logs?",), "In /var/log/widget.log."),
        (("What does IRQ: 5 mean on the display?",), "The widget lost its interrupt line.")]
    unmarked = "\n\n".join(f"Why does IRQ: {i} show?\n\nThe line {i} is busy." for i in range(3)) + "\n"
    assert split_document(Document("u", "T", "u.txt", unmarked))[0].headings == ("Why does IRQ: 0 show?",)
