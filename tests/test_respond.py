"""Answer-shaping mechanisms, each shown on the second corpus too (nothing is tuned to one text)."""
import pytest

from bot import ChatBot


def test_typo_tolerance(bot, second_bot):
    r = bot.ask("what is a transfomer model")
    assert not r.abstained and "Transformer model" in r.citations[0].title
    r = second_bot.ask("what is expresso")
    assert not r.abstained and "Espresso" in r.citations[0].title
    # short or unknown-but-far words are never "corrected" into an answer
    assert bot.ask("What is the boiling point of water?").abstained
    # nor are names and acronyms (capitals past the first letter), however close a corpus word
    from bot.text.spelling import Speller

    speller = Speller(["lambda", "transformer", "protocol"], frozenset({"lambda", "transform", "protocol"}))
    assert speller.correct("When was LaMDA released?") == "When was LaMDA released?"
    assert speller.correct("the PROTOCOL and the protocl") == "the PROTOCOL and the protocol"
    assert speller.correct("Lamda transfomer") == "lambda transformer"



def test_real_words_are_not_typos():
    """A common English word the corpus does not use is left alone ("fight" is not "flight",
    "religion" not "region"); spellings across the Atlantic are still matched; and no correction
    adds or drops a negating prefix, however similar the words."""
    from bot.text.spelling import Speller

    corpus = ["flight", "region", "centre", "organisations", "official", "asynchronously", "network"]
    speller = Speller(corpus, frozenset(corpus))
    assert speller.correct("Who did they fight? Which religion?") == "Who did they fight? Which religion?"
    assert speller.correct("the center of organizations") == "the centre of organisations"
    assert speller.correct("unofficial synchronously netwrok") == "unofficial synchronously network"
    # without the list of common words, a real word close to a corpus word is corrected
    assert Speller(corpus, frozenset(corpus), common=frozenset).correct("fight") == "flight"



def test_short_typos_of_the_sources_acronyms(bot):
    """Three or four letters with two neighbours swapped find the glossary's acronym; other short
    unknown words are left alone."""
    from bot.text.spelling import Speller

    speller = Speller(["variational"], frozenset({"vae", "gan", "variat"}), acronyms=["VAE", "GAN", "EVA"])
    assert speller.correct("what is a GNA") == "what is a GAN"
    assert speller.correct("the sun and a cat") == "the sun and a cat"
    assert speller.correct("vea") == "vea"  # two acronyms ("VAE", "EVA") are one swap away: not a guess
    r = bot.ask("what is a vea")
    assert r.support == "answer" and "Variational Autoencoders (VAE)" in r.citations[0].title


def test_alias_glossary(bot):
    g = {e.short: e.long for e in bot.index.glossary.entries}
    assert g["GPT"] == "Generative Pre-trained Transformer"


def test_glossary_expansion_both_ways(second_bot):
    a = second_bot.ask("what is total dissolved solids")
    b = second_bot.ask("what is TDS")
    assert a.citations[0].title == b.citations[0].title == "What is extraction?"


def test_which_question_needs_named_items(bot, tmp_path):
    assert bot.ask("Which cooking techniques did the chef learn?").abstained
    (tmp_path / "c.md").write_text("# Cars\n\n## Colours\n\nThe factory paints cars in various colours.\n\n"
                                   "## Engines\n\nThe factory builds engines such as the V6 and the V8.\n")
    b = ChatBot.load(tmp_path)
    r = b.ask("Which colours does the factory paint cars in?")
    assert r.abstained and "which" in r.answer
    assert not b.ask("Which engines does the factory build?").abstained


def test_duration_and_quantity_need_evidence(second_bot):
    r = second_bot.ask("how long does an espresso shot take?")
    assert "25 to 30 seconds" in r.answer
    r = second_bot.ask("How many calories are in a latte?")
    assert r.abstained
    r = second_bot.ask("How long should the Chemex filters be rinsed?")
    assert r.abstained


def test_when_and_who_need_evidence(bot, second_bot):
    assert bot.ask("When was LaMDA released?").abstained
    assert "do not say when" in bot.ask("When was LaMDA released?").answer
    assert bot.ask("Which company owns Midjourney?").abstained
    assert not second_bot.ask("Who designed the Chemex?").abstained


