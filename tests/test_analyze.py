from collections.abc import Mapping

from hypothesis import example, given
from hypothesis import strategies as st

from bot.text.analyze import normalize, terms


def test_plural_acronyms_match_singular():
    assert terms("VAEs") == terms("VAE") == terms("vaes")
    assert terms("LLMs") == terms("LLM") == terms("llms")
    assert terms("NeRFs") == terms("NeRF")


def test_hyphenated_words_whole_and_parts():
    t = terms("text-to-image")
    assert "text" in t and "imag" in t and terms("texttoimage")[0] in t


def test_stopwords_case_stemming_and_possessives():
    assert terms("What is THE Model's purpose?") == ["model", "purpos"]
    assert terms("hallucinations") == terms("hallucination")


def test_normalization_folds_quotes_dashes_and_invisible_marks():
    assert normalize("it’s — “x”\u200b") == "it's - \"x\""
    assert terms("Gen\u200bAI") == terms("GenAI")


def test_vocabulary_joins_split_spellings():
    assert "genai" in terms("Gen AI", vocabulary={"genai"})
    assert "genai" not in terms("Gen AI")
    # any collection of terms: a list, a dict's keys or the dict, a frozenset, a generator
    for vocab in (["genai"], {"genai": 1}.keys(), {"genai": 1}, frozenset({"genai"}), (t for t in ["genai"])):
        assert terms("Gen AI", vocabulary=vocab) == ["gen", "ai", "genai"], vocab


def test_fast_terms_equal_tokens(bot):
    from bot.text.analyze import tokens

    vocab = bot.index.vocabulary
    for p in list(bot.index.passages) + [type("P", (), {"text": "Gen AI, DALL-E's text-to-image e.g. VAEs"})()]:
        assert terms(p.text) == [t.term for t in tokens(p.text)]
        assert terms(p.text, vocab) == [t.term for t in tokens(p.text, vocab)]


ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@given(st.one_of(st.text(alphabet=ALNUM + "sSy", min_size=1, max_size=12),  # and plural acronyms' shapes: "GPUs", "PhDs", "X11s"
                 st.builds(lambda a, b: a + b + "s", st.sampled_from(ALNUM[26:52]), st.text(alphabet=ALNUM, max_size=5))))
@example("GPUs")
@example("bcds")
@example("123s")
def test_a_plain_word_folds_as_the_general_rules_fold_it(word):
    """A word of ASCII letters and digits (most words, and every pair of folded words joined) is
    folded by a shorter path: it folds as the general rules fold it, which a trailing apostrophe
    takes it through ("GPUs'" -> "GPUs" -> "gpu")."""
    from bot.text.analyze import _fold_word, term_of

    assert _fold_word(word) == _fold_word(word + "'")
    assert term_of(word) == term_of(word + "'")


POOL = ["Dev", "Ops", "X", "Y", "GPUs", "A", "the", "of", "text-to-image", "Gen", "AI", "don't", "naïve",
        "Zoë's", "5", "five", "x-ray", "I", "data", "base", "DevOps", "CI", "CD"]


class _Terms(Mapping):
    """A saved index's term ids as the analyzer sees them: a Mapping, whose keys are a ``KeysView``."""

    def __init__(self, terms):
        self._ids = {t: i for i, t in enumerate(sorted(terms))}

    def __getitem__(self, term):
        return self._ids[term]

    def __iter__(self):
        return iter(self._ids)

    def __len__(self):
        return len(self._ids)


@given(st.lists(st.sampled_from(POOL), max_size=12))
def test_the_fast_terms_join_split_spellings_as_tokens_does(words):
    """``Analyzer.terms`` (the fast path: each word analyzed once and cached) gives what
    ``tokens`` gives, split spellings joined where the vocabulary knows the joined term, whatever
    the words: single letters ("X Y" never joins), stopwords, hyphens, apostrophes, accents,
    number words, acronyms; with its cache warm or cold."""
    from bot.text.analyze import Analyzer, PairTerms, term_of, tokens

    vocab = frozenset(t for a in POOL for b in POOL if (t := term_of(a.lower() + b.lower())))
    assert {"devop", "xy", "genai"} <= vocab
    text = " ".join(words)
    want = [t.term for t in tokens(text, vocab)]
    warm = Analyzer()
    assert warm.terms(text, vocab) == want == warm.terms(text, vocab)
    assert Analyzer().terms(text) == [t.term for t in tokens(text)]
    # whatever the vocabulary is (each kind is looked up its own way), holding the empty string
    # or not, and with the caches of words and pairs cleared while the text is analyzed
    for kind in (set, lambda v: dict.fromkeys(v).keys(), lambda v: _Terms(v).keys(), lambda v: frozenset(v | {""})):
        assert Analyzer().terms(text, kind(vocab)) == want == Analyzer(limit=1, pairs=PairTerms(1)).terms(text, kind(vocab))


