import pytest

from bot.answer.understand import message_text, understand


@pytest.mark.parametrize("q,kind", [
    ("what is a VAE", "definition"), ("VAE?", "definition"), ("explain diffusion", "definition"),
    ("What is the difference between A and B?", "comparison"), ("A vs B", "comparison"),
    ("what are the types of things", "list"), ("examples of tools", "list"),
    ("who made GPT?", "who"), ("Which company owns X?", "who"), ("When was X released?", "when"),
    ("how does X work", "how"), ("can X make music?", "yesno"),
])
def test_kinds(q, kind):
    assert understand(q).kind == kind


@pytest.mark.parametrize("q,name", [("hello", "greeting"), ("Hi there!", "greeting"), ("thanks!", "thanks"),
                                    ("What can you do?", "capabilities"), ("bye", "bye")])
def test_smalltalk(q, name):
    u = understand(q)
    assert u.kind == "smalltalk" and u.smalltalk == name


def test_followups_use_previous_user_turn():
    hist = [{"role": "user", "content": "what is a VAE"}, {"role": "assistant", "content": "VAEs are ..."}]
    u = understand("how does it work?", hist)
    assert u.followup and u.focus_terms == ["vae"]
    u = understand("what about Sora?", hist)
    assert u.followup and u.kind == "definition" and u.focus_terms == ["sora"]
    u = understand("who built that one?", hist)
    assert u.kind == "who" and u.focus_terms == ["vae"]


def test_gradio_content_parts_and_bad_history():
    assert message_text({"role": "user", "content": [{"type": "text", "text": "what is a VAE"}]}) == "what is a VAE"
    hist = [{"role": "user", "content": [{"type": "text", "text": "what is a VAE"}]}, "junk", {"no": "role"}, None]
    assert understand("how does it work?", hist).focus_terms == ["vae"]


def test_comparison_sides():
    u = understand("What is the difference between LLMs and generative AI?")
    assert [[t.term for t in s] for s in u.sides] == [["llm"], ["generat", "ai"]]
