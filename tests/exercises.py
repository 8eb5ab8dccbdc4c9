"""Exercises (练习): grade a student's own function with the project's own property and parity tests.

    make exercise              # list the exercises; copy the stubs to notebooks/exercises/work/ (never overwriting)
    make check EX=attention    # run this exercise's tests against notebooks/exercises/work/attention.py

How it works (one mechanism, nothing copied): `make check` runs pytest with `--exercise=NAME[=PATH]`. This plugin
(registered in tests/conftest.py) then
  1. loads the student's file by path (default notebooks/exercises/work/NAME.py) — the library never imports it;
  2. collects only the test files of that exercise and keeps only the tests listed for it (`Check`s in tests/exercise_checks.py);
  3. after collection, puts the student's function where ours was: every module-level name in bert/, distil/,
     tests/ … bound to our function is rebound to the student's (so `from bert.x import f` in a test module sees
     it too), or a class's method is replaced; for the attention exercise the models' reference path calls the
     student's function and "auto" resolves to the reference path, so model-level checks run the student's code;
  4. restores everything when the session ends, and prints, for every check, whether it passed, and for every
     failure which property failed — in Chinese and English — with a hint.
Without `--exercise` the plugin does nothing. `python -m tests.exercises [--list]` is what `make exercise` runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

from tests.exercise_checks import EXERCISES, REPO, STUBS, WORK, Check, Exercise, Patcher  # noqa: F401 (re-exported)


# ---------------------------------------------------------------- loading the student's file
def load_student_function(exercise: Exercise, path: Path) -> Callable:
    """Import the file at `path` (as its own module; the library never imports it) and return its function."""
    if not path.is_file():
        raise pytest.UsageError(f"--exercise={exercise.name}: no file {path} (run `make exercise` to copy the stubs)")
    spec = importlib.util.spec_from_file_location(f"exercise_{exercise.name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                              # as an import would (dataclasses need it)
    try:
        spec.loader.exec_module(module)
    except Exception as error:                                   # a syntax error, a bad import: say so, in one line
        raise pytest.UsageError(f"--exercise={exercise.name}: {path} does not import: "
                                f"{type(error).__name__}: {error}") from error
    except SystemExit as error:                                  # exit() at the top: pytest would print INTERNALERROR
        raise pytest.UsageError(f"--exercise={exercise.name}: {path} does not import: it calls exit() or sys.exit() "
                                f"(code {error.code!r}) when imported; remove that call — the file only needs to "
                                f"define `{exercise.function}`") from None
    fn = getattr(module, exercise.function, None)
    if not callable(fn):
        raise pytest.UsageError(f"--exercise={exercise.name}: {path} must define a function "
                                f"`{exercise.function}`, got {type(fn).__name__}")
    return fn


def parse_option(value: str) -> tuple[Exercise, Path]:
    """'NAME' or 'NAME=PATH' → (exercise, path of the student's file)."""
    name, _, path = value.partition("=")
    if name not in EXERCISES:
        raise pytest.UsageError(f"--exercise must name one of {', '.join(EXERCISES)}, got {name!r}")
    return EXERCISES[name], Path(path) if path else WORK / f"{name}.py"


# ---------------------------------------------------------------- the pytest plugin
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--exercise", default=None, metavar="NAME[=PATH]",
                     help=f"grade a student's function with this exercise's tests: one of {', '.join(EXERCISES)}; "
                          "PATH defaults to notebooks/exercises/work/NAME.py (make check EX=NAME)")


class _Grader:
    def __init__(self, exercise: Exercise, path: Path, fn: Callable) -> None:
        self.exercise, self.path, self.fn = exercise, path, fn
        self.patcher = Patcher()
        self.outcomes: dict[int, list[str]] = {}        # check index -> outcomes of its test cases
        self.files = {str(REPO / c.file) for c in exercise.checks}

    def check_of(self, item) -> int | None:
        return next((i for i, c in enumerate(self.exercise.checks) if c.matches(item)), None)


_KEY = pytest.StashKey[_Grader]()


