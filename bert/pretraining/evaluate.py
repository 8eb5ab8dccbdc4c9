"""Held-out scores of a pre-training model: MLM loss and accuracy, NSP loss and accuracy.

    MLM loss  = −(1/|M|) Σ_{i∈M} log softmax(logits_i)[x_i]     over all masked positions M of all batches
    MLM acc   = (1/|M|) Σ_{i∈M} [argmax logits_i = x_i]
    NSP acc   = (1/B) Σ_b [argmax nsp_logits_b = y_b]              (B examples; y = 0 IsNext, 1 NotNext)

Averages are over positions / examples, not over batches, so the batch size does not change them. A model that
learned nothing scores about 1/V-ish on MLM (in practice the share of the most frequent token, ~5%) and 50% on NSP.
Works with any model whose output has `prediction_logits` (B, T, V) — or (N, V) for the masked positions only, in
row-major order, as ours returns with `masked_only=True` — and `seq_relationship_logits` (B, 2).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .masking import IGNORE_INDEX


def masked_logits(prediction_logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """(logits, targets) at the masked positions: (N, V) and (N,), from full (B, T, V) or masked-only (N, V)."""
    where = labels != IGNORE_INDEX                                        # (B, T)
    targets = labels[where]                                               # (N,)
    if prediction_logits.dim() == 2:                                      # already (N, V)
        if prediction_logits.shape[0] != targets.shape[0]:
            raise ValueError(f"prediction_logits has {prediction_logits.shape[0]} rows for {targets.shape[0]} "
                             "masked positions")
        return prediction_logits, targets
    return prediction_logits[where], targets                              # (B, T, V) -> (N, V)


@torch.no_grad()
def evaluate_pretraining(model: nn.Module, batches: Iterable[dict[str, Tensor]], device: torch.device | str = "cpu",
                         **forward_kwargs) -> dict[str, float]:
    """Run `model` over `batches` (dicts with labels and next_sentence_label) and return mlm_loss, mlm_acc,
    nsp_loss, nsp_acc, masked (|M|) and examples (B). The caller sets eval mode."""
    mlm_nll = mlm_hits = n_masked = 0.0
    nsp_nll = nsp_hits = n_pairs = 0.0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(**batch, **forward_kwargs)
        logits, targets = masked_logits(out.prediction_logits, batch["labels"])
        logits = logits.float()
        mlm_nll += F.cross_entropy(logits, targets, reduction="sum").item()
        mlm_hits += (logits.argmax(-1) == targets).sum().item()
        n_masked += targets.numel()
        nsp = out.seq_relationship_logits.float()
        y = batch["next_sentence_label"]
        keep = y != IGNORE_INDEX
        nsp_nll += F.cross_entropy(nsp[keep], y[keep], reduction="sum").item()
        nsp_hits += (nsp[keep].argmax(-1) == y[keep]).sum().item()
        n_pairs += keep.sum().item()
    if n_masked == 0 or n_pairs == 0:
        raise ValueError("evaluate_pretraining: the batches hold no masked positions or no NSP labels")
    return {"mlm_loss": mlm_nll / n_masked, "mlm_acc": mlm_hits / n_masked, "nsp_loss": nsp_nll / n_pairs,
            "nsp_acc": nsp_hits / n_pairs, "masked": int(n_masked), "examples": int(n_pairs)}
