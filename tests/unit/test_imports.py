"""The import graph of `agent/`, read from the source: no cycles, and no arrow up.

An arrow is any `import agent...` or `from agent... import ...` (absolute or relative) in
a module, at module level or inside a function or class: a function-level import is
still a dependency, only a later one.  Imports under `if TYPE_CHECKING:` are left out,
since they never run.  `from agent.a import b` points at agent/a/b.py when that file
exists, else at agent/a.  Importing agent.a.b also runs agent/a/__init__.py, so an arrow
to a package whose __init__ has imports is counted too (not from inside that package).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "agent"

LAYERS: dict[str, int] = {
    # a module may import from its own unit and from units of its layer or a lower one
    "agent.paths": 0,
    "agent.textfile": 0,
    "agent.options": 0,
    "agent.lock": 0,
    "agent.logsetup": 0,
    "agent.errors": 0,
    "agent.messages": 1,
    "agent.audio": 2,
    "agent.turn": 2,  # the turn policy: the segmenter carries out what it decides
    "agent.actions": 2,
    "agent.dispatch": 2,
    "agent.asr": 3,
    "agent.desktop": 3,
    "agent.voxtral": 4,  # the vLLM server and its weights; its recognisers are in agent.asr
    "agent.config": 5,  # composes each concern's own config module
    "agent.listening": 6,
    "agent.streaming": 6,
    "agent.decide": 6,
    "agent.worker": 7,
    "agent.app": 8,
    "agent.doctor": 9,
    "agent.install": 9,
    "agent.build": 9,  # assembles the stages below; runner, benches and tests call it
    "agent.runner": 10,
    "agent.cli": 11,
    "agent.__main__": 12,
}
"""Top-level unit (a package or a top-level module) → its layer; lower imports nothing higher."""


KNOWN_CYCLES: list[list[str]] = []
"""Cycles not broken yet (none): the test fails on any cycle not listed here, and on a
listed one once it is gone."""

KNOWN_UP: set[tuple[str, str]] = set()
"""Arrows up not fixed yet, as (from, to)."""


def _name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path) -> dict[str, Path]:
    return {_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom,
             modules: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name.split(".")[0] == "agent"}
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    if base.split(".")[0] != "agent":
        return set()
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
            for alias in node.names}


def _with_packages(module: str, target: str, running: set[str]) -> set[str]:
    """The target and the packages on its way whose __init__ runs imports."""
    out = {target}
    parts = target.split(".")
    for i in range(2, len(parts)):
        package = ".".join(parts[:i])
        if module == package or module.startswith(package + "."):
            continue
        if package in running:
            out.add(package)
    return out


@cache
def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the agent modules it imports (read once per run)."""
    modules = _modules(root)
    trees = {m: ast.parse(p.read_text(encoding="utf-8"), str(p)) for m, p in modules.items()}
    running = {m for m, p in modules.items() if p.name == "__init__.py" and _imports(trees[m])}
    arrows: dict[str, set[str]] = {}
    for module, path in modules.items():
        out: set[str] = set()
        for node in _imports(trees[module]):
            for target in _targets(module, path.name == "__init__.py", node, modules):
                if target in modules:
                    out |= _with_packages(module, target, running)
        out.discard(module)
        arrows[module] = out
    return arrows


def cycles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected set of two or more modules (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(arrows.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(arrows):
        if v not in index:
            visit(v)
    return sorted(found)


def _unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def arrows_up(arrows: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    """Each arrow from a unit to a higher one, or from a unit with no layer, with why."""
    bad = []
    for source, targets in sorted(arrows.items()):
        for target in sorted(targets):
            a, b = _unit(source), _unit(target)
            if a == b or "agent" in (a, b):
                continue
            if a not in LAYERS or b not in LAYERS:
                bad.append((source, target, f"no layer for {a if a not in LAYERS else b}"))
            elif LAYERS[b] > LAYERS[a]:
                bad.append((source, target, f"{a} ({LAYERS[a]}) below {b} ({LAYERS[b]})"))
    return bad


def test_the_scan_sees_arrows() -> None:
    arrows = graph()
    assert "agent.config" in arrows["agent.cli"]  # module level
    assert "agent.runner" in arrows["agent.cli"]  # inside a function
    assert len(arrows) > 50


def test_the_scan_counts_what_runs(tmp_path: Path) -> None:
    files = {
        "__init__.py": "",
        "leaf.py": "",
        "a/__init__.py": "from agent.a import b\n",
        "a/b.py": "from . import c\nfrom ..leaf import x\n",
        "a/c.py": "",
        "user.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import agent.leaf\n"
                    "def f():\n    from agent.a.c import y\n"),
    }
    for name, text in files.items():
        (tmp_path / "agent" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "agent" / name).write_text(text)
    arrows = graph(tmp_path / "agent")
    assert arrows["agent.a.b"] == {"agent.a.c", "agent.leaf"}  # relative imports
    assert arrows["agent.user"] == {"agent.a.c", "agent.a"}  # a/__init__ runs too
    assert arrows["agent.a"] == {"agent.a.b"}


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    found = cycles(graph())
    for cycle in found:
        print("cycle:", " <-> ".join(cycle))
    assert [c for c in found if c not in KNOWN_CYCLES] == []
    assert [c for c in KNOWN_CYCLES if c not in found] == []  # fixed: drop it from the list


def test_no_arrow_up() -> None:
    bad = arrows_up(graph())
    for source, target, why in bad:
        print(f"arrow up: {source} -> {target}: {why}")
    assert [b for b in bad if b[:2] not in KNOWN_UP] == []
    assert KNOWN_UP - {b[:2] for b in bad} == set()  # fixed: drop it from the list
