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
