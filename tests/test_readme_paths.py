"""Every code path the READMEs name exists (issue 25): a student reads README.md or README.zh-CN.md with the code
open beside it, so each backticked reference must lead somewhere.

    `bert/model.py`                           the file exists (a `*` is a glob: at least one file matches)
    `bert/model.py:BertModel`                 ... and defines the name at module level (def, class, assignment)
    `bert/model.py:BertPreTrainedModel._init_weights`   ... a method (or attribute) of that class
    `tests/bert/test_attention.py::test_x`    ... and the test function exists in that file

Paths are read inside inline `code` spans (fenced blocks are commands and sketches), relative to the repository.
Skipped: the articles' folder (../shared), the runs' outputs (runs/, out/), a student's own exercise copies
(notebooks/exercises/work/, git-ignored), URLs, and bare file names without a folder (Google's `modeling.py`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
READMES = ("README.md", "README.zh-CN.md")
SKIPPED = ("../", "./../", "runs/", "out/", "notebooks/exercises/work/")
FENCED = re.compile(r"^```.*?^```", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+)`")
REFERENCE = re.compile(r"(?<![\w./*-])((?:[\w*.-]+/)+[\w*.-]+\.py)(?:::([\w:]+)|:([A-Za-z_][\w.]*))?", re.ASCII)


def references(readme: str) -> list[str]:
    """Every code reference of the README, in order, once: 'path', 'path:Name[.attr]' or 'path::test'."""
    found: dict[str, None] = {}
    for span in SPAN.findall(FENCED.sub("", (REPO / readme).read_text(encoding="utf-8"))):
        if "://" in span:
            continue
        for m in REFERENCE.finditer(span):
            path, test, name = m.groups()
            if not path.startswith(SKIPPED):
                found[path + (f"::{test}" if test else f":{name}" if name else "")] = None
    return list(found)


CASES = [(readme, ref) for readme in READMES for ref in references(readme)]


def names_in(tree: ast.AST) -> set[str]:
    """The names a module or class body defines: def, class, assignment (and `self.x = ...` inside a class)."""
    out = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out |= {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.If, ast.Try)):             # a definition under `if` / `try` at the top
            out |= names_in(ast.Module(body=node.body + getattr(node, "orelse", []), type_ignores=[]))
    if isinstance(tree, ast.ClassDef):                         # attributes set on self in the methods
        out |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
                and isinstance(n.value, ast.Name) and n.value.id == "self"}
    return out


def resolve(tree: ast.AST, dotted: str) -> bool:
    """Whether `A.b.c` is defined in `tree`: A at its top level, b in class A, ..."""
    first, _, rest = dotted.partition(".")
    if first not in names_in(tree):
        return False
    if not rest:
        return True
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == first), None)
    return cls is not None and resolve(cls, rest)


def test_the_readmes_name_code_paths():
    assert len(CASES) > 50, "the READMEs name far fewer code paths than expected: is the pattern still right?"


@pytest.mark.parametrize("readme, ref", CASES, ids=[f"{readme}:{ref}" for readme, ref in CASES])
def test_every_code_path_named_in_the_readmes_exists(readme, ref):
    path, _, test = ref.partition("::")
    path, _, name = path.partition(":")
    files = sorted(REPO.glob(path)) if "*" in path else [REPO / path] if (REPO / path).is_file() else []
    assert files, f"{readme} names `{ref}`: no file {path}"
    if name or test:
        tree = ast.parse(files[0].read_text(encoding="utf-8"))
        assert resolve(tree, name or test.replace("::", ".")), f"{readme} names `{ref}`: not defined in {path}"