@pytest.mark.parametrize("q,history,section", [
    ("how does it work?", ["what is a VAE"], "Variational Autoencoders"),
    ("who built that one?", ["what is Llama"], "Llama by Meta"),
    ("what about LaMDA?", ["who made GPT?"], "LaMDA by Google"),
])
def test_followups(bot, q, history, section):
    hist = []
    for h in history:
        hist += [{"role": "user", "content": h}, {"role": "assistant", "content": bot.ask(h).answer}]
    r = bot.ask(q, hist)
    assert not r.abstained and section in r.citations[0].title


def test_comparison_cites_both_sides(second_bot):
    r = second_bot.ask("compare the French press and cold brew")
    titles = [c.title for c in r.citations]
    assert len(titles) == 2 and titles[0].endswith("French press") and titles[1].endswith("Cold brew")
    assert "[1]" in r.answer and "[2]" in r.answer


def test_bulleted_section_answers_with_items(bot):
    r = bot.ask("How do businesses benefit from LLMs and GenAI?")
    assert r.answer.count("\n- ") >= 3 and "Time to resolution" in r.answer


def test_light_verbs_pick_the_sentence(bot):
    r = bot.ask("What are NeRFs used for?")
    assert "architecture and robotics" in r.answer


def test_where_needs_a_place_and_when_prefers_the_dated_sentence(tmp_path):
    (tmp_path / "f.md").write_text(
        "# Factory\n\n## Site\n\nThe factory makes bicycles. The factory is located in Leeds, near the canal.\n\n"
        "## Office\n\nThe office handles orders for the factory.\n\n"
        "## History\n\nThe factory grew quickly. The factory opened in 1998 with ten workers.\n")
    b = ChatBot.load(tmp_path)
    r = b.ask("Where is the factory?")
    assert not r.abstained and "Leeds" in r.answer
    r = b.ask("Where is the office?")
    assert r.abstained and "do not say where" in r.answer
    r = b.ask("When did the factory open?")
    assert r.answer.startswith("The factory opened in 1998")


def test_abstention_never_names_a_word_as_both_found_and_missing(bot):
    """A hyphenated word gives several terms ("text-to-speech": "texttospeech", "text", "speech");
    when the parts are found and the whole is not, the word is named once, as missing."""
    reply = bot.ask("Is the text-to-speech model open source?")
    assert reply.abstained
    found, _, missing = reply.answer.partition("but not")
    assert "text-to-speech" in missing and "text-to-speech" not in found


def test_a_quote_that_only_restates_the_question_goes_on_to_the_answer(tmp_path):
    """A pasted error message found verbatim is not the answer: the sentence after it (the
    explanation) is quoted with it, even when it shares no word with the question."""
    msg = ("gadget: fatal: cannot open the spool socket /run/gadget/spool.sock for writing while starting the "
           "daemon after the upgrade, giving up now and leaving the old queue in place.")
    (tmp_path / "trouble.md").write_text(
        f"# Troubleshooting the gadget\n\n## Startup\n\n{msg} Run mkspool once after installing.\n\n"
        "## Shutdown\n\nThe gadget stops when its last client leaves.\n")
    r = ChatBot.load(tmp_path).ask(msg)
    quotes = " ".join(q for c in r.citations for q in c.quotes)
    assert "Run mkspool once after installing." in quotes, r.answer


def test_documentation_answers_quote_the_sentence_after_the_best_one(tmp_path):
    """A documentation answer rarely fits one sentence (a setting and where it lives, a symptom
    and its fix): plain text (documentation) quotes two; the same text as a Markdown article, one."""
    text = ("Gadget manual\n\nThe gadget keeps every message of its outgoing queue in the spool folder that the "
            "spool setting names, reading it again at each start so that nothing queued before a crash or a "
            "reboot is ever lost. Debian systems use /var/lib/q for it. Other systems differ a lot, as "
            "packagers choose.\n\nThe gadget stops when its last client leaves.\n")
    got = {}
    for suffix in ("txt", "md"):
        (tmp_path / suffix).mkdir()
        (tmp_path / suffix / f"gadget.{suffix}").write_text(text)
        r = ChatBot.load(tmp_path / suffix).ask("does the gadget keep its outgoing queue in the spool folder")
        got[suffix] = r.citations[0].quotes
    assert "Debian systems use /var/lib/q for it." in got["txt"]
    assert len(got["md"]) == 1


