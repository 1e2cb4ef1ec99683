"""Questions as people type them (issue: answer the questions people actually ask), on the
article and on corpora the tests write: typos, accents, markup, number words, questions about the
sources, acronyms to expand, relative times, prices and requests."""
import pytest

from bot import ChatBot
from test_api import assert_grounded


@pytest.mark.parametrize("q,title", [
    ("wat is a vae", "Variational Autoencoders (VAE)"),
    ("whats a generative adversarial netwrok", "Generative adversarial networks (GAN)"),
    ("<b>what</b> is a <script>x()</script> VAE", "Variational Autoencoders (VAE)"),
])
def test_typos_and_markup(bot, q, title):
    r = bot.ask(q)
    assert r.support == "answer", r.answer
    assert title in r.citations[0].title
    assert "script" not in r.answer
    assert_grounded(bot, r)


def test_number_words_match_digits(bot):
    r = bot.ask("What are the five types of generative AI?")
    assert r.support == "answer" and len(r.citations) == 5
    assert "5 types of generative AI" in r.answer


def test_questions_about_the_sources(bot):
    r = bot.ask("Who wrote this article?")
    assert r.support == "answer" and "Monika Karlović" in r.answer and r.citations
    assert r.citations[0].source == "llm-vs-genai.md"
    assert "2024-03-28" in bot.ask("When was it published?").answer
    r = bot.ask("Which documents do you have?")
    assert "Understanding large language models vs. generative AI" in r.answer
    assert_grounded(bot, r)


def test_what_does_it_stand_for_quotes_the_long_form(bot):
    r = bot.ask("What does NeRF stand for?")
    assert r.support == "answer"
    assert r.answer.startswith("**NeRF** stands for **Neural radiance fields**")
    assert "Neural radiance fields (NeRF)" in r.citations[0].title
    assert_grounded(bot, r)
    assert bot.ask("what does XYZ stand for?").support == "none"


def test_same_mechanisms_on_the_second_corpus(second_bot):
    r = second_bot.ask("What does TDS stand for?")
    assert r.support == "answer" and "total dissolved solids" in r.answer
    r = second_bot.ask("who is the author?")
    assert "Test Author" in r.answer
    r = second_bot.ask("What is the price of a French press?")
    assert r.support != "answer" and "do not say what it costs" in r.answer


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    root = tmp_path_factory.mktemp("manual")
    (root / "heater.md").write_text(
        "# Heater manual\n\n## Safety\n\nThe heater shuts off after ninety minutes. "
        "Invoices are due within thirty days. The filter is cleaned twice a week.\n\n"
        "## Credits\n\nThe heater was designed by Hervé Lemaître in Lyon.\n", encoding="utf-8")
    return ChatBot.load(root)


@pytest.mark.parametrize("q,quote", [
    ("When does the heater shut off?", "after ninety minutes"),
    ("When are invoices due?", "within thirty days"),
    ("how often is the filter cleaned?", "twice a week"),
])
def test_relative_times_answer_when_questions(manual, q, quote):
    r = manual.ask(q)
    assert r.support == "answer", r.answer
    assert quote in r.citations[0].quotes[0]


def test_accents_are_folded(manual):
    r = manual.ask("Who designed the heater? Was it Herve Lemaitre?")
    assert any("Hervé" in q for c in r.citations for q in c.quotes)
    assert manual.ask("who is herve lemaitre").citations


def test_a_request_to_produce_something_is_not_answered(bot, manual):
    for b, q in ((bot, "Give me a recipe for shepherd's pie"), (manual, "Write me a poem about the heater")):
        r = b.ask(q)
        assert r.support != "answer"
    assert bot.ask("Give me some examples of LLMs").support == "answer"  # asks for what the sources hold


def test_abstention_does_not_call_a_paraphrased_word_missing(bot):
    """ "photos" is said as "images" in the NeRF passage: the reply names what is really missing."""
    r = bot.ask("Which model can build a 3D model from 2D photos?")
    assert r.support in ("answer", "closest") and "NeRF" in r.citations[0].title
    assert "not *photos*" not in r.answer and "*photos*" in r.answer.split("but not")[0]


def test_request_reply_says_why(bot):
    r = bot.ask("Give me a recipe for shepherd's pie")
    assert r.answer.startswith("I can only quote the sources, not write or make something new")


def test_colour_questions_need_a_colour(tmp_path):
    (tmp_path / "a.md").write_text("# Widgets\n\n## Look\n\nWidgets are blue. They weigh two kilograms.\n\n"
                                   "## Care\n\nClean widgets with warm water.\n")
    bot = ChatBot.load(tmp_path)
    r = bot.ask("what colour are widgets?")
    assert r.support == "answer" and r.citations[0].quotes[0] == "Widgets are blue."
    r = bot.ask("What colour is the water?")
    assert r.support != "answer" and "do not say what colour" in r.answer


@pytest.mark.parametrize("q,meta", [
    ("What is this about?", "about"), ("what's it all about", "about"), ("what are these documents about?", "about"),
    ("what is the main topic of the article?", "about"), ("summarize the article", "about"),
    ("who's the author", "author"), ("by whom was this written?", "author"), ("who wrote the sources?", "author"),
    ("how old is this article?", "published"), ("when was this written?", "published"),
    ("what files do you have?", "documents"), ("where do your answers come from?", "documents"),
])
def test_questions_about_the_sources_in_other_words(q, meta):
    from bot.answer.understand import understand

    u = understand(q)
    assert (u.kind, u.extra.get("meta")) == ("meta", meta)


@pytest.mark.parametrize("q", ["who wrote Hamlet?", "who made the first computer?", "when was the printer released?",
                               "what is the author's main argument?", "what is the source of the data?",
                               "what are the files in the archive?", "when was GPT-4 released?"])
