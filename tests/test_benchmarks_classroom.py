"""benchmarks/classroom.py on two tiny recipes: every build is timed in its round, the ratio is to the first
recipe, each model's guesses are read back, and the temporary folders are removed."""

from __future__ import annotations

import tempfile

from benchmarks.classroom import SENTENCES, measure
from bert.pretraining.classroom import RECIPE


def test_measure_times_both_recipes_and_cleans_up(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))            # where the builds' folders go
    tiny = {**RECIPE, "max_steps": 3, "eval_every": 3, "eval_examples": 16}
    recipes = {"a": {**tiny, "vocab_size": 512}, "b": {**tiny, "vocab_size": 256, "intermediate_size": 32}}
    r = measure(recipes, rounds=2)
    assert set(r["seconds"]) == {"a", "b"} and all(len(v) == 2 and min(v) > 0 for v in r["seconds"].values())
    assert r["ratio"]["a"] == 1.0 and r["ratio"]["b"] > 0
    assert r["steps"] == {"a": 3, "b": 3}
    assert all(0 <= r["eval"][name]["mlm_acc"] <= 1 for name in recipes)
    for name in recipes:
        assert len(r["guesses"][name]) == len(SENTENCES) and all(len(g) == 3 for g in r["guesses"][name])
    assert not list(tmp_path.glob("classroom-bench-*"))                 # every build's folder is gone