def test_a_closest_reply_quotes_three_passages_in_documentation_and_two_in_prose(tmp_path):
    """In documentation the unit that answers is often BM25's second or third, so a "closest"
    reply quotes three passages there; prose keeps two. (A model that never answers makes every
    reply "closest".)"""
    from bot.answer.decide import LogisticModel
    from bot.answer.respond import CLOSEST_DOCUMENTATION, CLOSEST_PROSE, Responder

    never = LogisticModel(("coverage",), (0.0,), (1.0,), (0.0,), -5.0)
    got = {}
    for suffix, mark in (("txt", ""), ("md", "## ")):
        body = "".join(f"\n\n{mark}SPOOL PART {n}\n\nThe spool folder keeps {w} messages for the gadget until they are "
                       "sent on." for n, w in ((1, "outgoing"), (2, "deferred"), (3, "bounced"), (4, "held")))
        (tmp_path / suffix).mkdir()
        (tmp_path / suffix / f"gadget.{suffix}").write_text("Gadget manual" + body + "\n")
        bot = ChatBot.load(tmp_path / suffix)
        bot.responder = Responder(bot.index, model=never)
        r = bot.ask("spool folder messages")
        assert r.support == "closest"
        got[suffix] = len(r.citations)
    assert (got["txt"], got["md"]) == (CLOSEST_DOCUMENTATION, CLOSEST_PROSE) == (3, 2)


def test_a_short_plain_text_faq_entry_is_quoted_whole(tmp_path):
    """A plain-text FAQ's entries are units (their question heads them): a short one is quoted
    whole, from its start, as a documentation HTML entry is."""
    (tmp_path / "faq.txt").write_text(
        "Widget FAQ\n\nQ: Where are the logs?\n\nA: In /var/log/widget.log, rotated weekly.\n\n"
        "Q: Can the widget run without a network?\n\nA: Yes. Start it with --offline. Nothing is sent until "
        "the network returns. Queued mail waits in the spool.\n\n"
        "Q: Why does the widget refuse to start?\n\nA: Another program holds the port.\n")
    r = ChatBot.load(tmp_path).ask("can the widget run without a network")
    assert list(r.citations[0].quotes) == ["Yes.", "Start it with --offline.", "Nothing is sent until the network "
                                           "returns.", "Queued mail waits in the spool."], r.answer


def test_speller_split_by_length_finds_what_one_alphabetical_scan_finds():
    """A saved index keeps the speller's words one string per length and splits a length the first
    time a correction needs it: the word found is the one a single scan of every word of the
    possible lengths, in alphabetical order, finds (the most similar; of ties the first)."""
    import math
    import random

    from rapidfuzz import fuzz, process

    from bot.index.layout import read_terms, terms_file
    from bot.text.spelling import CUTOFF, Speller

    rng = random.Random(7)
    letters = "aeioubcdlmnrst"
    words = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(5, 12))) for _ in range(4000)})
    meta = read_terms(terms_file([], [], [], words), words=False)
    assert set(meta["words_by_length"]) == {len(w) for w in words}
    saved = Speller.from_words(meta["words_by_length"], frozenset(), common=frozenset)
    assert saved.words == words and read_terms(terms_file([], [], [], words))["words"] == sorted(words, key=lambda w: (len(w), w))
    compared = 0
    for _ in range(300):
        w = rng.choice(words)
        typo = w[:2] + rng.choice(letters) + w[3:] if rng.random() < 0.5 else w[:-1] + rng.choice(letters) + "x"
        cutoff = CUTOFF if len(typo) >= 8 else CUTOFF + 3
        c, n = cutoff / 100.0, len(typo)
        lo, hi = math.ceil(n * c / (2.0 - c) - 1e-9), math.floor(n * (2.0 - c) / c + 1e-9)
        one_scan = process.extractOne(typo, [x for x in words if lo <= len(x) <= hi], scorer=fuzz.ratio,
                                      score_cutoff=cutoff)
        got = saved._closest(typo)
        if one_scan is not None:
            assert got == one_scan[0], typo
            compared += 1
    assert compared > 100


