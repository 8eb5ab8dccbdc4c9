"""Nothing lost (issue 11): --out is protected, --resume falls back to an intact checkpoint and tolerates a torn
metrics line, numeric options say their range, labels beyond --num-labels are refused where they are read, and
every training CLI exits 2 with one line on bad input. CLIs run in-process through main(argv)."""

from __future__ import annotations

import json
import os
import random

import pytest
import torch

from bert.finetune import read_tsv
from bert.training import ShardedBatches, Trainer, TrainingArguments
from bert.training.metrics import read_metrics
from bert.training.runs import check_out, clear_run_outputs, number
from tests.bert.training.test_loop import Toy, ToyData


# ----------------------------------------------------------------------------- --out
def test_check_out_refuses_a_folder_holding_anything_but_an_earlier_run_with_overwrite(tmp_path):
    check_out(str(tmp_path / "new"), resume=False, overwrite=False)               # new: fine
    (tmp_path / "empty").mkdir()
    check_out(str(tmp_path / "empty"), resume=False, overwrite=False)             # empty: fine
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    for overwrite in (False, True):                                               # not ours: never (issue 30)
        with pytest.raises(FileExistsError, match="not empty.*no run.json"):
            check_out(str(tmp_path / "mine"), resume=False, overwrite=overwrite)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text('{"args": {}}')
    with pytest.raises(FileExistsError, match="earlier run.*--resume.*--overwrite"):
        check_out(str(tmp_path / "run"), resume=False, overwrite=False)
    check_out(str(tmp_path / "run"), resume=True, overwrite=False)               # its own run: resumable
    check_out(str(tmp_path / "run"), resume=False, overwrite=True)               # or replaceable
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        check_out(str(tmp_path / "file"), resume=False, overwrite=True)


@pytest.mark.parametrize("out", ["teacher", "teacher/student", "teacher/./x/.."])
def test_out_may_not_be_or_lie_inside_an_input_even_with_overwrite(tmp_path, out):
    (tmp_path / "teacher").mkdir()
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="--teacher"):
            check_out(str(tmp_path / out), resume=False, overwrite=overwrite, inputs={"--teacher": str(tmp_path /
                                                                                                       "teacher")})
    check_out(str(tmp_path / "teacher-2"), resume=False, overwrite=False, inputs={"--teacher": str(tmp_path /
                                                                                                  "teacher")})


def test_overwrite_removes_only_the_earlier_run_outputs(tmp_path):
    for name in ("run.json", "metrics.jsonl", "metrics.png", "vocab.txt", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "checkpoints" / "step-0000001").mkdir(parents=True)
    clear_run_outputs(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "vocab.txt"]


def test_pretrain_refuses_a_non_empty_out_and_an_earlier_run(tmp_path, capsys):
    from bert.pretraining.cli import main
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path), "--max-steps", "1", "--no-progress"])
    assert e.value.code == 2 and "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "precious" and os.listdir(tmp_path) == ["keep.txt"]


def test_distil_train_refuses_to_write_over_its_teacher(tmp_path, capsys):
    from distil.train import main
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "config.json").write_text("{}")
    for out in (teacher, teacher / "student"):
        with pytest.raises(SystemExit) as e:
            main(["mlm", "--teacher", str(teacher), "--out", str(out), "--max-steps", "1", "--overwrite"])
        assert e.value.code == 2 and "--teacher" in capsys.readouterr().err
    assert os.listdir(teacher) == ["config.json"]


def test_finetune_refuses_an_out_inside_its_model(tmp_path, capsys):
    from bert.finetune import main
    (tmp_path / "model").mkdir()
    with pytest.raises(SystemExit) as e:
        main(["--model", str(tmp_path / "model"), "--train", "x.tsv", "--out", str(tmp_path / "model")])
    assert e.value.code == 2 and "--model" in capsys.readouterr().err


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    from distil.demo import main
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path)])
    assert e.value.code == 2 and "not empty" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["thesis.tex"]


