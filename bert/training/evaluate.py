"""The one held-out evaluator of masked-language models: MLM loss and accuracy, and NSP when the model has it.

    MLM loss  = −(1/|M|) Σ_{i∈M} log softmax(logits_i)[x_i]     over all masked positions M of all batches
    MLM acc   = (1/|M|) Σ_{i∈M} [argmax logits_i = x_i]
    NSP acc   = (1/B) Σ_b [argmax nsp_logits_b = y_b]              (B examples; y = 0 IsNext, 1 NotNext)

Devlin et al. 2019 §3.1 (Task #1 masked LM, Task #2 NSP); article 003 §4.2 (erratum 8: only the masked positions
count). Averages are over positions / examples, not over batches, so the batch size does not change them. A model
that learned nothing scores about the share of the most frequent token (~5%) on MLM and 50% on NSP: that MLM
baseline is `unigram_baseline(batches, most_frequent_token(training documents))`, at the bottom of this file.

It scores any of our MLM models — BertForPreTraining (MLM + NSP), BertForMaskedLM, DistilBertForMaskedLM — and
transformers' too: logits are `prediction_logits` or `logits`, either (B, T, V) or, from a model with
`masked_only = True`, (N, V) at the masked positions in row-major order. Each model gets the batch entries its
`forward` takes (a BERT teacher its token_type_ids, a DistilBERT student none).
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bert.losses import IGNORE_INDEX


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


def model_inputs(model: nn.Module, batch: dict[str, Tensor], device: torch.device | str | None = None
                 ) -> dict[str, Tensor]:
    """The entries of `batch` that `model.forward` takes by name (moved to `device` if given), minus the entries
    the model lists in `drops_from_batches` (DistilBERT: token_type_ids — it has no segment embeddings, so a BERT
    teacher's pair batch gives its student none; a direct call may still pass all-zero ones); for a model wrapped in
    DistributedDataParallel, the entries the wrapped module takes."""
    m = getattr(model, "module", model)
    names = set(inspect.signature(m.forward).parameters) - set(getattr(m, "drops_from_batches", ()))
    return {k: (v if device is None else v.to(device)) for k, v in batch.items() if k in names}


@torch.no_grad()
def evaluate_mlm(model: nn.Module, batches: Iterable[dict[str, Tensor]], device: torch.device | str = "cpu"
                 ) -> dict[str, float]:
    """Run `model` (in eval mode; its mode is restored) over `batches` (dicts with `labels`, and
    `next_sentence_label` for NSP) and return mlm_loss, mlm_acc, masked (|M|) and, when the model scores NSP,
    nsp_loss, nsp_acc and examples (B)."""
    was_training = model.training
    model.eval()
    mlm_nll = mlm_hits = n_masked = 0.0
    nsp_nll = nsp_hits = n_pairs = 0.0
    for batch in batches:
        out = model(**model_inputs(model, batch, device))
        labels = batch["labels"].to(device)
        logits = out.prediction_logits if hasattr(out, "prediction_logits") else out.logits
        logits, targets = masked_logits(logits, labels)
        logits = logits.float()
        mlm_nll += F.cross_entropy(logits, targets, reduction="sum").item()
        mlm_hits += (logits.argmax(-1) == targets).sum().item()
        n_masked += targets.numel()
        nsp = getattr(out, "seq_relationship_logits", None)
        if nsp is not None and "next_sentence_label" in batch:
            y = batch["next_sentence_label"].to(device)
            keep = y != IGNORE_INDEX
            nsp = nsp.float()[keep]
            nsp_nll += F.cross_entropy(nsp, y[keep], reduction="sum").item()
            nsp_hits += (nsp.argmax(-1) == y[keep]).sum().item()
            n_pairs += keep.sum().item()
    model.train(was_training)
    if n_masked == 0:
        raise ValueError("evaluate_mlm: the batches hold no masked positions")
    scores = {"mlm_loss": mlm_nll / n_masked, "mlm_acc": mlm_hits / n_masked, "masked": int(n_masked)}
    if n_pairs:
        scores.update(nsp_loss=nsp_nll / n_pairs, nsp_acc=nsp_hits / n_pairs, examples=int(n_pairs))
    return scores


def most_frequent_token(documents) -> int:
    """The id that occurs most often in tokenized documents (lists of sentences' id lists; ties: the smaller id)."""
    counts = Counter(t for doc in documents for sentence in doc for t in sentence)
    return min(counts, key=lambda t: (-counts[t], t))


def unigram_baseline(batches, token_id: int) -> tuple[float, int]:
    """(accuracy, n) of always guessing `token_id` at the n masked positions of `batches` (the models' own held-out
    batches): that token's share, what a model that learned nothing scores (~5%)."""
    labels = torch.cat([b["labels"][b["labels"] != IGNORE_INDEX] for b in batches])
    return (labels == token_id).sum().item() / max(1, labels.numel()), labels.numel()
