from bot.model import Document
from bot.split import split_document, split_sentences


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
