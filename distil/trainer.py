"""Distillation runs on the pre-training Trainer: data, evaluation and logging for the two settings.

The loop itself is `bert.pretraining.trainer.Trainer` — AdamW without decay on biases/LayerNorm, warmup then linear
decay, clipping, accumulation, autocast on CUDA, metrics.jsonl, a progress bar, atomic checkpoints, `resume`, and
several processes under torchrun. It trains any module whose forward returns `.loss`; here that module is a
`Distiller` (student + frozen teacher), so checkpoints hold the student only and DDP wraps the student only.
What this file adds:

- `mlm_data`: general distillation data — the pre-training pipeline (corpus → held-out documents → WordPiece ids
  → `[CLS] A [SEP] B [SEP]` examples → 80/10/10 masks), with the *teacher's* vocabulary;
- `ClassificationData`: task-specific distillation data — a GLUE-style TSV, in the Trainer's `EpochData` shape
  (so batches are sharded, length-grouped and resumable like the pre-training ones);
- `evaluate_mlm` / `evaluate_classifier`: held-out MLM loss and accuracy, dev accuracy and F1;
- `PartsLog`: a Trainer callback writing the three parts of the loss (α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos) as
  "distil" records in metrics.jsonl (the Trainer's own "train" records carry only the total and `mlm_loss`);
- `plot_distillation`: the parts of the loss and the held-out score against steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bert.finetune import classification_metrics, encode, pad_batch, predict, read_tsv
from bert.pretraining import MaskingSpec, PretrainingData, load_documents, split_heldout, tokenize_documents
from bert.pretraining.metrics import read_metrics, save_figure

IGNORE_INDEX = -100


# ----------------------------------------------------------------------------- data
def mlm_data(corpus: Sequence[str], tokenizer, seq_len: int = 128, seed: int = 0, heldout_fraction: float = 0.05,
             eval_examples: int = 1000, eval_batch_size: int = 64,
             short_seq_prob: float = 0.1) -> tuple[PretrainingData, list[dict[str, Tensor]], dict[str, int]]:
    """(training data, held-out batches, stats) for MLM distillation, built as `python -m bert.pretrain` builds
    them (same held-out split of whole documents, so a teacher pre-trained there is scored on text it never saw)."""
    documents = load_documents(list(corpus))
    train_docs, heldout_docs = split_heldout(documents, heldout_fraction)
    spec = MaskingSpec.from_tokenizer(tokenizer, max_predictions=-(-seq_len * 15 // 100))
    ids = dict(pad_id=tokenizer.pad_token_id, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id)
    train = PretrainingData(tokenize_documents(train_docs, tokenizer), spec, seq_len=seq_len, seed=seed,
                            short_seq_prob=short_seq_prob, **ids)
    heldout = PretrainingData(tokenize_documents(heldout_docs, tokenizer), spec, seq_len=seq_len, seed=0,
                              short_seq_prob=short_seq_prob, dynamic=False, **ids)
    n = min(eval_examples, heldout.num_examples(0))
    batches = [heldout.collate(0, list(range(s, min(s + eval_batch_size, n)))) for s in range(0, n, eval_batch_size)]
    stats = {"train_documents": len(train_docs), "heldout_documents": len(heldout_docs),
             "train_examples_epoch0": train.num_examples(0), "heldout_examples": n}
    return train, batches, stats


class ClassificationData:
    """A labelled TSV as the Trainer's EpochData: the same examples every epoch (the order is the batch plan's).
    `collate` gives input_ids, attention_mask (B, T) and labels (B,)."""

    def __init__(self, path: str, tokenizer, max_length: int = 64, limit: int | None = None):
        table = read_tsv(path, limit=limit)
        self.labels = table.labels
        self.ids = encode(tokenizer, table.sentences, max_length)
        self.pad_id = tokenizer.pad_token_id
        self.num_labels = max(self.labels) + 1

    def num_examples(self, epoch: int) -> int:
        return len(self.ids)

    def lengths(self, epoch: int) -> list[int]:
        return [len(x) for x in self.ids]

    def collate(self, epoch: int, indices: Sequence[int]) -> dict[str, Tensor]:
        batch = pad_batch([self.ids[i] for i in indices], self.pad_id)
        batch["labels"] = torch.tensor([self.labels[i] for i in indices], dtype=torch.long)   # (B,)
        return batch


# ----------------------------------------------------------------------------- evaluation
def _student(model: nn.Module) -> nn.Module:
    return getattr(model, "student", model)


@torch.no_grad()
def evaluate_mlm(model: nn.Module, batches: Iterable[dict[str, Tensor]], device: torch.device | str = "cpu",
                 segments: bool = False) -> dict[str, float]:
    """Held-out MLM loss and accuracy at the masked positions (bert/pretraining/evaluate.py's formulas):
    loss = −(1/|M|) Σ log p(x_i), accuracy = (1/|M|) Σ [argmax = x_i]. `model`: a Distiller (its student is
    scored), a DistilBertForMaskedLM, or a BERT MLM model (`segments=True` passes the batch's token_type_ids)."""
    model = _student(model)
    was_training = model.training
    model.eval()
    nll = hits = n = 0.0
    for batch in batches:
        kw = {"token_type_ids": batch["token_type_ids"].to(device)} if segments else {}
        labels = batch["labels"].to(device)
        out = model(batch["input_ids"].to(device), batch["attention_mask"].to(device), labels=labels,
                    masked_only=True, **kw)
        logits = (out.prediction_logits if hasattr(out, "prediction_logits") else out.logits).float()   # (N, V)
        targets = labels[labels != IGNORE_INDEX]                                                           # (N,)
        nll += F.cross_entropy(logits, targets, reduction="sum").item()
        hits += (logits.argmax(-1) == targets).sum().item()
        n += targets.numel()
    model.train(was_training)
    if n == 0:
        raise ValueError("evaluate_mlm: the batches hold no masked positions")
    return {"mlm_loss": nll / n, "mlm_acc": hits / n, "masked": int(n)}


def evaluate_classifier(model: nn.Module, data: ClassificationData, device: torch.device | str = "cpu") -> dict:
    """Dev accuracy and F1 (bert.finetune.classification_metrics) of a classifier or a Distiller's student."""
    logits = predict(_student(model), data.ids, pad_id=data.pad_id, device=device)
    return classification_metrics(logits.argmax(-1), data.labels, max(data.num_labels, logits.shape[-1]))


# ----------------------------------------------------------------------------- logging
class PartsLog:
    """Trainer callback: every `every` steps (and the last), rank 0 appends
    {"kind": "distil", "step", "ce_loss", "mlm_loss", "cos_loss"} — the means of the Distiller's parts over the steps
    since the previous record, on rank 0's micro-batches — to OUT/metrics.jsonl, after the Trainer's own record."""

    def __init__(self, distiller: nn.Module, path: str, every: int = 10):
        self.distiller, self.path, self.every = distiller, path, every

    def __call__(self, trainer, record: dict[str, Any]) -> None:
        if record["step"] % self.every and not trainer._finished():
            return
        parts = self.distiller.running_parts()
        if trainer.ctx.is_main:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"kind": "distil", "step": record["step"], "time": record["time"], **parts}) + "\n")


