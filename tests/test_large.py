"""The large-corpus path: the parallel, streamed build with the tantivy engine, and its saved index.

The same questions, gold sets and contracts as the small path; rankings compared with rank-bm25
on the very same tokens (a real SciFact sample, read in place from ../shared/eval-data).
"""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import ChatBot, CorpusError
from bot.index import build
from bot.index import indexer
from bot.eval.gold import evaluate, load_gold
from bot.index.engines import BM25Retriever, LuceneBM25, TantivyRetriever
from mixed_corpus import write_mixed
from test_gold import EVAL, check_floors

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "eval-data" / "scifact" / "beir"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return write_mixed(tmp_path_factory.mktemp("mixed"))


@pytest.fixture(scope="module")
def scifact_jsonl(tmp_path_factory) -> Path:
    """2,000 SciFact abstracts as a BEIR .jsonl (a temporary file; the data stays in shared/)."""
    if not SCIFACT.is_dir():
        pytest.skip("needs ../shared/eval-data/scifact")
    out = tmp_path_factory.mktemp("scifact") / "corpus.jsonl"
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as f, out.open("w") as w:
        for i, line in zip(range(2000), f):
            w.write(line)
    return out


@pytest.fixture(scope="module")
def scifact_index(scifact_jsonl, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setattr(build, "CHUNK_DOCS", 150)  # many chunks: the forked workers really run
    out = tmp_path_factory.mktemp("sf") / "index"
    indexer.build([scifact_jsonl], out, engine="tantivy", workers=2)
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_gold_sets_hold_on_the_tantivy_engine(tmp_path, second_dir):
    """Both gold sets, indexed with the large-corpus build, keep the quality floors."""
    for corpus, gold in ((ROOT / "corpus", "article.yaml"), (second_dir, "second.yaml")):
        out = tmp_path / gold
        indexer.build([corpus], out, engine="tantivy")
        bot = ChatBot.load(out)
        assert isinstance(bot.index.retriever, TantivyRetriever)
        _, items = load_gold(EVAL / gold)
        check_floors(evaluate(bot, items)["metrics"])


def same_top(a, b, rel=1e-5) -> bool:
    """Two rankings agree: the same scores rank by rank, and the same passages wherever a score
    is not tied with one at the cut (ties at the cut may keep either passage)."""
    if len(a) != len(b):
        return False
    if any(x.score != pytest.approx(y.score, rel=rel) for x, y in zip(a, b)):
        return False
    if not a:
        return True
    cut = min(a[-1].score, b[-1].score) * (1 + rel)
    return {h.index for h in a if h.score > cut} == {h.index for h in b if h.score > cut}


def test_rankings_equal_exact_bm25_on_the_same_tokens(scifact_index):
    """tantivy's candidates rescored with our BM25 give exact BM25's top 10 (rank-bm25 with Lucene
    IDF fed the terms the build wrote), ties aside, on 300 SciFact claims."""
    bot = ChatBot.load(scifact_index)
    tv = bot.index.retriever
    lines = (scifact_index / "terms.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(lines) == tv.size == len(bot.index.passages)
    ref = BM25Retriever(LuceneBM25([line.split() for line in lines]))
    # document frequencies read back from tantivy equal the counts in the stored terms
    for term in ("cell", "protein", "mortality", "tdp", "zzz-not-a-term"):
        assert tv.document_frequency(term) == ref.document_frequency(term)
        assert tv.idf(term) == pytest.approx(ref.idf(term))
    from bot.answer.understand import understand

    claims = [json.loads(line)["text"] for line in open(SCIFACT / "queries.jsonl", encoding="utf-8")][:300]
    asked = 0
    for claim in claims:
        w = bot.responder.weights(understand(claim, None, bot.index.vocabulary))
        if not w:
            continue
        asked += 1
        a, b = tv.search(w, 10), ref.search(w, 10)
        assert same_top(a, b), claim
        if a:  # our own score of one passage agrees with rank-bm25's
            assert tv.score(w, a[0].index) == pytest.approx(ref.score(w, a[0].index), rel=1e-6)
    assert asked > 250 and tv.inexact == 0


def test_tantivy_scores_never_exceed_the_bound(scifact_index):
    """The stopping rule's premise, checked on every passage a claim reaches: exact BM25 is at
    most ``ratio`` times tantivy's own score (tantivy rounds passage lengths down)."""
    bot = ChatBot.load(scifact_index)
    tv = bot.index.retriever
    from bot.index.engines.tantivy_engine import FIELD
    from bot.answer.understand import understand

    Q, should = tv._tv.Query, tv._tv.Occur.Should
    claims = [json.loads(line)["text"] for line in open(SCIFACT / "queries.jsonl", encoding="utf-8")][:40]
    checked = 0
    for claim in claims:
        w = {t: x for t, x in bot.responder.weights(understand(claim, None, bot.index.vocabulary)).items()
             if x > 0 and t in tv.term_id}
        if not w:
            continue
        clauses = [(should, Q.boost_query(Q.term_query(tv._schema, FIELD, t), float(x))) for t, x in w.items()]
        found = tv._candidates(clauses, tv.size)
        for theirs, i in found:
            assert tv._exact(tv._weighted(w), i) <= theirs * tv.ratio
            checked += 1
        # the search's scores, counted in the undecoded lines, are _exact's to the last bit
        ids = [i for _, i in found]
        assert tv._scores(tv._weighted(w), ids) == [tv._exact(tv._weighted(w), i) for i in ids]
    assert tv._lines is not None  # the search counts terms in lines, as a loaded index does
    assert tv.ratio == pytest.approx(1.0, abs=1e-4) and checked > 10_000


def test_parallel_build_equals_single_process(scifact_jsonl, scifact_index, tmp_path):
    one = tmp_path / "one"
    indexer.build([scifact_jsonl], one, engine="tantivy", workers=1)
    for name in ("terms.txt", "texts.bin", "documents.jsonl"):
        assert (one / name).read_bytes() == (scifact_index / name).read_bytes(), name
    a, b = np.load(one / "passages.npz"), np.load(scifact_index / "passages.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert np.array_equal(a[k], b[k]), k
    q = "Which cells produce interleukin-6 during inflammation?"
    assert ChatBot.load(one).ask(q).to_dict() == ChatBot.load(scifact_index).ask(q).to_dict()


def test_loading_reads_no_text_and_answers_with_verbatim_quotes(scifact_index, monkeypatch):
    import bot.text.analyze as analyze
    import bot.sources.split as split

    def boom(*a, **k):
        raise AssertionError("loading a saved index must not analyze or split text")

    monkeypatch.setattr(analyze, "terms", boom)
    monkeypatch.setattr(split, "split_document", boom)
    bot = ChatBot.load(scifact_index)
    assert bot.saved_index and len(bot.documents) == 2000
    assert not bot.documents._cache  # no document read yet
    monkeypatch.undo()
    reply = bot.ask("What causes Parkinson's disease?")
    assert not reply.abstained and reply.citations
    for c in reply.citations:
        doc = bot.index.documents[c.source]  # a JSON Lines document's id is its source
        for quote in c.quotes:
            assert quote in c.passage and quote in doc.text
    assert bot.ask("What is the boiling point of tungsten in a vacuum tube?").abstained


def test_cli_index_ask_search_with_tantivy(mixed, tmp_path):
    out = tmp_path / "idx"
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(mixed), "--out", str(out), "--engine", "tantivy"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "tantivy engine" in p.stdout and "broken.pdf" in p.stdout
    ask = subprocess.run([sys.executable, "-m", "bot", "ask", "how do I rotate the API key?", "--json", "--corpus",
                          str(out)], capture_output=True, text=True, timeout=60)
    data = json.loads(ask.stdout)
    assert not data["abstained"] and data["citations"][0]["source"] == "api-keys.html"
    assert "rotated every 90 days" in data["citations"][0]["passage"]
    search = subprocess.run([sys.executable, "-m", "bot", "search", "calibrate sensor", "-k", "3", "--json",
                             "--corpus", str(out)], capture_output=True, text=True, timeout=60)
    hits = json.loads(search.stdout)["results"]
    assert hits[0]["source"] == "manual.pdf" and hits[0]["title"] == "Page 2"
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1)) and hits[0]["score"] > 0


def test_tantivy_index_stale_rebuild_and_damage(mixed, tmp_path):
    out = tmp_path / "idx"
    indexer.build([mixed], out, engine="tantivy")
    extra = mixed / "new-note.md"
    extra.write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    try:
        with pytest.raises(CorpusError, match="stale"):
            ChatBot.load(out)
        bot = (indexer.refresh(out), ChatBot.load(out))[1]  # rebuilt with the same engine
        assert isinstance(bot.index.retriever, TantivyRetriever)
        assert "level two" in bot.ask("where do visitors park?").answer
    finally:
        extra.unlink()
    # rebuilt by another process, so no object of this one maps the files damaged below (a
    # file truncated under a live memory map faults the process that maps it)
    subprocess.run([sys.executable, "-m", "bot", "index", str(mixed), "--out", str(out), "--engine", "tantivy",
                    "--full"], check=True, capture_output=True, timeout=120)
    seg = next(f for f in (out / "tantivy").iterdir() if f.suffix == ".idx")
    seg.write_bytes(seg.read_bytes()[:-10])
    with pytest.raises(CorpusError, match="truncated or was changed"):
        ChatBot.load(out)
    # switching engines leaves nothing of the other behind
    indexer.build([mixed], out, engine="postings")
    assert not list(out.glob("tantivy*")) and [f.name for f in out.glob("terms*.txt")] == ["terms.txt"]
    loaded = ChatBot.load(out)
    assert isinstance(loaded.index.retriever, BM25Retriever)
    # its terms.txt is its own (each passage's terms as answering reads them), not tantivy's
    assert len((out / "terms.txt").read_bytes().splitlines()) == len(loaded.index.passages)
    assert loaded.index.whole_terms is not None


def test_tantivy_honours_bm25_settings_and_ties(tmp_path):
    """bm25_k1 / bm25_b from corpus.yaml give the same rankings and scores on the tantivy engine as
    on the exact one, on a corpus full of exact ties (copied documents) and varied lengths."""
    words = "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega".split()
    lines = []
    for i in range(300):
        body = " ".join(words[(i * 7 + j) % len(words)] for j in range(3 + i % 40))
        lines.append(json.dumps({"_id": f"d{i}", "title": "", "text": f"{body}."}))
        lines.append(json.dumps({"_id": f"c{i}", "title": "", "text": f"{body}."}))  # a tie with d{i}
    for k1, b in ((1.2, 0.75), (1.8, 0.3), (0.6, 1.0)):
        corpus = tmp_path / f"corpus-{k1}-{b}"
        corpus.mkdir()
        (corpus / "docs.jsonl").write_text("\n".join(lines) + "\n")
        (corpus / "corpus.yaml").write_text(f"name: Ties\ndocuments:\n  - path: docs.jsonl\n"
                                            f"settings:\n  bm25_k1: {k1}\n  bm25_b: {b}\n")
        results = {}
        for engine in ("postings", "tantivy"):
            out = tmp_path / f"{engine}-{k1}-{b}"
            indexer.build([corpus], out, engine=engine)
            r = ChatBot.load(out).index.retriever
            assert (r.k1, r.b) == (k1, b)
            results[engine] = r
        for q in ({"alpha": 1.0}, {"gamma": 1.0, "omega": 0.5}, {"theta": 2.0, "kappa": 1.0, "beta": 0.2}):
            a, e = results["tantivy"].search(q, 10), results["postings"].search(q, 10)
            assert same_top(a, e), (k1, b, q)
        assert results["tantivy"].inexact == 0


def test_failed_large_build_leaves_no_temporary_files_and_keeps_the_old_index(mixed, tmp_path):
    out = tmp_path / "idx"
    indexer.build([mixed], out, engine="tantivy")
    before = sorted(p.name for p in out.iterdir())
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "dots.txt").write_text("... !!! ??? ---\n")  # readable, but not one word to index
    with pytest.raises(CorpusError, match="no text to index"):
        indexer.build([empty], out, engine="tantivy")
    assert sorted(p.name for p in out.iterdir()) == before
    assert "90 days" in ChatBot.load(out).ask("how often are API keys rotated?").answer