def test_content_questions_are_not_taken_for_questions_about_the_sources(q):
    from bot.answer.understand import understand

    assert understand(q).kind != "meta"


def test_what_is_this_about_answers_from_the_manifest(bot):
    r = bot.ask("What is this about?")
    assert r.support == "answer" and "comparing large language models and generative AI" in r.answer
    assert r.citations and r.citations[0].source == "llm-vs-genai.md"
    assert_grounded(bot, r)


def test_a_how_long_question_quotes_the_duration_first(tmp_path):
    """"X is ..." reads as a definition, but a how-long question wants the sentence with its
    duration, not a later sentence that happens to use "is"."""
    (tmp_path / "h.md").write_text("# Handbook\n\n## Probation\n\nThe probation period lasts six months. "
                                   "During probation the notice period is one week; after it, one month.\n")
    r = ChatBot.load(tmp_path).ask("How long is the probation period?")
    assert r.support == "answer" and r.citations[0].quotes[0] == "The probation period lasts six months."


def test_a_manual_in_plain_text(tmp_path):
    """Durations written with a hyphen ("a two-year warranty") and places inside things ("in the
    spout") are the facts how-long and where questions ask for."""
    (tmp_path / "manual.txt").write_text(
        "Kettle manual\n\nCleaning\nDescale the kettle every four weeks. The limescale filter in the spout can be "
        "removed and rinsed under the tap.\n\nWarranty\nThe kettle comes with a two-year warranty from the date "
        "of purchase.\n", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    r = bot.ask("How long is the warranty?")
    assert r.support == "answer" and "two-year warranty" in r.citations[0].quotes[0]
    assert r.citations[0].title == "Warranty"
    r = bot.ask("Where is the limescale filter?")
    assert r.support == "answer" and "in the spout" in r.citations[0].quotes[0]


def test_a_faq_heading_names_what_its_answer_lists(tmp_path):
    """"Which browsers are supported?" under the FAQ heading of that name: the answer lists them
    without the word "browsers". A which-question whose things are named nowhere stays unanswered."""
    (tmp_path / "faq.md").write_text(
        "# FAQ\n\n## Which browsers are supported?\n\nThe web app supports the latest two versions of Chrome, "
        "Firefox, Safari and Edge.\n\n## Is my data encrypted?\n\nYes. Data is encrypted at rest with AES-256.\n",
        encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    r = bot.ask("Which browsers are supported?")
    assert r.support == "answer" and "Chrome" in r.citations[0].quotes[0]
    assert bot.ask("Which banks use encryption?").support != "answer"


def test_advice_questions_accept_conditions_and_distances(tmp_path):
    """"When should I ...?" is answered by a condition ("when they are thinner than 1.5 mm"), "how
    often" by a distance or an event ("every 200 kilometres, or after any wet ride"); "When did
    ...?" still needs a time."""
    (tmp_path / "bike.md").write_text(
        "# Bike care\n\n## Chain\n\nClean and lube the chain every 200 kilometres, or after any wet ride.\n\n"
        "## Brakes\n\nDisc brake pads should be replaced when they are thinner than 1.5 mm.\n", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    r = bot.ask("When should I replace disc brake pads?")
    assert r.support == "answer" and "thinner than 1.5 mm" in r.citations[0].quotes[0]
    r = bot.ask("How often should I clean my chain?")
    assert r.support == "answer" and "every 200 kilometres" in r.citations[0].quotes[0]
    assert bot.ask("When did the brake pads get replaced?").support != "answer"


def test_who_and_when_from_the_page_or_the_text(tmp_path):
    """An HTML page's marked-up byline gives its author and date; a Markdown note that says
    "Published on 3 March 2021" answers "when was this published?" from its text."""
    (tmp_path / "post.html").write_text(
        "<html><head><title>Tyres</title></head><body><article><h1>Tyres</h1><p class='byline'>By "
        "<span class='author'>Jo Rider</span>, <time datetime='2024-05-12'>12 May 2024</time></p>"
        "<h2>Pressure</h2><p>Road bike tyres usually run at 80 to 100 psi. Check them once a week.</p>"
        "</article></body></html>", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    assert bot.documents[0].metadata.get("author") == "Jo Rider"
    assert "Jo Rider" in bot.ask("Who wrote this?").answer
    assert "2024-05-12" in bot.ask("When was it published?").answer
    (tmp_path / "post.html").unlink()
    (tmp_path / "notes.md").write_text("# Release notes\n\nPublished on 3 March 2021 by the platform team.\n\n"
                                       "## Changes\n\nThe export button now saves CSV files.\n", encoding="utf-8")
    r = ChatBot.load(tmp_path).ask("When was this published?")
    assert r.support == "answer" and "3 March 2021" in r.citations[0].quotes[0]


def test_a_short_follow_up_asks_about_the_previous_subject(tmp_path):
    """"how many days?" after "Can I work from home?" is about working from home, not about the
    sick-leave paragraph that also counts days; a full new question is not a follow-up."""
    (tmp_path / "hr.md").write_text(
        "# Handbook\n\n## Sick leave\n\nAfter seven calendar days you need a fit note from a doctor.\n\n"
        "## Remote work\n\nEmployees may work from home up to three days a week after probation.\n\n"
        "## Holidays\n\nFull-time employees get 25 days of paid holiday a year.\n", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    history = [{"role": "user", "content": "Can I work from home?"}, {"role": "assistant", "content": "..."}]
    r = bot.ask("how many days?", history)
    assert r.support == "answer" and "three days a week" in r.citations[0].quotes[0]
    r = bot.ask("how many days of paid holiday do I get?", history)
    assert "25 days" in r.citations[0].quotes[0]