def plot_distillation(metrics: str, png: str, score: str = "mlm_acc", reference: dict[str, float] | None = None,
                      title: str | None = None) -> str:
    """Two panels from a distillation run's metrics.jsonl: the weighted parts of the loss against steps, and the
    student's held-out `score` against steps, with horizontal lines at `reference` values (e.g. the teacher's).
    Written atomically; returns `png`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts, evals = read_metrics(metrics, "distil"), read_metrics(metrics, "eval")
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=90)
    for key, label in (("ce_loss", "L_ce (soft targets, T²·KL)"), ("mlm_loss", "L_mlm (true labels)"),
                       ("cos_loss", "L_cos (1 − cos of hidden states)")):
        ax_loss.plot([r["step"] for r in parts], [r[key] for r in parts], lw=1, label=label)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (unweighted)")
    ax_loss.set_yscale("log")
    ax_loss.legend(fontsize=7)
    ax_score.plot([r["step"] for r in evals], [r.get(score, float("nan")) for r in evals], "o-", ms=3,
                  label=f"student held-out {score}")
    for i, (name, value) in enumerate((reference or {}).items()):
        ax_score.axhline(value, ls="--", lw=1, color=f"C{i + 1}", label=name)
    ax_score.set_xlabel("step")
    ax_score.set_ylabel(score)
    ax_score.grid(alpha=0.3)
    ax_score.legend(fontsize=7)
    return save_figure(fig, png, title)


__all__ = ["mlm_data", "ClassificationData", "evaluate_mlm", "evaluate_classifier", "PartsLog", "plot_distillation"]
