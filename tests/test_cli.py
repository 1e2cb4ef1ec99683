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
