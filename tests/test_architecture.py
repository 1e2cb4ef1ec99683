"""The package's shape: folders by stage, data flows one way (no import cycles, counting imports
inside functions; no stage imports a later one), the answering side never imports the writing
side, and only the page imports gradio."""
import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def module_name(f: Path) -> str:
    """``bot/engines/base.py`` -> "engines.base"; a package's ``__init__.py`` -> the package."""
    parts = list(f.relative_to(BOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> modules of bot it imports, anywhere in its body (inside functions too)."""
    files = [f for f in BOT.rglob("*.py") if "corpus" not in f.relative_to(BOT).parts]
    modules = {module_name(f) for f in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}

    def resolve(name: str) -> str | None:  # the deepest module of bot a dotted name reaches
        parts = name.split(".")
        while parts:
            if ".".join(parts) in modules:
                return ".".join(parts)
            parts.pop()
        return None

    for f in files:
        me = module_name(f)
        package = me.split(".")[:-1] if f.name != "__init__.py" else me.split(".")
        package = [p for p in package if p]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
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
                if got is not None and got != me and got != "":
                    graph[me].add(got)
    return graph


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


# The stages in the order data flows; a module may import its own stage or an earlier one.
# The front doors at the root come last but for model and config, the data every stage shares.
STAGES = ["model", "config", "sources", "text", "index", "answer", "chatbot", "serve", "eval", "cli", "__main__", ""]
WRITING = {"index.indexer", "index.build", "index.update", "index.writer"}


def stage_of(module: str) -> int:
    return STAGES.index(module.split(".")[0])


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_import_cycles():
    graph = import_graph()
    assert graph["chatbot"] >= {"answer.respond", "answer.understand", "index.corpus"}  # real imports seen
    assert graph["index.engines.postings"] >= {"index.files", "index.engines.base"}  # in sub-packages too
    assert cycles(graph) == []


def test_folders_are_the_stages_and_no_stage_imports_a_later_one():
    graph = import_graph()
    assert {m.split(".")[0] for m in graph} <= set(STAGES)  # every module sits in a stage folder or is a front door
    root = sorted(m for m in graph if "." not in m and (BOT / f"{m}.py").is_file())
    assert root == ["__main__", "chatbot", "cli", "config", "model"]
    backwards = [(m, t) for m, targets in graph.items() for t in targets if stage_of(t) > stage_of(m)]
    assert backwards == []


def test_answering_never_imports_the_writing_side():
    graph = import_graph()
    assert WRITING <= set(graph)
    for door in ("chatbot", "serve.web", "answer.respond"):
        assert reachable(graph, door) & WRITING == set(), door
    assert "index.writer" in reachable(graph, "index.indexer")  # the walker does follow the writers


def test_the_stage_checker_catches_a_backward_import():
    assert stage_of("answer.respond") > stage_of("index.corpus") > stage_of("text.analyze") > stage_of("sources.split")


def test_module_level_state_is_bounded():
    """The only module-level caches are lru_caches with a finite size; the only module globals
    assigned at run time are the build workers' inputs, set in the parent before the pool forks."""
    for f in BOT.rglob("*.py"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "lru_cache":
                sizes = [k.value for k in node.keywords if k.arg == "maxsize"]
                assert sizes and isinstance(sizes[0], ast.Constant) and isinstance(sizes[0].value, int), \
                    f"{f.name}:{node.lineno}: an lru_cache without a finite maxsize"
            if isinstance(node, ast.Global):
                assert f.relative_to(BOT).as_posix() == "index/build.py", f"{f.name}:{node.lineno}: global state"


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_page_imports_gradio():
    for f in BOT.rglob("*.py"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert ("gradio" in names) == (f.relative_to(BOT).as_posix() == "serve/ui.py"), f.name


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
