"""Tests for bert/training/loop.py: stop + resume = never stopped (bit for bit on the CPU), the NaN guard
leaves the last good checkpoint, the time budget, and the settings checks."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from bert import BertForPreTraining
from bert.training.batches import ShardedBatches
from bert.training.checkpoints import latest_checkpoint, load_checkpoint
from bert.pretraining.data import PretrainingData
from bert.training.evaluate import evaluate_mlm
from bert.training.metrics import read_metrics
from bert.training.loop import NonFiniteLossError, Trainer, TrainingArguments
from tests.bert.pretraining.helpers import CLS, PAD, SEP, random_token_documents, small_vocab_spec, tiny_bert_config


class Stop(Exception):
    """Raised by a callback to simulate a run killed right after a checkpoint."""


def _bert_trainer(out, max_steps=8, model_seed=0, callbacks=None, eval_every=3, scored=True):
    data = PretrainingData(random_token_documents(60), small_vocab_spec(), pad_id=PAD, cls_id=CLS, sep_id=SEP,
                           seq_len=24, seed=3)
    held = PretrainingData(random_token_documents(10, seed=9), small_vocab_spec(), pad_id=PAD, cls_id=CLS,
                           sep_id=SEP, seq_len=24, dynamic=False)
    eval_batches = [held.collate(0, list(range(8)))]
    torch.manual_seed(model_seed)
    model = BertForPreTraining(tiny_bert_config(hidden_dropout_prob=0.2))           # dropout on: RNG state matters
    model.masked_only = True
    args = TrainingArguments(out=str(out), max_steps=max_steps, lr=3e-3, warmup=0.25, log_every=1,
                             eval_every=eval_every, save_every=4, progress=False, seed=11)
    return Trainer(model, ShardedBatches(data, batch_size=5, accumulation=2, seed=3, group_by_length=2), args,
                   evaluate=(lambda m: evaluate_mlm(m, eval_batches)) if scored else None, callbacks=callbacks)


@pytest.mark.slow
def test_stop_and_resume_gives_bitwise_the_same_losses_and_weights(tmp_path):
    straight = _bert_trainer(tmp_path / "a")
    straight.train()

    def kill_at_4(trainer, record):
        if trainer.global_step == 4:
            raise Stop
    with pytest.raises(Stop):
        _bert_trainer(tmp_path / "b", callbacks=[kill_at_4]).train()
    resumed = _bert_trainer(tmp_path / "b", model_seed=123)                      # other initial weights: overwritten
    resumed.train(resume=True)

    a = [r["loss"] for r in read_metrics(tmp_path / "a" / "metrics.jsonl", "train")]
    b = [r["loss"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl", "train")]
    assert len(a) == 8 and a == b                                                # exact float equality
    ev_a = [r["mlm_loss"] for r in read_metrics(tmp_path / "a" / "metrics.jsonl", "eval")]
    ev_b = [r["mlm_loss"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl", "eval")]
    assert ev_a == ev_b and len(ev_a) == 4                                       # steps 0, 3, 6, 8
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    torch.manual_seed(0)
    initial = BertForPreTraining(tiny_bert_config(hidden_dropout_prob=0.2)).state_dict()
    assert not torch.equal(initial["mlm_head.dense.weight"], straight.model.state_dict()["mlm_head.dense.weight"])


# ---------------------------------------------------------------- a toy model for the guard and the clock
@dataclass
class Out:
    loss: torch.Tensor


class Toy(nn.Module):
    """Linear regression whose loss turns NaN on the `poison_at`-th forward call."""

    def __init__(self, poison_at=None):
        super().__init__()
        self.lin = nn.Linear(4, 1)
        self.calls, self.poison_at = 0, poison_at

    def forward(self, x, y):
        self.calls += 1
        loss = ((self.lin(x.float()).squeeze(-1) - y.float()) ** 2).mean()
        return Out(loss * float("nan") if self.calls == self.poison_at else loss)


class ToyData:
    def num_examples(self, epoch):
        return 64

    def lengths(self, epoch):
        return [1] * 64

    def collate(self, epoch, indices):
        g = torch.Generator().manual_seed(1000 * epoch + indices[0])
        x = torch.randn(len(indices), 4, generator=g)
        return {"x": x, "y": x.sum(-1)}


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    model = Toy(poison_at=6)
    args = TrainingArguments(out=str(tmp_path), max_steps=20, lr=1e-2, save_every=2, progress=False)
    trainer = Trainer(model, ShardedBatches(ToyData(), batch_size=4), args)
    with pytest.raises(NonFiniteLossError, match=r"not finite.*step 6 .*last good checkpoint is .*step-0000004"):
        trainer.train()
    path = latest_checkpoint(str(tmp_path))
    assert path.endswith("step-0000004")
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    assert all(torch.isfinite(v).all() for v in weights.values())
    fresh = Toy()
    state = load_checkpoint(path, fresh)
    assert state["step"] == 4
    # the failed step never reached the optimizer: the weights are those of step 5, and step 4's checkpoint loads
    assert all(torch.isfinite(v).all() for v in fresh.state_dict().values())
    assert trainer.global_step == 5


def test_nan_before_any_checkpoint_says_so(tmp_path):
    args = TrainingArguments(out=str(tmp_path), max_steps=5, save_every=0, progress=False)
    with pytest.raises(NonFiniteLossError, match="no checkpoint was written yet"):
        Trainer(Toy(poison_at=1), ShardedBatches(ToyData(), batch_size=4), args).train()


def test_a_time_budget_ends_the_run_and_writes_metrics(tmp_path):
    args = TrainingArguments(out=str(tmp_path), minutes=0.01, lr=1e-2, log_every=1, progress=False)
    summary = Trainer(Toy(), ShardedBatches(ToyData(), batch_size=4), args).train()
    assert summary["elapsed"] >= 0.6 and summary["step"] >= 1
    records = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert records and all(r["kind"] == "train" for r in records)
    lrs = [r["lr"] for r in records]
    assert max(lrs) <= 1e-2 and lrs[0] == 0.0                       # warmup from 0, as the step schedule
    assert latest_checkpoint(str(tmp_path)).endswith(f"step-{summary['step']:07d}")


def test_resume_without_a_checkpoint_or_with_another_batch_is_an_error(tmp_path):
    args = TrainingArguments(out=str(tmp_path), max_steps=2, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(Toy(), ShardedBatches(ToyData(), batch_size=4), args).train(resume=True)
    Trainer(Toy(), ShardedBatches(ToyData(), batch_size=4), args).train()
    with pytest.raises(ValueError, match="global batches of 4 examples, this run has 8"):
        Trainer(Toy(), ShardedBatches(ToyData(), batch_size=8), args).train(resume=True)


def test_training_arguments_are_checked():
    with pytest.raises(ValueError, match="max_steps or minutes"):
        TrainingArguments(out="x")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainingArguments(out="x", max_steps=1, precision="fp8")
    with pytest.raises(ValueError, match="bf16.*needs a CUDA device"):
        Trainer(Toy(), ShardedBatches(ToyData(), batch_size=4),
                TrainingArguments(out="x", max_steps=1, precision="bf16"))


def test_a_task_step_returns_loss_and_parts_and_the_loop_logs_the_parts(tmp_path):
    """The loop calls step(model, batch) for each micro-batch; its parts are averaged like the loss (over the
    accumulation micro-batches) and written in the "train" records."""
    seen = []

    def step(model, batch):
        loss = model(**batch).loss
        seen.append(batch["x"].shape[0])
        return loss, {"twice": 2 * loss, "one": torch.ones(())}

    args = TrainingArguments(out=str(tmp_path), max_steps=3, lr=1e-2, log_every=1, progress=False, save_every=0)
    Trainer(Toy(), ShardedBatches(ToyData(), batch_size=4, accumulation=2), args, compute_loss=step).train()
    records = read_metrics(tmp_path / "metrics.jsonl", "train")
    assert seen == [4] * 6 and [r["step"] for r in records] == [1, 2, 3]
    for r in records:
        assert r["twice"] == pytest.approx(2 * r["loss"], rel=1e-6) and r["one"] == pytest.approx(1.0)
        assert r["grad_norm"] > 0 and r["tokens"] == 0                 # no attention_mask: no token count


def test_without_an_out_folder_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = TrainingArguments(out=None, max_steps=3, lr=1e-2, progress=False)
    summary = Trainer(Toy(), ShardedBatches(ToyData(), batch_size=4), args).train()
    assert summary["step"] == 3 and summary["checkpoint"] is None and list(tmp_path.iterdir()) == []


def test_evaluating_during_training_does_not_change_the_training(tmp_path):
    """Evaluation runs in eval mode (no dropout, no random numbers drawn), so a run scored every step ends with
    exactly the weights of the same run scored never: the curve of a benchmark costs time, not results."""
    scored = _bert_trainer(tmp_path / "a", max_steps=5, eval_every=1)
    scored.train()
    plain = _bert_trainer(tmp_path / "b", max_steps=5, eval_every=0, scored=False)
    plain.train()
    assert scored.last_eval and not plain.last_eval
    for (name, p), q in zip(scored.model.state_dict().items(), plain.model.state_dict().values()):
        assert torch.equal(p, q), name
