from bot.text.glossary import Glossary, best_long_form


def test_schwartz_hearst_long_forms():
    assert best_long_form("VAE", "kind of Variational Autoencoders") == "Variational Autoencoders"
    assert best_long_form("NeRF", "4. Neural radiance fields") == "Neural radiance fields"
    assert best_long_form("XYZ", "nothing matching here") is None


def test_mined_from_default_corpus(bot):
    shorts = {e.short: e.long for e in bot.index.glossary.entries}
    assert shorts["VAE"] == "Variational Autoencoders"
    assert shorts["LLM"] == "large language models"
    assert shorts["NLP"] == "natural language processing"


def test_mined_from_second_corpus(second_bot):
    shorts = {e.short: e.long for e in second_bot.index.glossary.entries}
    assert shorts == {"SCA": "Specialty Coffee Association", "TDS": "total dissolved solids"}


def test_no_false_entries():
    g = Glossary.mine(["We tested it (twice) and (see above) it worked (mostly)."])
    assert len(g) == 0


def test_keys_are_added_where_a_long_form_runs_as_a_check_of_every_entry_finds():
    """``with_keys`` skips a first term whose long forms' second terms are all absent; over random
    glossaries (one-term long forms, shared first terms, two long forms of one key) and random
    texts it adds exactly the keys a check of every entry for a run finds."""
    import random

    from bot.index.corpus import PassageAnalyzer
    from bot.text.glossary import Entry

    rng = random.Random(5)
    words = [f"w{i}" for i in range(12)]
    for _ in range(300):
        entries = []
        for k in range(rng.randrange(1, 8)):
            long_terms = tuple(rng.choice(words) for _ in range(rng.choice([1, 2, 2, 3, 4])))
            entries.append(Entry(f"K{k}", " ".join(long_terms), f"k{rng.randrange(6)}", long_terms))
        glossary = Glossary(entries)
        analyzer = PassageAnalyzer(glossary)
        for _ in range(20):
            terms = [rng.choice(words + ["k1"]) for _ in range(rng.randrange(0, 14))]
            expected = set()
            for e in glossary.entries:
                n = len(e.long_terms)
                if e.key not in terms and any(tuple(terms[i:i + n]) == e.long_terms for i in range(len(terms))):
                    expected.add(e.key)
            got = analyzer.with_keys(terms)
            assert got[:len(terms)] == terms and sorted(got[len(terms):]) == sorted(expected), (entries, terms)
