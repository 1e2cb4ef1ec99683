"""End to end through the Python API, as DESIGN.md's contract describes it."""
import re

import pytest

from bot import ChatBot, Citation, Reply


def fold(s):
    return re.sub(r"\s+", " ", s).strip()


def assert_grounded(bot, reply):
    docs = {d.source: fold(d.text) for d in bot.documents}
    for c in reply.citations:
        assert isinstance(c, Citation)
        assert c.quotes, "a citation quotes at least one sentence"
        for q in c.quotes:
            assert q in c.passage
            assert fold(q) in docs[c.source]


def test_what_is_a_vae(bot):
    r = bot.ask("what is a VAE")
    assert isinstance(r, Reply) and not r.abstained
    assert r.support == "answer" and 0.5 < r.confidence <= 1.0
    assert "[1]" in r.answer
    c = r.citations[0]
    assert c.id == 1 and c.source == "llm-vs-genai.md"
    assert c.title == "5 types of generative AI > 5. Variational Autoencoders (VAE)"
    assert c.quotes[0] == "VAEs are a kind of GenAI model that can create new content."
    assert c.quotes[0] in r.answer
    assert c.score > 0
    assert_grounded(bot, r)


def test_boiling_point_abstains(bot):
    r = bot.ask("What is the boiling point of water?")
    assert r.abstained and r.citations == [] and r.support == "none"
    assert "boiling" in r.answer and "water" in r.answer
    assert r.confidence < 0.2


def test_near_miss_says_what_sources_mention(bot):
    """LaMDA is covered, its release date is not: the closest passage, never claimed as an answer."""
    r = bot.ask("When was LaMDA released?")
    assert r.abstained and r.support == "closest"
    assert r.answer.startswith("The sources mention *LaMDA*, but do not say when.")
    assert "not a confirmed answer" in r.answer
    assert r.citations and "LaMDA" in r.citations[0].title
    assert r.confidence < 0.32  # below the default answer threshold
    assert_grounded(bot, r)


@pytest.mark.parametrize("q", ["Give me a recipe for shepherd's pie", "What is the meaning of life?",
                               "Which laws regulate AI training data?", "How long does it take to train a GAN?"])
def test_questions_the_article_does_not_answer_are_not_answered(bot, q):
    r = bot.ask(q)
    assert r.abstained and r.support in ("closest", "none")
    assert_grounded(bot, r)


def test_support_levels_follow_the_contract(bot):
    for q in ("what is a VAE", "When was LaMDA released?", "What is the boiling point of water?", "hello", ""):
        r = bot.ask(q)
        assert r.support in ("answer", "closest", "none")
        assert r.abstained == (r.support != "answer")
        assert 0.0 <= r.confidence <= 1.0
        if r.support == "none":
            assert r.citations == []


def test_strictness_moves_the_operating_point(bot):
    strict, loose = ChatBot.load(strictness=1.0), ChatBot.load(strictness=0.0)
    assert strict.ask("what is a VAE").support == "closest"  # nothing is certain at strictness 1
    assert loose.ask("When was LaMDA released?").support != "answer"  # a missing date is never an answer
    assert loose.ask("What is the boiling point of water?").support == "none"
    assert bot.ask("what is a VAE").support == "answer"  # the cached default bot is unchanged
    with pytest.raises(ValueError):
        ChatBot.load(strictness=1.5)


@pytest.mark.parametrize("q", ["hello", "thanks", "what can you do?"])
def test_smalltalk_is_friendly_without_citations(bot, q):
    r = bot.ask(q)
    assert not r.abstained and r.citations == [] and r.kind == "smalltalk"
    assert "5 types of generative AI" in r.answer or "large language models" in r.answer


@pytest.mark.parametrize("q,needle", [
    ("", "type a question"), ("   ", "type a question"), ("?!...", "words"), ("\x00\x01\x07", "type a question"),
    ("x" * 100_000, "limit"),
])
def test_bad_input_gets_clear_message(bot, q, needle):
    r = bot.ask(q)
    assert r.abstained and r.citations == [] and r.kind == "invalid"
    assert needle in r.answer


def test_non_string_inputs_do_not_crash(bot):
    assert bot.ask(None).kind == "invalid"  # type: ignore[arg-type]
    r = bot.ask("what is a VAE", history="not a list")  # type: ignore[arg-type]
    assert not r.abstained


def test_control_characters_inside_a_question_are_ignored(bot):
    r = bot.ask("what is\x00 a\x1b VAE")
    assert not r.abstained and "VAE" in r.citations[0].title


def test_list_answer_cites_each_subsection(bot):
    r = bot.ask("what are the types of generative AI")
    assert not r.abstained and len(r.citations) == 5
    assert [c.id for c in r.citations] == [1, 2, 3, 4, 5]
    assert all(f"[{i}]" in r.answer for i in range(1, 6))
    assert_grounded(bot, r)


def test_a_list_is_of_what_was_asked(bot):
    """"Kinds of content" is not the list of "How do LLMs and GenAI work together?", whose one
    subsection "Personalized promotional content" names content in passing: the sentence that
    lists what GenAI generates answers it."""
    r = bot.ask("What kinds of content can GenAI generate?")
    assert r.support == "answer" and len(r.citations) == 1
    assert "anything from images, text, music, video" in r.citations[0].quotes[-1]
    assert_grounded(bot, r)


def test_who_answer_shows_heading(bot):
    r = bot.ask("who made GPT?")
    assert "GPT by OpenAI" in r.answer and "OpenAI" in r.citations[0].quotes[0]


def test_followup_with_history(bot):
    hist = [{"role": "user", "content": "what is DALL-E"}, {"role": "assistant", "content": "..."}]
    r = bot.ask("what about Sora?", hist)
    assert not r.abstained and r.citations[0].title.endswith("Sora")


def test_to_dict_matches_cli_contract(bot):
    d = bot.ask("what is a VAE").to_dict("what is a VAE")
    assert list(d) == ["question", "answer", "abstained", "support", "confidence", "citations"]
    assert d["support"] == "answer" and isinstance(d["confidence"], float)
    assert list(d["citations"][0]) == ["id", "source", "title", "passage", "quotes", "score"]


def test_hostile_text_is_escaped_in_answers(tmp_path):
    (tmp_path / "x.md").write_text(
        "# Widgets\n\n## Cleaning\n\nWidgets are cleaned with \\<img src=x onerror=alert(1)> soap & water.\n")
    bot = ChatBot.load(tmp_path)
    r = bot.ask("how are widgets cleaned?")
    assert not r.abstained
    assert not re.search(r"(?<!\\)[<>&]", r.answer) and "\\<img" in r.answer
    assert "<img src=x onerror=alert(1)>" in r.citations[0].quotes[0]  # quotes stay verbatim
    r = bot.ask("<script>alert(1)</script> what is <b>soap</b>?")
    assert not re.search(r"(?<!\\)[<>]", r.answer)


@pytest.mark.parametrize("q", ["What is the meaning of life?", "What time is it?", "What is the speed of light?",
                               "What is the weather today?"])
def test_a_passing_word_is_not_a_closest_passage(bot, q):
    """The article says "brings the description to life" and "at the same time": a question about
    life or the time of day gets nothing relevant, not a stray passage."""
    r = bot.ask(q)
    assert r.support == "none" and r.citations == [] and r.confidence < 0.1
    assert "only in passing" in r.answer


def test_in_passing_names_what_was_asked(bot):
    r = bot.ask("What is the meaning of life?")
    assert r.answer.startswith("The sources use *life* only in passing and say nothing about *meaning of life*")
