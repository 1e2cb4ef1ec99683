"""The CLI through a subprocess, as a user runs it."""
import json
import subprocess
import sys

from test_api import assert_grounded  # noqa: F401


def run(*args, stdin=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def test_ask_readable():
    p = run("ask", "what is a VAE")
    assert p.returncode == 0, p.stderr
    assert "[1]" in p.stdout and "Sources:" in p.stdout
    assert "5 types of generative AI > 5. Variational Autoencoders (VAE)" in p.stdout
    assert "Monika Karlović" in p.stdout and "2024-03-28" in p.stdout
    assert "«VAEs are a kind of GenAI model that can create new content.»" in p.stdout


def test_ask_json_contract():
    p = run("ask", "what is a VAE", "--json")
    d = json.loads(p.stdout)
    assert d["question"] == "what is a VAE" and d["abstained"] is False
    c = d["citations"][0]
    assert "Variational Autoencoders (VAE)" in c["title"] and c["source"] == "llm-vs-genai.md"
    article = open("corpus/llm-vs-genai.md", encoding="utf-8").read()
    for q in c["quotes"]:
        assert q in c["passage"] and q in article


def test_ask_json_abstains():
    d = json.loads(run("ask", "What is the boiling point of water?", "--json").stdout)
    assert d["abstained"] is True and d["citations"] == []


def test_jsonl_batch_survives_bad_lines():
    lines = "\n".join([
        json.dumps({"question": "what is a VAE"}),
        "{not json",
        json.dumps({"question": 42}),
        json.dumps({"question": "how does it work?", "history": [{"role": "user", "content": "what is a GAN"}]}),
        json.dumps({"question": ""}),
    ]) + "\n"
    p = run("ask", "--json", stdin=lines)
    assert p.returncode == 0
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(out) == 5
    assert not out[0]["abstained"]
    assert "error" in out[1] and "line 2" in out[1]["error"]
    assert "error" in out[2]
    assert "Generative adversarial networks" in out[3]["citations"][0]["title"]
    assert out[4]["abstained"] and out[4]["citations"] == []


def test_cli_never_imports_gradio():
    code = ("import sys; from bot.cli import main; main(['ask', 'what is a VAE', '--json']); "
            "sys.stderr.write(str('gradio' in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stderr.strip().endswith("False")


def test_corpus_errors_are_clear(tmp_path):
    (tmp_path / "corpus.yaml").write_text("documents:\n  - path: [\n")
    p = run("ask", "hi", "--corpus", str(tmp_path))
    assert p.returncode == 2 and "corpus.yaml:" in p.stderr and "Traceback" not in p.stderr
    p = run("ask", "hi", "--corpus", str(tmp_path / "missing"))
    assert p.returncode == 2 and "not found" in p.stderr


def test_glossary_command():
    d = json.loads(run("glossary", "--json").stdout)
    assert {"short": "VAE", "long": "Variational Autoencoders"} in d


def test_readable_abstention_is_plain_text():
    p = run("ask", "What is the boiling point of water?")
    assert p.returncode == 0
    assert 'anything about "boiling point of water"' in p.stdout and "*" not in p.stdout
    assert "Sources:" not in p.stdout


def test_closest_reply_is_marked_in_readable_output_and_json():
    p = run("ask", "When was LaMDA released?")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("NOT A CONFIRMED ANSWER")
    assert "Support: closest" in p.stdout and "Sources:" in p.stdout
    d = json.loads(run("ask", "When was LaMDA released?", "--json").stdout)
    assert d["support"] == "closest" and d["abstained"] is True and d["citations"]
    assert 0 <= d["confidence"] < 0.5


def test_strictness_flag():
    loose = json.loads(run("ask", "what is a VAE", "--json", "--strictness", "0").stdout)
    strict = json.loads(run("ask", "what is a VAE", "--json", "--strictness", "1").stdout)
    assert loose["support"] == "answer" and strict["support"] == "closest"
    assert loose["confidence"] == strict["confidence"]  # strictness moves the threshold, not the estimate
    for bad in ("2", "-0.1", "nan", "x"):
        p = run("ask", "what is a VAE", "--strictness", bad)
        assert p.returncode == 2 and "between 0 and 1" in p.stderr and "Traceback" not in p.stderr


def test_jsonl_batch_survives_hostile_json():
    deep = "[" * 100_000 + "]" * 100_000
    lines = "\n".join([
        '{"question": "what is \\ud805 a VAE"}',
        deep,
        '{"question": "x", "n": ' + "1" * 5000 + "}",
        '{"question": "what is a VAE", "history": ' + "[" * 3000 + "]" * 3000 + "}",
        '{"question": "what is a GAN"}',
    ]) + "\n"
    p = run("ask", "--json", stdin=lines)
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["question"] == "what is \ufffd a VAE" and out[0]["support"] == "answer"
    assert "error" in out[1] and "error" in out[2]
    assert out[4]["support"] == "answer" and "GAN" in out[4]["citations"][0]["title"]
    p = run("ask", "what is a VAE", "--history", "[" * 30_000 + "]" * 30_000)
    assert p.returncode == 2 and "--history" in p.stderr and "Traceback" not in p.stderr


def test_search_k_is_bounded():
    for k in ("5000000000", "0"):
        p = run("search", "vae", "-k", k)
        assert p.returncode == 2 and "-k must be between 1 and 1000" in p.stderr
    p = run("search", "vae", "-k", "1e23")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_search_jsonl_survives_hostile_json():
    lines = "\n".join(['{"query": "what is \\ud805 a VAE"}', "[" * 100_000 + "]" * 100_000,
                       '{"query": ' + "1" * 5000 + "}", '{"query": "GAN"}']) + "\n"
    p = run("search", "--json", "-k", "2", stdin=lines)
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(out) == 4 and out[0]["results"] and "error" in out[1] and "error" in out[2]
    assert out[3]["results"]
