"""The shape DESIGN.md draws, checked on the source: which part may import which, no import circles, small
functions, a start-up module that reads in one screen, and typed replies at the hub.

Imports are read with `ast` from every module of the parts (function-level imports included: a lazy import
is still a dependency); only imports under `if TYPE_CHECKING:` are left out, since they exist for annotations
and never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PARTS = ("edge", "hub", "wire", "provisioning")
#: part → the parts it must never import.
FORBIDDEN = {
    "edge": {"hub"},
    "hub": {"edge"},
    "wire": {"edge", "hub", "provisioning"},
    "provisioning": {"edge", "hub"},
}
MAX_FUNCTION_LINES = 60
MAX_EDGE_APP_LINES = 250


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    return {module_name(p): p for part in PARTS for p in sorted((REPO / part).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _import_nodes(other)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        else:
            yield from _import_nodes(child)


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports: `from a.b import c` counts a.b.c when that is a module, else a.b
    (every import also runs the packages above, which is not counted, as for `import a.b`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        found.update(name for name in names if name in known)
    return found - {module}


def import_graph() -> dict[str, set[str]]:
    modules = sources()
    known = set(modules)
    return {module: imported(module, path, known) for module, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_reader_sees_function_level_and_relative_imports_but_not_type_checking_ones(tmp_path: Path):
    source = tmp_path / "mod.py"
    source.write_text("from typing import TYPE_CHECKING\nimport x.y\nfrom . import z\n"
                      "if TYPE_CHECKING:\n    import x.hidden\n"
                      "def f():\n    from x.y import w\n")
    known = {"x.y", "x.y.w", "x.hidden", "pkg.z", "pkg"}
    assert imported("pkg.mod", source, known) == {"x.y", "x.y.w", "pkg.z"}


def test_no_import_circle_in_any_part():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " → ".join(cycle)


@pytest.mark.parametrize("part", PARTS)
def test_each_part_imports_only_what_the_design_allows(part: str):
    wrong = sorted(f"{module} imports {target}" for module, targets in import_graph().items()
                   if module.split(".")[0] == part for target in targets
                   if target.split(".")[0] in FORBIDDEN[part])
    assert not wrong, wrong


def functions(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1


def test_no_function_outside_migrations_is_longer_than_60_lines():
    long = sorted(f"{module}.{name}: {length} lines" for module, path in sources().items()
                  if ".migrations." not in f".{module}." for name, length in functions(path)
                  if length > MAX_FUNCTION_LINES)
    assert not long, long


def test_the_edge_start_up_module_reads_in_one_screen():
    lines = len((REPO / "edge" / "app.py").read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_EDGE_APP_LINES, f"edge/app.py has {lines} lines"


def test_the_hub_reads_no_reply_as_a_dict():
    """Replies are `wire.messages` models: nothing at the hub indexes or .get()s a reply's result."""
    offenders = []
    for module, path in sources().items():
        if not module.startswith("hub"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target = node.value if isinstance(node, ast.Subscript) else \
                node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get" else None
            if isinstance(target, ast.Attribute) and target.attr == "result":
                offenders.append(f"{module}:{node.lineno}")
    assert not offenders, offenders
