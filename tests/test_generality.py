"""The same behaviour on a corpus the engine has never seen (eval/second-corpus, written by the tests' authors)."""
from test_api import assert_grounded


def test_definition_with_mined_acronym(second_bot):
    r = second_bot.ask("What is TDS?")
    assert not r.abstained
    assert r.citations[0].title == "What is extraction?"
    assert "total dissolved solids" in r.answer
    assert_grounded(second_bot, r)


def test_list_from_section_tree(second_bot):
    r = second_bot.ask("What are the brewing methods?")
    assert [c.title.split(" > ")[-1] for c in r.citations] == ["1. Espresso", "2. French press", "3. Pour-over",
                                                               "4. Cold brew"]


def test_who_from_heading(second_bot):
    r = second_bot.ask("who makes the AeroPress?")
    assert "AeroPress by Aerobie" in r.answer and not r.abstained


def test_abstains_on_other_topics(second_bot):
    for q in ("What is the boiling point of water?", "What is a variational autoencoder?"):
        r = second_bot.ask(q)
        assert r.abstained and not r.citations and r.support == "none", q


def test_near_miss_shows_closest_passage_not_an_answer(second_bot):
    """The AeroPress is covered, its invention date is not: the closest passage, never an answer."""
    r = second_bot.ask("When was the AeroPress invented?")
    assert r.abstained and r.support == "closest"
    assert "do not say when" in r.answer and "not a confirmed answer" in r.answer
    assert "AeroPress" in r.citations[0].title
    assert_grounded(second_bot, r)


def test_plain_text_document_and_credit(second_bot):
    r = second_bot.ask("what is matcha")
    c = r.citations[0]
    assert c.source == "tea.txt" and c.title == "Notes on tea"
    assert c.quotes == ["Matcha is a powdered green tea whisked into hot water rather than steeped."]
    r = second_bot.ask("what is espresso")
    assert r.citations[0].author == "Test Author" and r.citations[0].published == "2021-05-04"


def test_smalltalk_topics_come_from_this_corpus(second_bot):
    r = second_bot.ask("hello")
    assert "brewing methods" in r.answer and "generative" not in r.answer


def test_a_long_form_wrapped_over_two_lines_is_found(second_bot):
    """The text wraps "The Specialty Coffee / Association (SCA)" over two lines."""
    r = second_bot.ask("What does SCA stand for?")
    assert r.answer.startswith("**SCA** stands for **Specialty Coffee Association**")
    assert_grounded(second_bot, r)


def test_a_section_that_is_a_list_is_listed(second_bot):
    """"Common brewing mistakes": the section "Common mistakes" of a guide to brewing is a list."""
    r = second_bot.ask("What are common brewing mistakes?")
    assert r.support == "answer" and len(r.citations[0].quotes) == 3
    assert all(f"- {q}" in r.answer for q in r.citations[0].quotes)


def test_what_does_it_taste_like(second_bot):
    """ "like" frames the question ("taste like", "look like"): it is not a word the text must use."""
    r = second_bot.ask("What does pour-over coffee taste like?")
    assert r.support == "answer" and "clean and bright cup" in r.citations[0].quotes[-1]
