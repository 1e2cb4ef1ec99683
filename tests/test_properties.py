"""Property-based tests (hypothesis): whatever people type or put in documents, ask() keeps its contract."""
from __future__ import annotations

import json
import os
import re
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import ChatBot, CorpusError, Reply

WS = re.compile(r"\s+")
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
WORDY = st.lists(st.sampled_from(
    "what is a VAE GAN how does it work who made GPT LLMs the of and generative AI ? ! \u200b \u202e 😀 "
    "<script> & > < \x00 \x1b \n".split(" ")), max_size=25).map(" ".join)
QUESTIONS = st.one_of(ANY_TEXT, WORDY, st.builds(lambda s, n: s * n, WORDY, st.integers(1, 4000)))
MESSAGE = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "", "USER"]),
                           "content": st.one_of(ANY_TEXT, WORDY, st.none(), st.integers(),
                                                st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                                                                "text": WORDY}), max_size=3))}),
    st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
    st.none(), st.integers(), ANY_TEXT,
)
HISTORIES = st.one_of(st.none(), st.lists(MESSAGE, max_size=30), ANY_TEXT, st.integers())


def check_contract(bot: ChatBot, reply: Reply) -> None:
    assert isinstance(reply, Reply)
    assert isinstance(reply.answer, str) and reply.answer.strip()
    assert reply.support in ("answer", "closest", "none")
    assert reply.abstained == (reply.support != "answer")
    assert 0.0 <= reply.confidence <= 1.0
    if reply.support == "none":
        assert reply.citations == []
    docs = {d.source: WS.sub(" ", d.text) for d in bot.documents}
    for c in reply.citations:
        assert c.quotes
        for q in c.quotes:
            assert q in c.passage
            assert WS.sub(" ", q).strip() in docs[c.source]


@settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 400)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=QUESTIONS, history=HISTORIES)
def test_ask_keeps_contract_for_any_input(bot, question, history):
    start = time.perf_counter()
    reply = bot.ask(question, history)
    # a hang guard only (a quadratic step on a hostile input took 45 s): how long hostile input
    # takes beside a plain question is measured by bench/bench_guards.py, not asserted here
    assert time.perf_counter() - start < 30
    check_contract(bot, reply)


def _text_outside_raw_html(body: str) -> bool:
    """Whether a Markdown body has a word character outside its raw HTML, or in an HTML block's
    text: what the Markdown reader gives no text for by design (a declaration such as ``<!A``,
    a comment, a processing instruction; tags themselves; what a script or a style element holds,
    to its end or the block's), found by markdown-it's own parse."""
    from markdown_it import MarkdownIt

    for tok in MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(body):
        if tok.type == "html_block":
            shown = re.sub(r"<(script|style)\b.*?(</\1\s*>|$)", "", tok.content, flags=re.I | re.S)
            if not tok.content.lstrip().startswith(("<!", "<?")) and re.search(r"[^\W_]", re.sub(r"<[^>]*>?", "", shown)):
                return True
            continue
        if any(t.type != "html_inline" and re.search(r"[^\W_]", t.content or "") for t in tok.children or [tok]):
            return True
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(body=st.one_of(ANY_TEXT, st.lists(st.one_of(WORDY, st.just("\n\n## Heading\n\n"), st.just("\n- item x\n"),
                                                    ANY_TEXT), max_size=12).map("".join)),
       question=st.one_of(WORDY, ANY_TEXT))
def test_any_document_text_indexes_and_answers(tmp_path_factory, body, question):
    root = tmp_path_factory.mktemp("prop")
    (root / "doc.md").write_text(body, encoding="utf-8", errors="surrogatepass")
    try:
        bot = ChatBot.load(root)
    except CorpusError as exc:  # only when there is nothing to index, or NUL bytes make it binary
        msg = str(exc)
        assert ("\x00" in body and "binary" in msg) or "no text" in msg or "empty" in msg, exc
        assert "\x00" in body or not _text_outside_raw_html(body) or "no text" in msg, exc
        return
    check_contract(bot, bot.ask(question))
    words = re.findall(r"[^\W_]{3,}", body)
    if words:
        check_contract(bot, bot.ask(f"what is {words[0]}?"))