def test_speller_reads_lengths_nearest_first_and_finds_what_one_scan_of_every_length_finds():
    """A correction reads the typo's own length first, then the lengths further off, skipping a
    length whose best possible ratio is below the best found and taking that as the next cutoff:
    it finds what one alphabetical scan of every possible length finds, also where a word of the
    typo's own length is close and one of another length closer ("documentaton" is
    "documentation", not "documentator")."""
    import math
    import random

    from rapidfuzz import fuzz, process

    from bot.text.spelling import CUTOFF, Speller

    speller = Speller(["documentation", "documentator"], frozenset(), common=frozenset)
    assert speller._closest("documentaton") == "documentation"
    # a tie across lengths (6/7 at 9 and 16 letters for a 12-letter typo): the alphabetically
    # first, though its length is read later and the tie sits at the cutoff that reading sets
    tie = Speller(["abcdefghijklmnop", "bcdefghij"], frozenset(), common=frozenset)
    assert fuzz.ratio("bcdefghijklm", "abcdefghijklmnop") == fuzz.ratio("bcdefghijklm", "bcdefghij") > CUTOFF
    assert tie._closest("bcdefghijklm") == "abcdefghijklmnop"
    rng = random.Random(11)
    letters = "aeioubcdlmnrst"
    base = {"".join(rng.choice(letters) for _ in range(rng.randint(7, 14))) for _ in range(1500)}
    words = set(base)
    for w in base:  # neighbours of other lengths: a letter added, dropped, changed
        i = rng.randrange(1, len(w) - 1)
        words |= {w[:i] + rng.choice(letters) + w[i:], w[:i] + w[i + 1:], w[:i] + rng.choice(letters) + w[i + 1:]}
    words = sorted(words)
    speller = Speller(words, frozenset(), common=frozenset)
    other_length = compared = 0
    for _ in range(600):
        w = rng.choice(words)
        i = rng.randrange(1, len(w) - 1)
        typo = rng.choice([w[:i] + w[i + 1:], w[:i] + rng.choice(letters) + w[i:], w[:i] + rng.choice(letters) + w[i + 1:]])
        cutoff = CUTOFF if len(typo) >= 8 else CUTOFF + 3
        c, n = cutoff / 100.0, len(typo)
        lo, hi = math.ceil(n * c / (2.0 - c) - 1e-9), math.floor(n * (2.0 - c) / c + 1e-9)
        one_scan = process.extractOne(typo, [x for x in words if lo <= len(x) <= hi], scorer=fuzz.ratio,
                                      score_cutoff=cutoff)
        if one_scan is None or one_scan[1] >= 100:
            continue
        assert speller._closest(typo) == one_scan[0], typo
        compared += 1
        own = process.extractOne(typo, [x for x in words if len(x) == n and x != typo], scorer=fuzz.ratio,
                                 score_cutoff=cutoff)
        other_length += len(one_scan[0]) != n and own is not None  # a close word of its own length lost
    assert compared > 300 and other_length > 20, (compared, other_length)


def test_speller_letter_prefilter_finds_what_a_scan_of_every_word_finds():
    """A correction scores only the words whose letters differ from the typo's by no more than the
    edits the cutoff allows (``Speller._within``); it finds what scoring every word of those
    lengths finds, for swaps, changed, added and dropped letters, letters outside a-z included."""
    import random

    from bot.text.spelling import Speller

    rng = random.Random(5)
    letters = "aeioubcdlmnrstéø"
    words = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(5, 14))) for _ in range(20000)})
    fast = Speller(words, frozenset(), common=frozenset)
    scan = Speller(words, frozenset(), common=frozenset)
    scan._within = lambda word, length, most: scan._of_length(length)  # type: ignore[method-assign]
    assert min(len(fast._of_length(n)) for n in range(6, 13)) > 64  # the prefilter is used at these lengths
    kinds = {"swap": 0, "change": 0, "add": 0, "drop": 0}
    corrected = 0
    for _ in range(1200):
        w = rng.choice(words)
        i = rng.randrange(1, len(w) - 1)
        kind = rng.choice(list(kinds))
        typo = {"swap": w[:i] + w[i + 1] + w[i] + w[i + 2:], "change": w[:i] + rng.choice(letters) + w[i + 1:],
                "add": w[:i] + rng.choice(letters) + w[i:], "drop": w[:i] + w[i + 1:]}[kind]
        got = fast._closest(typo)
        assert got == scan._closest(typo), (kind, typo)
        if got is not None and got != typo:
            kinds[kind] += 1
            corrected += 1
    assert corrected > 300 and min(kinds.values()) > 20, kinds
    # a swap among several words one changed letter away: the five nearest are taken, then those
    # with the same letters, so "mnopqsr" is left as it is (one scan of every word does so too)
    fillers = sorted({"".join(rng.choice("aeiouxyz") for _ in range(7)) for _ in range(200)})[:95]
    near = ["anopqsr", "bnopqsr", "cnopqsr", "dnopqsr", "enopqsr", "mnopqrs"]
    speller = Speller(near + fillers, frozenset(), common=frozenset)
    assert len(speller._of_length(7)) > 64 and speller._closest("mnopqsr") is None


