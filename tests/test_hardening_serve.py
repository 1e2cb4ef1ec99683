"""Hostile requests to the server and the page (issue: hardening, second round). Each test failed
before its fix."""
from __future__ import annotations

import pytest

from bot import ChatBot
from bot import chatbot as chatbot_module
from bot.chatbot import MARKUP_SLACK, clean_question, drop_comments


# ---- linear-time cleaning of questions and history ---------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("what <!-- a hidden note --> is a VAE", "what is a VAE"),
    ("a<!--x-->b<!--y-->c", "a b c"),
    ("what does <!-- mean in HTML?", "what does <!-- mean in HTML?"),  # unclosed: kept as typed
    ("<!--" * 1000 + "tail", "<!--" * 1000 + "tail"),
    ("x <!-- one <!-- two --> y", "x y"),
])
def test_comments_are_dropped_in_one_pass(text, expected):
    assert " ".join(drop_comments(text).split()) == expected


def test_history_is_cut_before_it_is_cleaned(bot, monkeypatch):
    """A 260 KB history message of ``<!--`` took 47 s to clean (and held every other request):
    the cleaner now only ever sees a bounded prefix of a message."""
    seen: list[int] = []
    real = chatbot_module.strip_markup
    monkeypatch.setattr(chatbot_module, "strip_markup", lambda t: seen.append(len(t)) or real(t))
    hostile = [{"role": "user", "content": "<!--" * 65000}, {"role": "assistant", "content": "<!--" * 65000}]
    reply = bot.ask("what is a VAE", hostile)
    budget = bot.settings.answer.max_history_chars
    assert seen and max(seen) <= max(budget * MARKUP_SLACK, bot.settings.answer.max_question_chars)
    assert reply.support == "answer" and "VAE" in reply.citations[0].title


def test_clean_question_with_a_limit_reads_a_bounded_prefix():
    text = "<b>word</b> " * 100_000
    cut = clean_question(text, 50)
    assert len(cut) <= 50 and cut.startswith("word word")
    assert clean_question(text, 0) == ""