# ----------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("argv, message", [
    (["--grad-clip", "-1"], "--grad-clip: must be a number ≥ 0"),
    (["--max-predictions", "0"], "--max-predictions: must be an integer ≥ 1"),
    (["--lr", "0"], "--lr: must be a number > 0"),
    (["--lr", "nan"], "--lr: must be a number > 0"),
    (["--warmup", "1"], "--warmup: must be a number ≥ 0 and < 1"),
    (["--batch-size", "2.5"], "--batch-size: must be an integer ≥ 1"),
    (["--mask-prob", "0"], "--mask-prob: must be a number > 0 and < 1"),
])
def test_numeric_options_say_their_range(tmp_path, capsys, argv, message):
    from bert.pretraining.cli import main
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "x"), *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_number_type_bounds():
    assert number(int, 1)("3") == 3 and number(float, 0, 1, high_open=True)("0.5") == 0.5
    for bad in ("inf", "-0.1", "1", "x"):
        with pytest.raises(Exception, match="must be a number ≥ 0 and < 1"):
            number(float, 0, 1, high_open=True)(bad)


# ----------------------------------------------------------------------------- labels where they are read
def test_a_label_beyond_num_labels_is_refused_with_file_and_line(tmp_path):
    tsv = tmp_path / "dev.tsv"
    tsv.write_text("sentence\tlabel\ngood .\t1\nbad .\t0\nodd .\t2\n")
    assert read_tsv(tsv).labels == [1, 0, 2]
    with pytest.raises(ValueError, match=r"dev.tsv' line 4: label must be in \[0, 2\), got 2"):
        read_tsv(tsv, num_labels=2)
    tsv.write_bytes(b"sentence\tlabel\n\xff\xfe bad\t0\n")
    with pytest.raises(OSError, match="dev.tsv.*not UTF-8"):
        read_tsv(tsv)


# ----------------------------------------------------------------------------- resume
def _toy_run(out, max_steps):
    args = TrainingArguments(out=str(out), max_steps=max_steps, lr=1e-2, log_every=1, save_every=2,
                             keep_checkpoints=3, progress=False)
    return Trainer(Toy(), ShardedBatches(ToyData(), batch_size=4), args)


def test_resume_falls_back_to_the_newest_intact_checkpoint_and_says_so(tmp_path, capsys):
    _toy_run(tmp_path, 6).train()
    root = tmp_path / "checkpoints"
    assert sorted(os.listdir(root)) == ["latest", "step-0000002", "step-0000004", "step-0000006"]
    weights = root / "step-0000006" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])                       # a torn latest checkpoint
    state = root / "step-0000004" / "trainer_state.pt"
    state.write_bytes(state.read_bytes()[:100])                          # and a torn one before it
    resumed = _toy_run(tmp_path, 8)
    summary = resumed.train(resume=True)
    err = capsys.readouterr().err
    assert "skipping checkpoint" in err and "step-0000006" in err and "step-0000004" in err
    assert summary["step"] == 8 and resumed.last_checkpoint.endswith("step-0000008")
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl", "train")]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]                             # records after step 2 replaced, none lost


def test_resume_with_no_intact_checkpoint_names_what_it_tried(tmp_path):
    _toy_run(tmp_path, 2).train()
    (tmp_path / "checkpoints" / "step-0000002" / "trainer_state.pt").write_bytes(b"junk")
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from.*step-0000002"):
        _toy_run(tmp_path, 4).train(resume=True)


def test_a_torn_last_metrics_line_is_dropped_and_a_broken_middle_line_is_an_error(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    good = [json.dumps({"kind": "train", "step": s, "loss": random.random()}) for s in (1, 2)]
    path.write_text("\n".join(good) + '\n{"kind": "train", "st')
    assert [r["step"] for r in read_metrics(path)] == [1, 2]
    assert "torn last line 3" in capsys.readouterr().err
    path.write_text(good[0] + "\n{oops\n" + good[1] + "\n")
    with pytest.raises(ValueError, match="metrics.jsonl: line 2 is not a JSON record"):
        read_metrics(path)


def test_resume_tolerates_a_torn_metrics_line(tmp_path):
    _toy_run(tmp_path, 4).train()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"kind": "tra')                                          # killed mid-write
    summary = _toy_run(tmp_path, 6).train(resume=True)
    assert summary["step"] == 6
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl", "train")] == [1, 2, 3, 4, 5, 6]
    assert torch.isfinite(torch.tensor([r["loss"] for r in read_metrics(tmp_path / "metrics.jsonl")])).all()


def test_resume_refuses_a_changed_learning_rate_in_one_line(tmp_path, capsys):
    """Issue 30: `--resume --lr 0.5` was accepted and rewrote run.json (the run's real rate lost)."""
    from bert.pretraining.cli import build_parser, main
    (tmp_path / "run.json").write_text(json.dumps({"args": vars(build_parser().parse_args(["--out", str(tmp_path)]))}))
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path), "--resume", "--lr", "0.5", "--no-progress"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--lr: 0.001 then, 0.5 now" in err and len(err.strip().splitlines()) == 1, err