def test_a_passages_sentence_terms_are_analyzed_one_sentence_at_a_time_when_read():
    """``sentence_terms[i]`` gives each sentence the terms one analysis of it gives, whichever
    way it is read (in order, backwards, by negative index, sliced), and analyzes a sentence only
    when it is first read, once."""
    from bot import ChatBot
    from bot.index.corpus import CorpusIndex

    shared = ChatBot.load()  # the process's loaded bot: other tests may have read its passages already
    index = CorpusIndex.build(list(shared.index.documents.values()), passages=list(shared.index.passages))
    analyzed: list[str] = []
    one = index._one_sentence_terms
    index._one_sentence_terms = lambda text: (analyzed.append(text), one(text))[1]  # type: ignore[method-assign]
    i = max(range(len(index.passages)), key=lambda k: len(index.passages[k].sentences))
    sentences = index.passages[i].sentences
    assert len(sentences) >= 4
    expected = [frozenset(index.analyzer.text_terms(s.text, index.vocabulary)) for s in sentences]
    got = index.sentence_terms[i]
    assert analyzed == [] and len(got) == len(sentences)
    assert got[1] == expected[1] and got[-1] == expected[-1] and analyzed == [sentences[1].text, sentences[-1].text]
    assert got[::-1] == expected[::-1] and list(got) == expected and got[1:3] == expected[1:3]
    assert sorted(analyzed) == sorted(s.text for s in sentences)  # each once
    assert index.sentence_terms[i] is got  # kept with the passage
    with pytest.raises(IndexError):
        got[len(sentences)]


def test_the_support_check_reads_sentences_until_one_holds_enough_and_decides_as_reading_all_would(bot, second_bot):
    """``supports`` asks whether one sentence holds the sentence-support share of the focus: it
    stops at the first that does, and its decision is the one the largest share over every
    sentence gives, for every passage and many foci; ``sentence_support`` with no bound is that
    largest share."""
    import random

    from bot.answer.support import Support

    rng = random.Random(5)
    stopped = 0
    for index in (bot.index, second_bot.index):
        support = Support(index)
        least = support.rules.sentence_support
        assert 0 < least < 1
        for pi in range(len(index.passages)):
            sentences = index.sentence_terms[pi]
            terms = sorted(set().union(*sentences)) if len(sentences) else []
            if not terms:
                continue
            for _ in range(3):
                focus = rng.sample(terms, min(len(terms), rng.randint(1, 4))) + rng.sample(["zzqx", "vae", "model"], 1)
                weight = support.focus_weights(focus)
                total = sum(weight.values()) or 1.0
                shares = []
                for s in sentences:
                    have = set(s) | index.path_terms[pi]
                    have |= support.expand(have)
                    shares.append(sum(w for t, w in weight.items() if t in have) / total)
                assert support.sentence_support(pi, focus) == max(shares)
                bounded = support.sentence_support(pi, focus, enough=least)
                assert (bounded >= least) == (max(shares) >= least)
                stopped += bounded < max(shares)
    assert stopped > 0  # some checks stopped before the largest share


def _every_sentences_share(support, pi, focus):
    """What ``sentence_support`` measures, over every sentence of the passage: no early stop."""
    weight = support.focus_weights(focus)
    total = sum(weight.values()) or 1.0
    path, best = support.index.path_terms[pi], 0.0
    for terms in support.index.sentence_terms[pi]:
        have = set(terms) | path
        have |= support.expand(have)
        best = max(best, sum(w for t, w in weight.items() if t in have) / total)
    return best