def test_an_analyzers_caches_add_nothing_for_the_garbage_collector_to_walk():
    """A server's analyzer caches each word and pair of words it meets; the collector walks every
    object it tracks at each full pass (paid by whichever question is being answered then), so
    nothing cached may be one: PyStemmer's own cache of stems (a [stem, age] list a word) is off,
    ``stem`` caches them."""
    import gc

    from bot.text.analyze import Analyzer

    words = [f"zq{i}x" for i in range(3000)]  # words and pairs never met before
    text = " ".join(words)
    a = Analyzer()
    gc.collect()
    before = len(gc.get_objects())
    got = a.terms(text, frozenset({"zq1xzq2x"}))
    gc.collect()
    assert "zq1xzq2x" in got  # the pair was joined
    assert len(gc.get_objects()) - before < 100


def test_an_analyzers_caches_stay_bounded_and_give_the_same_terms():
    """A server's or a build worker's analyzer meets millions of words and pairs of words: each
    cache is cleared when past its bound (at most one text's worth past it), and the terms are
    those of an analyzer that never clears."""
    from bot.text.analyze import SHARED_PAIRS, Analyzer, PairTerms

    texts = [" ".join(f"w{t}x{k}" for k in range(20)) for t in range(50)]  # 19 new pairs a text
    vocab = frozenset({"w3x4w3x5", "w40x0w40x1"})
    pairs, never = PairTerms(100), PairTerms(10**9)
    small, free = Analyzer(limit=300, pairs=pairs), Analyzer(pairs=never)
    for text in texts:
        assert small.terms(text, vocab) == free.terms(text, vocab)
        assert len(small._words) <= 300 + 20 and len(pairs) <= 100 + 1 + 19
    assert len(never) == 50 * 19 + 1
    assert "w40x0w40x1" in small.terms(texts[40], vocab)
    # the pairs are the process's, shared by its analyzers: a second index's adds none of its own
    one, two = Analyzer(), Analyzer()
    one.terms(texts[7], vocab)
    before = len(SHARED_PAIRS)
    assert two.terms(texts[7], vocab) == one.terms(texts[7], vocab) and len(SHARED_PAIRS) == before


def test_word_vectors_are_wordllamas_own_row_for_row():
    """``WordCloseness.embed`` tokenizes each text by itself but pools as WordLlama does: the
    same vectors, bit for bit, for words, sentences, a text of no tokens and more than one batch."""
    import numpy as np

    from bot.text.paraphrase import WordCloseness

    closeness = WordCloseness()
    model = closeness.load()
    texts = ["photos", "images", "Five", "5", "naïve café", "", "total dissolved solids",
             "a longer sentence about brewing time and the price of coffee beans"]
    texts += [f"word{i} and {'x' * (i % 9)}" for i in range(70)]  # past one batch of 64
    with np.errstate(invalid="ignore"):  # the empty text's vector is 0 / 0 in both: NaN, equal as NaN
        mine, theirs = closeness.embed(texts), model.embed(texts, norm=True)
    assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
    assert np.array_equal(mine, theirs, equal_nan=True)
    assert np.array_equal(closeness.embed(["images", "photos"]), model.embed(["images", "photos"], norm=True))
    # a word's vector alone is its vector within any batch (a server's warm-up makes the common
    # words' vectors in batches of 64; a question then makes a few at a time)
    words = [t for t in texts if t]
    with np.errstate(invalid="ignore"):
        assert np.array_equal(np.concatenate([closeness.embed([w]) for w in words]), closeness.embed(words))


def test_an_analyzer_shared_by_threads_answers_while_its_cache_is_cleared():
    """A server's threads share an index's analyzer, whose word cache is cleared when full, and
    the process's cache of pairs: a thread whose words were all cached must not find one half of
    a word's entry gone (each word's terms and joinable form are one entry), nor a pair it just
    made gone, and every thread's terms are the ones analyzed alone."""
    import sys
    import threading

    from bot.text.analyze import Analyzer, PairTerms

    vocab = frozenset({"devop"})
    fixed = "the Dev Ops team runs nightly backups of the storage cluster every day"
    want = Analyzer().terms(fixed, vocab)
    assert "devop" in want
    shared = Analyzer(limit=50, pairs=PairTerms(1))  # the words cleared every few texts, the pairs at each
    errors: list[BaseException] = []
    wrong: list[list[str]] = []
    done = threading.Event()

    def hot() -> None:
        try:
            for _ in range(3000):
                got = shared.terms(fixed, vocab)
                if got != want:
                    wrong.append(got)
        except BaseException as e:  # noqa: BLE001 - collected for the test thread
            errors.append(e)
        finally:
            done.set()

    def churn() -> None:
        i = 0
        try:
            while not done.is_set():
                i += 1
                shared.terms(" ".join(f"w{i}x{j}" for j in range(60)), vocab)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        threads = [threading.Thread(target=hot), threading.Thread(target=churn)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert errors == [] and wrong == []
