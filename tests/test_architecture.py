"""The package's shape, checked on every module of every stage (bot/sources, text, index, answer,
serve, eval and the root): data flows one way (a module imports only its own stage or an earlier
one, in the order docs/architecture.md draws; no import cycle, counting imports inside functions),
the answering side never imports the writing side, no module is imported by a name computed at
run time, the only module-level caches are lru_caches with a finite size, no module global is
assigned at run time but the build workers' inputs, and only the page imports gradio.

Each rule is a function over source text (or the import graph made from it), so each is also
shown to report a planted violation."""
import ast
import re
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
ARCHITECTURE = BOT.parent / "docs" / "architecture.md"

# The stages in the order data flows; a module may import its own stage or an earlier one.
# The front doors at the root come last but for model and config, the data every stage shares.
STAGES = ["model", "config", "sources", "text", "index", "answer", "chatbot", "serve", "eval", "cli", "__main__", ""]
WRITING = {"index.indexer", "index.reading", "index.build", "index.update", "index.writer", "index.attached"}
CHILD_WRITERS = {"index.attached"}  # run as a child process (`python -m`) by the attachments store, imported by no door
WRITING_DOORS = {"cli", "__main__"}  # `python -m bot index` and `--rebuild`: the only others that reach the writers
# the evaluations index each corpus folder and ask from the saved index, the way users do
EVAL_DOORS = {"eval", "eval.followups", "eval.realdocs", "eval.squad", "eval.wikiqa"}
PAGE = {"serve.ui"}  # the page: the only modules that import gradio
BUILD_WORKERS = {"index.build", "index.reading"}  # their workers' inputs are module globals, set in the parent before the pool forks