def pytest_configure(config: pytest.Config) -> None:
    value = config.getoption("--exercise", default=None)
    if value:
        exercise, path = parse_option(value)
        config.stash[_KEY] = _Grader(exercise, path, load_student_function(exercise, path))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    grader = config.stash.get(_KEY, None)
    if grader and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return str(collection_path) not in grader.files or None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grader = config.stash.get(_KEY, None)
    if not grader:
        return
    keep = [(grader.check_of(item), n, item) for n, item in enumerate(items)]
    config.hook.pytest_deselected(items=[item for i, _, item in keep if i is None])
    items[:] = [item for i, _, item in sorted(k for k in keep if k[0] is not None)]   # in the order of the checks
    grader.exercise.install(grader.fn, grader.patcher)           # every test module is imported by now


def pytest_sessionfinish(session: pytest.Session) -> None:
    grader = session.config.stash.get(_KEY, None)
    if grader:
        grader.patcher.undo()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        return (yield)
    finally:   # no "git apply … to add failing examples to your code": the project's tests are not the student's
        if item.config.stash.get(_KEY, None):
            item.__dict__.pop("_hypothesis_failing_examples", None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    grader = item.config.stash.get(_KEY, None)
    i = grader.check_of(item) if grader else None
    if i is not None and (report.when == "call" or report.outcome != "passed"):
        grader.outcomes.setdefault(i, []).append(report.outcome)
        if report.failed:
            report.sections.append(("练习 / exercise", _explain(grader.exercise.checks[i], call)))
    return report


def _explain(check: Check, call) -> str:
    lines = [f"没有通过的性质 / property that failed: {check.zh} / {check.en}", f"提示 / hint: {check.hint}"]
    if call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        lines.insert(0, "你的函数还是 `raise NotImplementedError` / your function is still the stub")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    grader = config.stash.get(_KEY, None)
    if not grader:
        return
    e, write = grader.exercise, terminalreporter.write_line
    terminalreporter.section(f"练习 {e.name}: {e.zh} / {e.en}")
    write(f"文件 / file: {grader.path}")
    for i, check in enumerate(e.checks):
        got = grader.outcomes.get(i, [])
        mark = "✗" if "failed" in got else "✓" if "passed" in got else "·"
        write(f"  {mark} {check.zh} / {check.en}")
        if mark == "✗":
            write(f"      提示 / hint: {check.hint}")
    failed = sum("failed" in grader.outcomes.get(i, []) for i in range(len(e.checks)))
    write(f"{len(e.checks) - failed} / {len(e.checks)} 项通过 / checks passed"
          + ("" if failed else " — 全部通过！/ all passed!"))


# ---------------------------------------------------------------- `make exercise`
def copy_stubs(work: Path = WORK, stubs: Path = STUBS) -> list[tuple[str, str]]:
    """Copy every stub to `work/` unless a file of that name is already there (the student's edits are kept).
    Returns (name, "copied" | "kept") per exercise."""
    work.mkdir(parents=True, exist_ok=True)
    done = []
    for name in EXERCISES:
        target = work / f"{name}.py"
        if target.exists():
            done.append((name, "kept"))
            continue
        tmp = work / f".{name}.py.tmp-{os.getpid()}"
        shutil.copyfile(stubs / f"{name}.py", tmp)
        try:
            done.append((name, _create(tmp, target)))
        finally:
            tmp.unlink()
    return done


def _create(source: Path, target: Path) -> str:
    """Put `source`'s bytes at `target` unless `target` exists: "copied" or "kept". A hard link is atomic and never
    replaces a file that appeared meanwhile; where links are not supported, an exclusive create ("x") never does."""
    try:
        os.link(source, target)
    except FileExistsError:
        return "kept"
    except OSError:
        try:
            with open(target, "xb") as f:
                f.write(source.read_bytes())
        except FileExistsError:
            return "kept"
    return "copied"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.exercises", description="List the exercises and copy "
                                     f"their stubs to {WORK.relative_to(REPO)}/ (a file already there is kept).")
    parser.add_argument("--list", action="store_true", help="only list them; copy nothing")
    args = parser.parse_args(argv)
    status = {} if args.list else dict(copy_stubs())
    print("练习 / exercises  (make check EX=<name>)")
    for name, e in EXERCISES.items():
        where = WORK.relative_to(REPO) / f"{name}.py"
        note = {"copied": "copied / 已复制", "kept": "kept, yours / 保留你的文件"}.get(status.get(name), "")
        print(f"  {name:<12} {e.zh} / {e.en}\n  {'':<12} {where}  {e.function}()  {note}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
