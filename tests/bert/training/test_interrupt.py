"""Ctrl-C and SIGTERM during training (issue 30, item 8): the step under way finishes, a checkpoint is written, one
line says where it is and how to resume, the exit status is 130 / 143; a second Ctrl-C exits at once; under several
processes every rank stops at the same step (the flag rides on the step's all-reduce). Each test sends the signal
itself, at a chosen step (from inside compute_loss), so nothing waits on the clock."""

from __future__ import annotations

import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from bert.training.batches import ShardedBatches
from bert.training.checkpoints import latest_checkpoint
from bert.training.distributed import DistributedContext
from bert.training.interrupt import TrainingInterrupted
from bert.training.loop import Trainer, TrainingArguments
from bert.training.metrics import read_metrics
from bert.training.runs import run_cli
from tests.bert.training.test_loop import Toy, ToyData

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def signals_delivered():
    """A test run started in the background by a script (`make test &`) inherits SIGINT ignored, and training keeps an
    ignored signal ignored (bert/training/interrupt.py): these tests need SIGINT and SIGTERM to arrive."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in before.items():
        signal.signal(s, signal.SIG_DFL if handler is None else handler)


def signal_at(trainer: Trainer, step: int, *signums: int) -> None:
    """Make `trainer` send itself `signums`, one after the other, in the first forward of step `step`."""
    inner, pending = trainer.compute_loss, list(signums)

    def compute_loss(model, batch):
        while trainer.global_step + 1 == step and pending:
            os.kill(os.getpid(), pending.pop(0))
        return inner(model, batch)
    trainer.compute_loss = compute_loss


class NoisyToy(Toy):
    """The toy regression with dropout on its inputs: a resume must restore the random state to be exact."""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x, y):
        return super().forward(self.drop(x), y)


def tiny_pretraining(tmp_path: Path) -> list[str]:
    """bert.pretrain's options for a tiny model on a tiny corpus (written to tmp_path), a record every step."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(f"Sentence {i} of document {d}.\nAnd another line {d + i}." for d in range(40)
                                  for i in range(2)) + "\n", "utf-8")
    return ["--preset", "tiny", "--corpus", str(corpus), "--vocab-size", "200", "--seq-len", "32", "--batch-size", "4",
            "--eval-examples", "8", "--eval-every", "0", "--save-every", "0", "--log-every", "1", "--no-progress",
            "--no-plot"]


def toy_trainer(out, max_steps=6, save_every=0, ctx=None, model=None, seed=0) -> Trainer:
    ctx = ctx or DistributedContext()
    args = TrainingArguments(out=None if out is None else str(out), max_steps=max_steps, lr=1e-2,
                             save_every=save_every, log_every=1, progress=False, seed=seed)
    return Trainer(model or Toy(), ShardedBatches(ToyData(), batch_size=4, accumulation=2, world_size=ctx.world_size,
                                                  rank=ctx.rank, seed=seed), args, ctx=ctx)


