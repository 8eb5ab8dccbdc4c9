"""The SST-2 experiment (distil/sentiment.py) and `python -m distil.demo`, end to end on tiny stand-ins: a tiny
checkpoint and a TSV with the SST-2 layout, a small word corpus. (The real runs: benchmarks/distil.py, make demo.)"""

from __future__ import annotations

import json
import random
import shutil

import pytest

from distil import DistilBertForMaskedLM
from distil.sentiment import Budget, markdown, run_sst2
from tests.bert.test_finetune import tiny_checkpoint


@pytest.mark.slow
def test_sst2_experiment_runs_and_reports(tmp_path):
    d = tiny_checkpoint(tmp_path)
    (d / "data" / "sst2").mkdir(parents=True)
    shutil.copy(d / "train.tsv", d / "data" / "sst2" / "train.tsv")
    shutil.copy(d / "dev.tsv", d / "data" / "sst2" / "dev.tsv")
    budget = Budget(teacher_steps=100, student_steps=10, batch_size=16, teacher_lr=3e-3, student_lr=3e-3,
                    timing_batches=2, timing_rounds=1)
    r = run_sst2(str(d / "data"), budget, model_dir=str(d / "model"), log=lambda s: None)
    assert r["teacher"]["layers"] == 2 and r["student_distilled"]["layers"] == 1
    assert r["student_distilled"]["teacher_layers"] == [0]
    assert r["student_hard"]["parameters"] == r["student_distilled"]["parameters"] < r["teacher"]["parameters"]
    assert r["teacher"]["accuracy"] > 0.9                     # the one-word rule of the tiny data
    assert set(r["floors"]) == {"teacher_accuracy>=0.88", "student/teacher>=0.95", "time_ratio<=0.55"}
    table = markdown(r)
    assert "| student, distilled | 1 |" in table and "time ratio" in table
    from benchmarks.distil import section                     # the docs section, and its raw JSON, from these results
    assert json.loads(json.dumps(r)) == r and table in "\n".join(section(r, "how it ran"))
    with pytest.raises(OSError, match="no SST-2"):
        run_sst2(str(tmp_path / "nothing"), budget)


@pytest.mark.slow
def test_demo_runs_on_a_small_corpus(tmp_path, capsys):
    from distil.demo import main
    rng = random.Random(0)
    words = [f"word{i}" for i in range(200)]
    docs = ["\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(5, 14))) + " ."
                      for _ in range(rng.randint(2, 6))) for _ in range(150)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(docs) + "\n")
    report = main(["--corpus", str(corpus), "--out", str(tmp_path / "demo"), "--teacher-minutes", "0.03",
                   "--student-minutes", "0.03", "--seq-len", "32", "--data", str(tmp_path / "no-data")])
    assert "| teacher (BERT, 4 layers) |" in report and "| student (DistilBERT, 2 layers) |" in report
    assert "sentiment experiment is skipped" in report
    assert (tmp_path / "demo" / "demo.png").is_file() and (tmp_path / "demo" / "report.md").read_text() == report
    student = DistilBertForMaskedLM.from_pretrained(tmp_path / "demo" / "student")
    assert student.config.n_layers == 2


def test_demo_help():
    from distil.demo import build_parser
    text = build_parser().format_help()
    for flag in ("--data", "--out", "--teacher-minutes", "--student-minutes"):
        assert flag in text