# ---- sources and the import graph ----------------------------------------------------------------
def module_name(f: Path) -> str:
    """``bot/index/engines/base.py`` -> "index.engines.base"; a package's ``__init__.py`` -> the package."""
    parts = list(f.relative_to(BOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_sources() -> dict[str, tuple[str, bool]]:
    """Every module of bot: name -> (its source, whether it is a package's ``__init__``)."""
    files = [f for f in BOT.rglob("*.py") if "corpus" not in f.relative_to(BOT).parts]
    return {module_name(f): (f.read_text(encoding="utf-8"), f.name == "__init__.py") for f in files}


def imports_of(module: str, source: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules of bot that ``source`` imports, anywhere in its body (inside functions too),
    absolute or relative; a name imported from a module counts as that module."""
    package = [p for p in (module.split(".") if is_package else module.split(".")[:-1]) if p]

    def resolve(name: str) -> str | None:  # the deepest module of bot a dotted name reaches
        parts = name.split(".")
        while parts:
            if ".".join(parts) in modules:
                return ".".join(parts)
            parts.pop()
        return None

    found = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            prefix = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{prefix}.{a.name}".strip(".") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bot":
            rest = node.module.split(".")[1:]
            targets = [".".join(rest + [a.name]) for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("bot.")]
        for t in targets:
            got = resolve(t)
            if got is not None and got != module and got != "":
                found.add(got)
    return found


def import_graph(sources: dict[str, tuple[str, bool]] | None = None) -> dict[str, set[str]]:
    """Module -> modules of bot it imports (``sources``: as ``module_sources`` gives; bot's own by default)."""
    sources = module_sources() if sources is None else sources
    modules = set(sources)
    return {m: imports_of(m, text, is_package, modules) for m, (text, is_package) in sources.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# ---- the rules ---------------------------------------------------------------------------------
def stage_of(module: str) -> int:
    return STAGES.index(module.split(".")[0])


def backward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a later stage than the importer's own."""
    return sorted(f"{m} imports {t}" for m, targets in graph.items() for t in targets if stage_of(t) > stage_of(m))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def writing_reached(graph: dict[str, set[str]], doors: set[str] = frozenset()) -> list[str]:
    """Modules outside the writing side, its two doors and ``doors`` that reach a writer,
    directly or not."""
    return sorted(f"{m or 'bot'} reaches {sorted(reachable(graph, m) & WRITING)}" for m in graph
                  if m not in WRITING | WRITING_DOORS | doors and reachable(graph, m) & WRITING)


def dynamic_imports(source: str) -> list[str]:
    """Imports by a computed name: ``importlib.import_module`` (however imported or renamed),
    ``__import__``, ``importlib.__import__``: the import graph cannot see them."""
    tree = ast.parse(source)
    importlib_names = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                       for a in n.names if a.name == "importlib"}
    loaders = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "importlib"
               for a in n.names if a.name in ("import_module", "__import__")}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and (f.id == "__import__" or f.id in loaders):
            out.append(f"line {node.lineno}: {f.id}(...)")
        elif (isinstance(f, ast.Attribute) and f.attr in ("import_module", "__import__")
              and isinstance(f.value, ast.Name) and f.value.id in importlib_names):
            out.append(f"line {node.lineno}: {f.value.id}.{f.attr}(...)")
    return out


def unbounded_caches(source: str) -> list[str]:
    """Caches without a finite size: ``functools.cache`` in any form, and an ``lru_cache`` not
    called with a positive whole ``maxsize`` (``maxsize=None``, a bare ``@lru_cache``)."""
    tree = ast.parse(source)
    names = {"cache": set(), "lru_cache": set()}  # names bound to functools' own in this module
    modules = {"functools"} | {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                               for a in n.names if a.name == "functools"}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module == "functools":
            for a in n.names:
                if a.name in names:
                    names[a.name].add(a.asname or a.name)

    def which(f: ast.expr) -> str | None:
        if isinstance(f, ast.Attribute) and f.attr in names and isinstance(f.value, ast.Name) and f.value.id in modules:
            return f.attr
        if isinstance(f, ast.Name):
            return next((kind for kind, bound in names.items() if f.id in bound), None)
        return None

    def finite(call: ast.Call) -> bool:
        size = [k.value for k in call.keywords if k.arg == "maxsize"] or call.args[:1]
        return bool(size) and isinstance(size[0], ast.Constant) and type(size[0].value) is int and size[0].value > 0

    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and which(node.func) == "lru_cache":
            if not finite(node):
                out.append(f"line {node.lineno}: lru_cache without a finite maxsize")
        elif isinstance(node, (ast.Name, ast.Attribute)):
            kind = which(node)
            if kind == "cache":
                out.append(f"line {node.lineno}: functools.cache (unbounded)")
            elif kind == "lru_cache" and id(node) not in called:  # a bare @lru_cache
                out.append(f"line {node.lineno}: lru_cache without a finite maxsize")
    return sorted(set(out))


def run_time_globals(source: str) -> list[str]:
    """Module globals assigned at run time: ``global`` statements and writes through ``globals()``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Global):
            out.append(f"line {node.lineno}: global {', '.join(node.names)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "globals":
            out.append(f"line {node.lineno}: globals()")
    return out


def imports_gradio(source: str) -> bool:
    """Whether the source imports gradio (or a part of it) anywhere, inside functions too."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "gradio" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "gradio":
            return True
    return False


def per_module(rule, sources: dict[str, tuple[str, bool]], allowed: set[str] = frozenset()) -> list[str]:
    """A per-source rule applied to every module but the ``allowed`` ones: "module: finding" lines."""
    return [f"{m}: {found}" for m, (text, _) in sorted(sources.items()) if m not in allowed for found in rule(text)]


def documented_stage_folders() -> list[str]:
    """The stage folders in the order docs/architecture.md's drawing names them."""
    drawing = ARCHITECTURE.read_text(encoding="utf-8").split("```")[1]
    folders = [p.name for p in BOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    order: list[str] = []
    for m in re.finditer(r"\b(\w+)/", drawing):
        if m.group(1) in folders and m.group(1) not in order:
            order.append(m.group(1))
    return order


# ---- the rules on bot's own modules --------------------------------------------------------------
def test_no_import_cycles():
    graph = import_graph()
    assert graph["chatbot"] >= {"answer.respond", "answer.understand", "index.corpus"}  # real imports seen
    assert graph["index.engines.postings"] >= {"index.files", "index.engines.base"}  # in sub-packages too
    assert "serve.ui" in graph and "serve.web" in graph["serve.ui"]
    assert cycles(graph) == []


def test_folders_are_the_stages_in_the_documented_order():
    graph = import_graph()
    assert {m.split(".")[0] for m in graph} <= set(STAGES)  # every module sits in a stage folder or is a front door
    root = sorted(m for m in graph if "." not in m and (BOT / f"{m}.py").is_file())
    assert root == ["__main__", "chatbot", "cli", "config", "model"]
    assert documented_stage_folders() == [s for s in STAGES if s and (BOT / s).is_dir()]


def test_every_module_imports_only_its_own_stage_or_an_earlier_one():
    graph = import_graph()
    assert len(graph) > 50 and {m.split(".")[0] for m in graph} >= {"sources", "text", "index", "answer", "serve",
                                                                   "eval", "chatbot", "cli", "model", "config"}
    assert backward_imports(graph) == []


def test_answering_never_imports_the_writing_side():
    graph = import_graph()
    assert WRITING <= set(graph)
    assert writing_reached(graph, EVAL_DOORS) == []  # every module outside the writers and their doors
    assert "index.writer" in reachable(graph, "index.indexer")  # the walker does follow the writers
    assert WRITING - CHILD_WRITERS <= reachable(graph, "cli")  # and the doors do reach them


def test_no_module_is_imported_by_a_computed_name():
    assert per_module(dynamic_imports, module_sources()) == []


def test_module_level_caches_are_bounded():
    sources = module_sources()
    assert any("lru_cache(maxsize=" in text for text, _ in sources.values())  # the rule has caches to look at
    assert per_module(unbounded_caches, sources) == []


def test_no_module_global_is_assigned_at_run_time_but_the_build_workers_inputs():
    sources = module_sources()
    assert per_module(run_time_globals, sources, allowed=BUILD_WORKERS) == []
    assert per_module(run_time_globals, {m: sources[m] for m in BUILD_WORKERS})  # the exception is real


def test_only_the_page_imports_gradio_and_the_cli_never_reaches_it():
    sources = module_sources()
    assert {m for m, (text, _) in sources.items() if imports_gradio(text)} == PAGE
    graph = import_graph(sources)
    for door in WRITING_DOORS:
        assert reachable(graph, door) & PAGE == set(), door


# ---- each rule reports a planted violation -----------------------------------------------------
def planted(**modules: str) -> dict[str, tuple[str, bool]]:
    """Sources for a made-up package: ``answer__respond="..."`` is module answer.respond."""
    return {name.replace("__", "."): (text, False) for name, text in modules.items()}


def test_the_stage_rule_reports_a_backward_import():
    assert stage_of("answer.respond") > stage_of("index.corpus") > stage_of("text.analyze") > stage_of("sources.split")
    graph = import_graph(planted(
        text__analyze="def f():\n    from bot.answer.respond import Responder\n",  # inside a function
        sources__split="from ..index import corpus\n",  # relative
        index__corpus="from bot.text import analyze\n",  # forward: fine
        answer__respond=""))
    assert backward_imports(graph) == ["sources.split imports index.corpus", "text.analyze imports answer.respond"]


def test_the_cycle_rule_reports_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph(planted(answer__quote="from bot.answer import support\n",
                                 answer__support="def f():\n    import bot.answer.quote\n"))
    assert cycles(graph) == [["answer.quote", "answer.support"]]


def test_the_writer_rule_reports_an_answering_module_reaching_a_writer():
    graph = import_graph(planted(serve__web="from bot.answer import respond\n",
                                 answer__respond="def refresh():\n    from bot.index.indexer import build\n",
                                 index__indexer="from bot.index import writer\n", index__writer="",
                                 cli="from bot.index import indexer\n"))
    assert writing_reached(graph) == ["answer.respond reaches ['index.indexer', 'index.writer']",
                                      "serve.web reaches ['index.indexer', 'index.writer']"]


def test_the_dynamic_import_rule_reports_each_form():
    assert dynamic_imports("import importlib\nm = importlib.import_module('bot.index.writer')\n") == \
        ["line 2: importlib.import_module(...)"]
    assert dynamic_imports("import importlib as il\nil.import_module(name)\n") == ["line 2: il.import_module(...)"]
    assert dynamic_imports("from importlib import import_module as load\nload('x')\n") == ["line 2: load(...)"]
    assert dynamic_imports("def f():\n    return __import__('bot.index.writer')\n") == ["line 2: __import__(...)"]
    assert dynamic_imports("import importlib\nimportlib.__import__('x')\n") == ["line 2: importlib.__import__(...)"]
    assert dynamic_imports("from importlib import resources\nresources.files('bot')\nimport json\n") == []


def test_the_cache_rule_reports_unbounded_caches():
    assert unbounded_caches("import functools\n@functools.cache\ndef f(x): return x\n") == \
        ["line 2: functools.cache (unbounded)"]
    assert unbounded_caches("from functools import cache\n@cache\ndef f(x): return x\n") == \
        ["line 2: functools.cache (unbounded)"]
    assert unbounded_caches("import functools as ft\nf = ft.cache(len)\n") == ["line 2: functools.cache (unbounded)"]
    for bad in ("@lru_cache(maxsize=None)", "@lru_cache", "@lru_cache()", "@lru_cache(None)", "@lru_cache(maxsize=n)"):
        assert unbounded_caches(f"from functools import lru_cache\n{bad}\ndef f(x): return x\n") == \
            ["line 2: lru_cache without a finite maxsize"], bad
    assert unbounded_caches("import functools\nclass A:\n    def __init__(self):\n"
                            "        self.g = functools.lru_cache(maxsize=None)(self.f)\n") == \
        ["line 4: lru_cache without a finite maxsize"]
    for good in ("@lru_cache(maxsize=128)", "@lru_cache(64)", "@lru_cache(maxsize=200_000)"):
        assert unbounded_caches(f"from functools import lru_cache\n{good}\ndef f(x): return x\n") == [], good


def test_the_global_rule_reports_run_time_globals_and_allows_only_the_build_workers():
    source = "_inputs = None\n\ndef init(x):\n    global _inputs\n    _inputs = x\n"
    assert run_time_globals(source) == ["line 4: global _inputs"]
    assert run_time_globals("def f():\n    globals()['cache'] = {}\n") == ["line 2: globals()"]
    assert run_time_globals("CACHE = {}\n\ndef f(x):\n    return CACHE.get(x)\n") == []
    sources = planted(index__build=source, answer__respond=source)
    assert per_module(run_time_globals, sources, allowed=BUILD_WORKERS) == ["answer.respond: line 4: global _inputs"]


def test_the_gradio_rule_reports_each_import_form():
    assert imports_gradio("import os\nimport gradio as gr\n")
    assert imports_gradio("from gradio.themes import Default\n")
    assert imports_gradio("def page():\n    import gradio\n")
    assert not imports_gradio("import gradio_client\nfrom fastapi import FastAPI\n")
    graph = import_graph(planted(cli="def serve():\n    from bot.serve import web\n",
                                 serve__web="from bot.serve import ui\n", serve__ui=""))
    assert "serve.ui" in reachable(graph, "cli")  # what the CLI rule looks for


def test_wheel_ships_the_default_corpus_and_the_model(tmp_path):
    """A non-editable install (pip install ., pipx) must answer from any folder and serve its page:
    the article, its manifest, the templates, the decision model and the page's script and style are
    package data."""
    import subprocess
    import sys
    import zipfile

    root = BOT.parent
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(root)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"bot/corpus/corpus.yaml", "bot/corpus/llm-vs-genai.md", "bot/answer/templates.yaml",
            "bot/answer/decision_model.json"} <= names
    assert {f"bot/serve/static/{name}" for name in ("page.css", "page.js", "clear_box.js", "attach.css",
                                                     "attach.js")} <= names  # the page's script and style


def test_default_corpus_is_found_from_another_folder(tmp_path):
    import json
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "bot", "ask", "what is a VAE", "--json"], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Variational Autoencoders (VAE)" in json.loads(p.stdout)["citations"][0]["title"]