def test_ctrl_c_finishes_the_step_checkpoints_and_resume_is_bitwise_exact(tmp_path):
    torch.manual_seed(0)
    straight = toy_trainer(tmp_path / "a", max_steps=8, save_every=4, model=NoisyToy(), seed=5)
    straight.train()
    torch.manual_seed(0)
    stopped = toy_trainer(tmp_path / "b", max_steps=8, save_every=4, model=NoisyToy(), seed=5)   # step 3: extra
    signal_at(stopped, 3, signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as e:
        stopped.train()
    assert (e.value.signum, e.value.step, stopped.global_step) == (signal.SIGINT, 3, 3)
    assert e.value.checkpoint == latest_checkpoint(str(tmp_path / "b")) and e.value.checkpoint.endswith("step-0000003")
    assert [r["step"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl", "train")] == [1, 2, 3]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler           # the handlers are put back
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    resumed = toy_trainer(tmp_path / "b", max_steps=8, save_every=4, model=NoisyToy(), seed=5)  # other weights
    resumed.train(resume=True)
    a = [r["loss"] for r in read_metrics(tmp_path / "a" / "metrics.jsonl", "train")]
    b = [r["loss"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl", "train")]
    assert len(a) == 8 and a == b                                                 # exact float equality
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_sigterm_through_run_cli_exits_143_with_one_line(tmp_path, capsys):
    trainer = toy_trainer(tmp_path)                                 # save_every=0: only the end would save
    signal_at(trainer, 2, signal.SIGTERM)
    with pytest.raises(SystemExit) as e:
        run_cli("bert.pretrain", lambda argv: trainer.train(), ["--out", str(tmp_path), "--overwrite"])
    assert e.value.code == 143 and trainer.global_step == 2
    assert latest_checkpoint(str(tmp_path)).endswith("step-0000002")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SIGTERM" in err[0] and "step-0000002" in err[0]
    assert f"python -m bert.pretrain --out {tmp_path} --resume" in err[0]          # --overwrite would clear the run


def test_a_run_without_checkpoints_says_nothing_was_kept(capsys):
    trainer = toy_trainer(None)
    signal_at(trainer, 2, signal.SIGINT)
    with pytest.raises(SystemExit) as e:
        run_cli("bert.finetune", lambda argv: trainer.train(), [])
    assert e.value.code == 130 and trainer.global_step == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoint" in err[0] and "--resume" not in err[0]


def test_a_cli_without_resume_names_the_checkpoint_but_no_resume_command(capsys):
    def interrupted(argv):
        raise TrainingInterrupted(signal.SIGINT, 5, "runs/demo/teacher/checkpoints/step-0000005")
    with pytest.raises(SystemExit) as e:
        run_cli("distil.demo", interrupted, ["--out", "runs/demo"], resumable=False)
    line, = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 130 and "step-0000005" in line and "--resume" not in line


def test_a_second_ctrl_c_exits_at_once_and_a_sigterm_after_a_ctrl_c_does_not(tmp_path, capsys):
    trainer = toy_trainer(tmp_path)
    signal_at(trainer, 2, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt) as e:
        trainer.train()
    assert type(e.value) is KeyboardInterrupt and trainer.global_step == 1       # step 2 never finished
    assert latest_checkpoint(str(tmp_path)) is None
    signal_at(trainer, 2, signal.SIGINT, signal.SIGINT)             # through a CLI: one line, 130
    with pytest.raises(SystemExit) as e:
        run_cli("bert.pretrain", lambda argv: trainer.train(), [])
    assert e.value.code == 130 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    trainer = toy_trainer(tmp_path / "torchrun")                    # torchrun forwards Ctrl-C; SIGTERM may follow
    signal_at(trainer, 2, signal.SIGINT, signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as e:
        trainer.train()
    assert (e.value.signum, e.value.step) == (signal.SIGINT, 2)


@pytest.mark.slow
def test_the_command_line_stops_with_130_and_its_resume_command_continues(tmp_path, monkeypatch, capsys):
    from bert.pretraining import cli

    class SignalledTrainer(Trainer):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            signal_at(self, 2, signal.SIGINT)
    monkeypatch.setattr(cli, "Trainer", SignalledTrainer)
    out = tmp_path / "run"
    argv = tiny_pretraining(tmp_path) + ["--max-steps", "4", "--out", str(out)]
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 130
    line, = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("bert.pretrain: ") and "step-0000002" in line and (out / "checkpoints").is_dir()
    command = shlex.split(line.split("python -m bert.pretrain", 1)[1])
    monkeypatch.setattr(cli, "Trainer", Trainer)
    cli.main(command)                                               # the line's command, as printed
    cli.main(argv[:-1] + [str(tmp_path / "straight")])              # the same run, never stopped
    losses = [[r["loss"] for r in read_metrics(run / "metrics.jsonl", "train")] for run in (out, tmp_path / "straight")]
    assert len(losses[0]) == 4 and losses[0] == losses[1]           # dropout on: bit for bit, RNG states included
    a, b = load_file(out / "model.safetensors"), load_file(tmp_path / "straight" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- several processes: every rank stops at one step
def _ddp_worker(rank: int, world: int, init_file: str, out: str) -> None:
    import torch.distributed as dist
    torch.set_num_threads(1)                                        # forked: no OpenMP pool shared with the parent
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=20))      # a rank left waiting fails, not hangs
    trainer = toy_trainer(out, max_steps=8, ctx=DistributedContext(rank, world, rank, enabled=True))
    if rank == 0:
        signal_at(trainer, 3, signal.SIGINT)                        # only rank 0 is signalled
    try:
        trainer.train()
        result = {"stopped": False, "step": trainer.global_step}
    except TrainingInterrupted as e:
        result = {"stopped": True, "step": e.step, "checkpoint": e.checkpoint}
    finally:
        dist.destroy_process_group()
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


@pytest.mark.slow
def test_two_processes_stop_at_the_same_step_when_only_rank_0_is_signalled(tmp_path):
    import torch._dynamo  # noqa: F401 — imported once here, not in each child (the optimizer imports it)
    import torch.multiprocessing as mp
    init = tempfile.mktemp(dir=tmp_path)
    mp.start_processes(_ddp_worker, args=(2, init, str(tmp_path)), nprocs=2, join=True, start_method="fork")
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert results[0] == results[1] and results[0]["stopped"] and results[0]["step"] == 3, results
    assert results[0]["checkpoint"] == latest_checkpoint(str(tmp_path)) and results[0]["checkpoint"].endswith(
        "step-0000003")


# ---------------------------------------------------------------- the real command: SIGTERM from outside
@pytest.mark.slow
def test_sigterm_to_python_dash_m_bert_pretrain_exits_143_with_one_line(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "bert.pretrain", *tiny_pretraining(tmp_path), "--max-steps",
                             "1000000", "--out", str(out)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120                           # wait for a first step (the loop is running)
        while not ((out / "metrics.jsonl").is_file() and '"train"' in (out / "metrics.jsonl").read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-2000:]
    line, = err.strip().splitlines()
    assert "SIGTERM" in line and "--resume" in line and latest_checkpoint(str(out)) in line