def test_a_pickled_trainer_state_is_refused_in_one_line_naming_the_file(tmp_path, capsys):
    """A trainer_state.pt holding a pickled object (code would run on loading) is skipped with one line per
    checkpoint naming the file — no torch essay advising weights_only=False (issue 30)."""
    import argparse
    _toy_run(tmp_path, 2).train()
    state = tmp_path / "checkpoints" / "step-0000002" / "trainer_state.pt"
    torch.save({"step": 2, "args": argparse.Namespace(lr=0.1)}, state)     # an object: not a tensor or a plain value
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from") as e:
        _toy_run(tmp_path, 4).train(resume=True)
    err = capsys.readouterr().err
    assert err.count("trainer_state.pt") == 1 and len(err.strip().splitlines()) == 1, err
    assert "weights_only" not in err + str(e.value) and len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize("cli, argv", [
    ("bert.pretraining.cli", ["--out", "{tmp}/x"]),
    ("bert.finetune", ["--model", "{tmp}/m", "--train", "{tmp}/t.tsv", "--out", "{tmp}/x"]),
    ("distil.finetune", ["--model", "{tmp}/m", "--train", "{tmp}/t.tsv", "--out", "{tmp}/x"]),
    ("distil.train", ["task", "--teacher", "{tmp}/m", "--train", "{tmp}/t.tsv", "--out", "{tmp}/x"]),
])
@pytest.mark.parametrize("device", ["bogus", "cuda:99"])
def test_a_device_torch_does_not_know_is_one_line_naming_device_in_every_cli(tmp_path, capsys, cli, argv, device):
    import importlib
    main = importlib.import_module(cli).main
    with pytest.raises(SystemExit) as e:
        main([a.format(tmp=tmp_path) for a in argv] + ["--device", device, "--max-steps", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"--device {device!r}" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU case: on a CUDA machine bf16 is fine")
@pytest.mark.parametrize("cli, argv", [("bert.pretraining.cli", ["--out", "{tmp}/x"]),
                                       ("distil.train", ["mlm", "--teacher", "{tmp}/m", "--out", "{tmp}/x"])])
def test_half_precision_on_the_cpu_is_refused_at_the_start_naming_the_option(tmp_path, capsys, cli, argv):
    import importlib
    with pytest.raises(SystemExit) as e:
        importlib.import_module(cli).main([a.format(tmp=tmp_path) for a in argv] + ["--precision", "bf16"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--precision bf16" in err and len(err.strip().splitlines()) == 1, err


# ----------------------------------------------------------------------------- one subprocess smoke test per CLI
@pytest.mark.parametrize("module, argv", [
    ("bert.pretrain", ["--out", "{tmp}/x", "--grad-clip", "-1"]),
    ("bert.finetune", ["--model", "{tmp}/missing", "--train", "{tmp}/missing.tsv"]),
    ("distil.train", ["task", "--teacher", "{tmp}/missing", "--train", "t.tsv", "--out", "{tmp}/y"]),
    ("distil.finetune", ["--model", "{tmp}/missing", "--train", "{tmp}/missing.tsv"]),
    ("distil.demo", ["--out", "{tmp}", "--seq-len", "4"]),
])
def test_every_cli_exits_2_with_one_line_and_no_traceback(tmp_path, module, argv):
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-m", module, *[a.format(tmp=tmp_path) for a in argv]], cwd=repo,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(repo), HF_HUB_OFFLINE="1"))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "error" in done.stderr