JSON_LINES = st.one_of(
    st.text(max_size=200),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 5000)),
    st.builds(lambda n: '{"question": ' + "9" * n + "}", st.integers(1, 6000)),
    st.builds(lambda q: '{"question": "' + q + '"}', st.sampled_from(["\\ud805", "\\udfff x", "\\u0000", "a\\u2028b"])),
    st.builds(lambda q, h: json.dumps({"question": q, "history": h}), st.text(max_size=50),
              st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3))),
)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(JSON_LINES, min_size=1, max_size=6))
def test_jsonl_batch_answers_every_line(bot, lines):
    """Whatever a JSON Lines batch holds, each non-blank line gets exactly one JSON reply."""
    import io

    from bot.cli import _ask_stream

    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines) + "\n"
    out = io.StringIO()
    assert _ask_stream(bot, io.StringIO(text), out, True) == 0
    replies = [json.loads(x) for x in out.getvalue().splitlines()]
    expected = [x for x in text.split("\n") if x.strip()]
    assert len(replies) == len(expected)
    for r in replies:
        assert r["support"] in ("answer", "closest", "none")
        out.getvalue().encode("utf-8")  # writable as UTF-8: no lone surrogates


PATH_PARTS = st.lists(st.text(alphabet="ab-._ é0~", min_size=1, max_size=4).filter(lambda p: p not in (".", "..")),
                      min_size=1, max_size=4)


@given(st.lists(PATH_PARTS, max_size=12))
def test_paths_sorted_on_their_text_are_in_pathlib_order(paths):
    """The snapshot sorts the source files' real (absolute) paths on their text
    (``path_text_order``), as pathlib orders them: part by part ("a/b" before "a-b", "a" before
    "a/b")."""
    from pathlib import PurePosixPath

    from bot.sources.ingest import path_text_order

    made = ["/" + "/".join(parts) for parts in paths]
    assert sorted(made, key=path_text_order) == [str(p) for p in sorted(PurePosixPath(m) for m in made)]


TERMS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), min_size=1, max_size=6)


@given(st.sets(TERMS, max_size=40), st.lists(TERMS, max_size=20), st.binary(max_size=5))
def test_a_mapped_vocabulary_finds_what_a_sorted_list_holds(terms, asked, before):
    """A load leaves the vocabulary as the terms file's lines (``MappedVocabulary``), searched as
    UTF-8 bytes: it finds each term where a binary search of the sorted strings does, and nothing
    else, whatever the letters (accents, other scripts, astral characters, prefixes of each other)."""
    import bisect

    from bot.index.engines.tantivy_engine import SortedTerms
    from bot.index.layout import MappedVocabulary

    vocab = sorted(terms)
    lines = "\n".join(vocab).encode("utf-8")
    mapped = MappedVocabulary(before + lines + b"\nafter", len(before), len(lines))  # the lines within a file
    assert len(mapped) == len(vocab) and list(mapped) == vocab and mapped == vocab
    assert [mapped[i] for i in range(-len(vocab), len(vocab))] == vocab + vocab and mapped[1:] == vocab[1:]
    ids = SortedTerms.of(mapped)
    for term in [*vocab, *asked, "\ud800"]:  # a lone surrogate: in no file
        i = bisect.bisect_left(vocab, term)
        want = i if i < len(vocab) and vocab[i] == term else -1
        assert mapped.find(term) == want and (term in mapped) == (want >= 0)
        if want >= 0:
            assert mapped.index(term) == want
        assert ids.get(term, -1) == want and (term in ids) == (want >= 0)
    ids.warm()
    assert dict(ids.items()) == {t: i for i, t in enumerate(vocab)} and set(ids.keys()) == set(vocab)
