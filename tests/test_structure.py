"""The library's shape, as DESIGN.md and the readability issue promise it: files a reader can hold in their head,
one training loop (one `backward()`), one MLM loss, each constant defined once, no import cycle, and no library
module that picks a matplotlib backend (that would silently kill a notebook's inline plots)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tokenization", "bert", "distil")
LIBRARY = sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_the_library_is_found():
    names = {module_name(p) for p in LIBRARY}
    assert {"bert.training.loop", "bert.heads", "distil.distiller", "tokenization.tokenizer"} <= names


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_every_library_file_is_at_most_350_lines(path):
    assert len(source(path).splitlines()) <= 350


def calls(attribute: str) -> list[str]:
    """'file:line' of every call of `.attribute(...)` in the library."""
    found = []
    for path in LIBRARY:
        for node in ast.walk(ast.parse(source(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attribute:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_backward_is_called_in_one_place_the_training_loop():
    assert [c.split(":")[0] for c in calls("backward")] == ["bert/training/loop.py"]


def test_no_library_module_selects_a_matplotlib_backend():
    pattern = r"matplotlib\s*\.\s*use\s*\(|import\s+matplotlib\.pyplot|from\s+matplotlib\s+import\s+pyplot"
    assert not [str(p.relative_to(REPO)) for p in LIBRARY if re.search(pattern, source(p))]


def definitions(name: str) -> list[str]:
    """'file' of every module-level function or assignment that defines `name`."""
    found = []
    for path in LIBRARY:
        for node in ast.parse(source(path)).body:
            targets = ([t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign)
                       else [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else [])
            if name in targets:
                found.append(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize("name", ["mlm_loss", "IGNORE_INDEX", "ACTIVATIONS", "pad_batch", "interleaved_times",
                                  "evaluate_mlm", "atomic_write"])
def test_each_formula_and_constant_is_defined_once(name):
    assert len(definitions(name)) == 1, definitions(name)


def test_one_implementation_list_for_attention():
    tuples = [str(p.relative_to(REPO)) for p in LIBRARY
              if re.search(r'^\w+\s*=\s*\("auto", "reference", "tiled", "fused"', source(p), re.M)]
    assert len(tuples) == 1, tuples


def imports(path: Path) -> set[str]:
    """The library modules `path` imports (at module level or inside functions)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    names = {module_name(p) for p in LIBRARY}
    out = set()
    for node in ast.walk(ast.parse(source(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in names and t != me}
    return out


def test_no_import_cycle():
    graph = {module_name(p): imports(p) for p in LIBRARY}
    for pkg in PACKAGES:                       # a package imports its __init__'s modules; those are not cycles
        graph[pkg] = set()
    state: dict[str, int] = {}                 # 1 = on the current path, 2 = done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " → ".join(trail[trail.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_dependencies_point_one_way():
    """tokenization ← bert ← distil: tokenization imports neither, bert does not import distil."""
    for path in LIBRARY:
        top = module_name(path).split(".")[0]
        forbidden = {"tokenization": ("bert", "distil"), "bert": ("distil",), "distil": ()}[top]
        assert not [m for m in imports(path) if m.split(".")[0] in forbidden], path