def test_a_heading_that_holds_the_question_spares_reading_sentences(bot, tmp_path):
    """Where a passage's heading path alone holds enough of the question, the support check
    analyzes none of its sentences, and decides as reading them all would: the share is the same
    where the largest is asked for, and on the same side of every threshold. In memory and from a
    saved index (whose passages are not built to count their sentences)."""
    from bot.index import indexer
    from doc_kinds import write_all

    src, idx = tmp_path / "src", tmp_path / "idx"
    write_all(src)
    indexer.build([src], idx, workers=1)
    for one in (bot, ChatBot.load(idx)):
        support, index = one.responder.support, one.index
        spared = 0
        for pi in range(len(index.passages)):
            path = sorted(index.path_terms[pi])
            first = sorted(index.sentence_terms[pi][0]) if one is bot else []
            for focus in (path[:2], path[:1] + first[:1], path[:1] + ["zzqxj"], first[:2]):
                if not focus:
                    continue
                fresh = ChatBot.load(idx) if one is not bot and not spared else None
                if fresh is not None:  # a saved index's first check: nothing is analyzed or built
                    s, ix = fresh.responder.support, fresh.index
                    if s.sentence_support(pi, focus) >= 1.0:
                        assert not ix.passages._cache and not ix.sentence_terms._cache
                        spared += 1
                full = _every_sentences_share(support, pi, focus)
                assert support.sentence_support(pi, focus) == full
                for least in (0.3, 0.5, 0.9):
                    assert (support.sentence_support(pi, focus, enough=least) >= least) == (full >= least)
        assert one is bot or spared


def test_the_best_passage_is_chosen_checking_support_best_first_as_checking_every_hit_would(bot, second_bot):
    """``_choose`` weighs every hit, then checks support (which reads a passage's sentences) best
    first, only until one has it: the hit a scan of every hit, keeping the first largest value
    among those with support, chooses; with fewer checks, never more than one past the chosen."""
    from bot.answer.understand import FRAME_TERMS

    saved = skipped = 0
    for one in (bot, second_bot):
        r, index = one.responder, one.index
        asked = [f"What is {t}?" for t in index.top_sections(40)]
        asked += ["what is a VAE", "how does a diffusion model make images", "which models write text",
                  "how long should coffee brew", "what is the difference between GANs and VAEs",
                  "who invented the transformer", "why is the sky blue", "how do I clean a French press"]
        for text in asked:
            q = one.question(text)
            if not getattr(q, "focus_terms", None):
                continue
            found = r.index.retriever.search(r.weights(q), r.top_k * 2)
            focus = q.focus_terms
            for hits in (found, [h._replace(score=1.0) for h in found]):  # as retrieved; every score tied
                saved, skipped = _choose_as_every_hit(r, index, q, hits, focus, FRAME_TERMS, text, saved, skipped)
    assert saved > 0 and skipped > 0  # some choices spared checks; some found no support at all


def _choose_as_every_hit(r, index, q, hits, focus, frame_terms, text, saved, skipped):
    """``_choose`` against a scan of every hit keeping the first largest value (among those with
    support, and among all where support is not required); returns the counts of checks spared
    and of choices without support, added to."""
    def value(h, weigh_coverage):
        heading = index.heading_terms[h.index]
        in_heading = sum(1 for t in focus if t in heading) / len(focus)
        if q.kind == "definition" and heading:
            in_heading *= len(heading & set(focus)) / len(heading - frame_terms["common"] or heading)
        v = h.score * (1.0 + 0.5 * in_heading + (0.15 if index.section_first(h.index) else 0.0))
        return v * (0.25 + r.support.coverage(h.index, focus)) if weigh_coverage else v

    for required in (True, False):
        best = None
        for h in hits:  # the scan of every hit
            if required and not r.support.supports(q, h.index, focus):
                continue
            v = value(h, not required)
            if best is None or v > best[0]:
                best = (v, h)
        checked: list[int] = []
        real = r.support.supports
        r.support.supports = lambda q, pi, focus=None: (checked.append(pi), real(q, pi, focus))[1]
        try:
            chosen = r._choose(q, hits, focus, require_support=required)
        finally:
            del r.support.supports
        assert chosen == (best[1] if best else None), (text, required)
        if not required:
            assert checked == []  # nothing read for support
            continue
        assert len(checked) == len(set(checked)) <= len(hits)
        if chosen is not None:
            assert checked[-1] == chosen.index  # stopped at the chosen one
            saved += len(hits) - len(checked)
        else:
            assert len(checked) == len(hits)  # none has support: every hit was checked
            skipped += 1
    return saved, skipped
