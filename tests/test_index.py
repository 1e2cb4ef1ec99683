import pytest
from rank_bm25 import BM25Okapi

from bot.index.engines import BM25Retriever, LuceneBM25


def test_idf_stays_positive_where_okapi_fails():
    docs = [["ai", "model"], ["ai", "chef"], ["ai", "music"], ["ai"], ["vae"]]
    okapi = BM25Okapi(docs)
    assert okapi.idf["ai"] <= 0.25 * okapi.average_idf + 1e-9  # rank_bm25 floors/negates it
    ours = LuceneBM25(docs)
    assert all(v > 0 for v in ours.idf.values())
    assert ours.idf["vae"] > ours.idf["ai"] > 0


def test_search_ranks_and_validates():
    r = BM25Retriever.build([["red", "apple"], ["green", "apple", "apple"], ["blue", "sky"]])
    hits = r.search({"apple": 1.0}, 5)
    assert [h.index for h in hits] == [1, 0]
    assert hits[0].score > hits[1].score > 0
    assert r.search({"nothing": 1.0}, 3) == []
    with pytest.raises(ValueError):
        r.search({"apple": 1.0}, 0)
    with pytest.raises(ValueError):
        LuceneBM25([["a"]], k1=-1)


def test_default_index_common_words_score(bot):
    idf = bot.index.retriever.idf
    assert idf("ai") > 0 and idf("llm") > 0 and idf("genai") > 0


def test_every_engine_name_has_one_registered_engine():
    """The registry is the one place an engine's name meets its class: each name of ``names``
    (what a header records, what ``--engine`` offers) has an engine that carries that name, and
    an unknown name is refused."""
    import pytest

    from bot.index.engines import REGISTRY, engine_class
    from bot.index.names import ENGINES

    assert tuple(REGISTRY) == ENGINES
    for name in ENGINES:
        assert engine_class(name).name == name
        assert isinstance(engine_class(name).streamed, bool)
    with pytest.raises(ValueError, match="unknown engine"):
        engine_class("lucene")
