"""The library's shape, as README.md's layout and reading order and the readability issues promise it: files a
reader can hold in their head, one training loop (one `backward()`), one MLM loss, each constant defined once, no
import cycle, and no library module that picks a matplotlib backend (that would silently kill a notebook's inline
plots). And the textbook is the code that runs (issue 25): every loss formula in the leaf bert/losses.py, no
module importing another's private name, each model file opening with its model, checks at the edge (a raise
budget for the reading order, one validation call per forward, formulas as first statements), a training loop
whose `train()` reads like its pseudo-code."""

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
    assert {"bert.training.loop", "bert.heads", "bert.losses", "bert.tools.timing", "distil.distiller",
            "distil.step", "tokenization.tokenizer", "tokenization.files"} <= names


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


def defined_names(node: ast.stmt) -> list[str]:
    """The names a module-level statement defines: def, class, `x = ...`, `x: T = ...`."""
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return [node.name] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else []


def definitions(name: str) -> list[str]:
    """'file' of every module-level function or assignment that defines `name`."""
    found = []
    for path in LIBRARY:
        for node in ast.parse(source(path)).body:
            if name in defined_names(node):
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


def from_module(path: Path, node: ast.ImportFrom) -> str:
    """The absolute name of the module a `from ... import` statement in `path` reads from."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return base


def imports(path: Path) -> set[str]:
    """The library modules `path` imports (at module level or inside functions)."""
    me = module_name(path)
    names = {module_name(p) for p in LIBRARY}
    out = set()
    for node in ast.walk(ast.parse(source(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = from_module(path, node)
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


# ---------------------------------------------------------------- issue 25: the textbook is the code that runs
def parse(relative: str) -> ast.Module:
    assert (REPO / relative).is_file(), f"{relative} is missing"
    return ast.parse(source(REPO / relative))


def top_level(tree: ast.AST, name: str, kind: type = ast.FunctionDef):   # `def name` / `class name` in tree.body
    return next((n for n in tree.body if isinstance(n, kind) and n.name == name), None)


LOSSES = ("mlm_loss", "nsp_loss", "sequence_classification_loss", "token_classification_loss", "span_loss",
          "choice_loss", "cross_entropy_over_kept")


@pytest.mark.parametrize("name", LOSSES + ("IGNORE_INDEX",))
def test_every_loss_formula_lives_in_bert_losses(name):
    assert definitions(name) == ["bert/losses.py"]


def test_bert_losses_is_a_leaf_that_imports_only_validation():
    assert (REPO / "bert" / "losses.py").is_file() and imports(REPO / "bert" / "losses.py") <= {"bert.validation"}


def private_imports(path: Path) -> list[str]:
    """'line: from module import _name' for every private name `path` imports from another library module."""
    library = {module_name(p) for p in LIBRARY}
    found = []
    for node in ast.walk(ast.parse(source(path))):
        if isinstance(node, ast.ImportFrom):
            module = from_module(path, node)
            if module in library or module.split(".")[0] in PACKAGES:
                found += [f"{node.lineno}: from {module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    return found


@pytest.mark.parametrize("path", LIBRARY + [REPO / "tests" / "exercise_checks.py"],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_imports_another_modules_private_name(path):
    assert not private_imports(path)


@pytest.mark.parametrize("file, cls, within, most", [("bert/model.py", "BertModel", 60, 180),
                                                     ("distil/model.py", "DistilBertModel", 60, 350)])
def test_each_model_file_opens_with_its_model(file, cls, within, most):
    node = top_level(parse(file), cls, ast.ClassDef)
    assert node is not None and node.lineno <= within, f"class {cls} starts at line {node and node.lineno}"
    assert len(source(REPO / file).splitlines()) <= most


READING_ORDER = ("bert/attention.py", "bert/position.py", "bert/embeddings.py", "bert/layers.py", "bert/model.py",
                 "bert/heads.py", "bert/tasks.py", "bert/losses.py", "bert/pretraining/masking.py",
                 "bert/pretraining/examples.py", "distil/losses.py", "distil/distiller.py", "distil/step.py",
                 "bert/training/loop.py")


def test_the_reading_order_holds_at_most_30_raise_statements():
    found = [f for f in READING_ORDER if (REPO / f).is_file()]
    raises = {f: sum(isinstance(n, ast.Raise) for n in ast.walk(parse(f))) for f in found}
    assert sum(raises.values()) <= 30 and found == list(READING_ORDER), (raises, set(READING_ORDER) - set(found))


def test_trainer_train_is_at_most_35_lines():
    trainer = top_level(parse("bert/training/loop.py"), "Trainer", ast.ClassDef)
    train = trainer and top_level(trainer, "train")
    assert train is not None, "Trainer.train not found in bert/training/loop.py"
    assert train.end_lineno - train.lineno + 1 <= 35


FORMULAS = [("bert/attention.py", "attention")] + [("bert/losses.py", n) for n in LOSSES] + [
    ("distil/losses.py", n) for n in ("soft_target_loss", "cosine_loss", "patient_loss")]


def called_name(node: ast.AST) -> str:            # `f` of `f(...)` or `x.f(...)`, else ""
    func = node.func if isinstance(node, ast.Call) else None
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


@pytest.mark.parametrize("file, name", FORMULAS, ids=lambda x: x)
def test_a_formula_functions_first_statement_is_its_formula(file, name):
    fn = top_level(parse(file), name)
    assert fn is not None, f"def {name} not found in {file}"
    body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
    assert body, f"{file}: {name} has no statement after its docstring"
    first = body[0]
    assert not (isinstance(first, ast.If) and any(isinstance(n, ast.Raise) for n in ast.walk(first))), \
        f"{file}:{first.lineno}: {name} starts with `if ...: raise`"
    call = first.value if isinstance(first, ast.Expr) else None
    assert not called_name(call).startswith(("check", "_check")), f"{file}:{first.lineno}: {name} starts with a check"


MODELS = ("bert/model.py", "bert/heads.py", "bert/tasks.py", "bert/attention.py", "distil/model.py",
          "distil/heads.py", "distil/tasks.py")


def validation_calls(file: str) -> dict[str, int]:
    """{"Class.forward": number of calls into validation}, for every forward of `file` (bert/attention.py:
    MultiHeadAttention's only). A call into validation: a name imported from bert.validation (or a package's
    own `.validation`), an attribute of that module imported whole, or any function named check*/_check*."""
    tree = parse(file)
    names, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = from_module(REPO / file, node)
            if module.endswith(".validation"):
                names |= {a.asname or a.name for a in node.names}
            modules |= {a.asname or a.name for a in node.names if a.name == "validation"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name.endswith(".validation")}
    counts = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        forward = top_level(cls, "forward")
        if forward is None or (file == "bert/attention.py" and cls.name != "MultiHeadAttention"):
            continue
        calls_ = [n for n in ast.walk(forward) if isinstance(n, ast.Call)]
        counts[f"{cls.name}.forward"] = sum(
            called_name(c) in names or called_name(c).startswith(("check", "_check"))
            or (isinstance(c.func, ast.Attribute) and ast.unparse(c.func.value) in modules) for c in calls_)
    return counts


@pytest.mark.parametrize("file", MODELS)
def test_a_models_forward_makes_at_most_one_call_into_validation(file):
    assert all(n <= 1 for n in validation_calls(file).values()), validation_calls(file)
