"""Distillation as a task of the one training loop: its data, its step, its plot.

The loop is bert/training/loop.py — AdamW without decay on biases/LayerNorm, warmup then linear decay, clipping,
accumulation, autocast on CUDA, metrics.jsonl, a progress bar, atomic checkpoints, `resume`, and several processes
under torchrun. It trains the *student*: checkpoints hold the student only and DDP wraps the student only; the
teacher lives in the step. What this file adds:

- `mlm_data`: general distillation data — the pre-training pipeline (corpus → held-out documents → WordPiece ids
  → `[CLS] A [SEP] B [SEP]` examples → 80/10/10 masks), with the *teacher's* vocabulary. (Task-specific
  distillation reads a labelled TSV: `bert.finetune.ClassificationData`.)
- `DistillationStep`: step(student, batch) → (loss, parts) — the teacher's outputs, the student's, and the
  Distiller's α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos (distil/distiller.py); the loop logs the three parts in its
  "train" records;
- `student_only_step`: the control experiment's step — the same student on the same batches with L_mlm alone
  (no teacher), so that what distillation adds can be measured;
- `plot_distillation`: the parts of the loss and the held-out score against steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from bert.pretraining import MaskingSpec, PretrainingData, load_documents, split_heldout, tokenize_documents
from bert.pretraining.cli import heldout_batches
from bert.training import model_inputs, read_metrics
from bert.training.metrics import figure, save_figure

from .distiller import Distiller
from .losses import patient_loss


# ----------------------------------------------------------------------------- data
def mlm_data(corpus: Sequence[str], tokenizer, seq_len: int = 128, seed: int = 0, heldout_fraction: float = 0.05,
             eval_examples: int = 1000, eval_batch_size: int = 64,
             short_seq_prob: float = 0.1) -> tuple[PretrainingData, list[dict[str, Tensor]], dict[str, int]]:
    """(training data, held-out batches, stats) for MLM distillation, built as `python -m bert.pretrain` builds
    them: the same held-out split of whole documents (a teacher pre-trained there is scored on text it never saw)
    and, with the teacher's vocabulary and the same seq_len, the very same evaluation batches."""
    documents = load_documents(list(corpus))
    train_docs, heldout_docs = split_heldout(documents, heldout_fraction)
    spec = MaskingSpec.from_tokenizer(tokenizer, max_predictions=-(-seq_len * 15 // 100))
    ids = dict(pad_id=tokenizer.pad_token_id, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id)
    train = PretrainingData(tokenize_documents(train_docs, tokenizer), spec, seq_len=seq_len, seed=seed,
                            short_seq_prob=short_seq_prob, **ids)
    heldout = PretrainingData(tokenize_documents(heldout_docs, tokenizer), spec, seq_len=seq_len, seed=0,
                              short_seq_prob=short_seq_prob, dynamic=True, **ids)
    batches = heldout_batches(heldout, eval_examples, eval_batch_size)       # the evaluation set of bert.pretrain
    stats = {"train_documents": len(train_docs), "heldout_documents": len(heldout_docs),
             "train_examples_epoch0": train.num_examples(0),
             "heldout_examples": sum(len(b["input_ids"]) for b in batches)}
    return train, batches, stats


# ----------------------------------------------------------------------------- the step
class DistillationStep:
    """step(student, batch) -> (loss, parts) for the training loop (general and task-specific distillation alike).

    The teacher runs first, without gradients; then the student; then the Distiller's triple loss on the two:
    - L_ce on the logits' rows that count: every non-pad token for (B, T, V) logits (the published recipe), every
      row for (N, V) logits (both models with `masked_only = True`: the masked positions only) or (B, K) logits
      (a task: one row per sentence);
    - L_mlm = the student's own loss on the batch's labels (masked tokens, or the task's classes);
    - L_cos on the last hidden states of the non-pad tokens (asked for only when α_cos > 0);
    - with `alpha_pt` > 0, also α_pt · L_pt (`distil.losses.patient_loss`) on the [CLS] states of the student's
      intermediate layers and of the teacher layers they were copied from (`intermediate_pairs`), logged as
      "pt_loss".

    The teacher is held here, not inside the student: it is not trained, not saved with the student, not wrapped by
    DistributedDataParallel, and its parameters never reach the optimizer. It stays in eval mode (no dropout: its
    targets are its best predictions). Each model gets the batch entries its forward takes: a BERT teacher on
    `[CLS] A [SEP] B [SEP]` pairs its token_type_ids, the DistilBERT student none (it learns to do without them; on
    single-segment text, as in the published distiller, the two see exactly the same input).
    """

    def __init__(self, teacher: nn.Module, distiller: Distiller, alpha_pt: float = 0.0):
        if isinstance(alpha_pt, bool) or not isinstance(alpha_pt, (int, float)) or alpha_pt < 0:
            raise ValueError(f"alpha_pt must be a number ≥ 0, got {alpha_pt!r}")
        self.teacher = teacher.eval().requires_grad_(False)
        self.distiller = distiller
        self.alpha_pt = float(alpha_pt)

    def __call__(self, student: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        hidden = self.distiller.needs_hidden_states or self.alpha_pt > 0
        with torch.no_grad():
            t = self.teacher(**model_inputs(self.teacher, batch), output_hidden_states=hidden)
        s = student(**model_inputs(student, batch), output_hidden_states=hidden)
        tokens = batch["attention_mask"].bool()                                      # (B, T) non-pad
        positions = tokens if s.logits.dim() == 3 else None                          # (B, T, V): the tokens count
        loss, parts = self.distiller(s.logits, _logits(t), s.loss, s.hidden_states[-1] if hidden else None,
                                     t.hidden_states[-1] if hidden else None, positions=positions, tokens=tokens)
        if self.alpha_pt > 0:                                                        # + α_pt · L_pt
            layers = getattr(getattr(student, "module", student), "teacher_layers", None)
            if layers is None:
                raise ValueError("alpha_pt > 0 needs the student's teacher_layers (set by student_from_teacher): "
                                 "which teacher layer each student layer stands for")
            pairs = intermediate_pairs(layers)
            l_pt = patient_loss([s.hidden_states[j][:, 0] for j, _ in pairs],     # the [CLS] states
                                [t.hidden_states[k][:, 0] for _, k in pairs])
            loss = loss + self.alpha_pt * l_pt
            parts = {**parts, "pt_loss": l_pt.detach()}
        return loss, parts


def intermediate_pairs(teacher_layers: Sequence[int]) -> list[tuple[int, int]]:
    """(student index, teacher index) into the models' hidden_states (index 0: the embeddings, index j: the output
    of block j) for patient distillation: student block j (1-based) is a copy of teacher block teacher_layers[j-1]
    (0-based), whose output is teacher index teacher_layers[j-1] + 1; the last block is left out (Sun et al. 2019
    §3.2). [0, 3, 5] → [(1, 1), (2, 4)]."""
    return [(j, teacher_layers[j - 1] + 1) for j in range(1, len(teacher_layers))]


def student_only_step(student: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """step(student, batch) -> (L_mlm, {"mlm_loss": L_mlm}): the student's own masked-LM loss on the batch's labels,
    and nothing from a teacher — the control run of `python -m distil.train mlm --without-teacher` (same
    initialisation, batches and steps as the distilled student; only the loss differs)."""
    loss = student(**model_inputs(student, batch)).loss
    return loss, {"mlm_loss": loss.detach()}


def _logits(out) -> Tensor:
    return out.prediction_logits if hasattr(out, "prediction_logits") else out.logits


# ----------------------------------------------------------------------------- logging
def plot_distillation(metrics: str, png: str, score: str = "mlm_acc", reference: dict[str, float] | None = None,
                      title: str | None = None) -> str:
    """Two panels from a distillation run's metrics.jsonl: the weighted parts of the loss against steps, and the
    student's held-out `score` against steps, with horizontal lines at `reference` values (e.g. the teacher's).
    Written atomically; returns `png`."""
    parts, evals = read_metrics(metrics, "train"), read_metrics(metrics, "eval")
    fig, (ax_loss, ax_score) = figure(1, 2, figsize=(9, 3.4))
    for key, label in (("ce_loss", "L_ce (soft targets, T²·KL)"), ("mlm_loss", "L_mlm (true labels)"),
                       ("cos_loss", "L_cos (1 − cos of hidden states)")):
        if parts and key in parts[0]:                         # a run without a teacher logs L_mlm only
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


__all__ = ["mlm_data", "DistillationStep", "intermediate_pairs", "student_only_step", "plot_distillation"]
