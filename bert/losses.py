"""Every loss of BERT's heads, one formula per function — pre-training (MLM, NSP) and fine-tuning (sequence and token
classification, question answering, multiple choice) — shared with DistilBERT's heads and the Distiller.

    MLM       L = Σ_{i∈M} −log softmax(logits_i)[x_i] / max(|M|, 1)        M = {i : labels_i ≠ −100}
    NSP       L = −log softmax(logits)[y], mean over the pairs whose label is not −100 (0 if none is)
    sequence  MSE (K = 1), cross-entropy (integer labels) or BCE (float (B, K) labels), as transformers chooses
    token     L = Σ_{i: y_i ≠ −100} −log softmax(logits_i)[y_i] / max(#kept, 1)
    span      L = (CE(start_logits, start) + CE(end_logits, end)) / 2,   positions outside [0, T) ignored
    choice    L = −log softmax(scores)[y] over the N choices, mean over the questions whose label is not −100

Devlin et al. 2019 §3.1 (Task #1 masked LM, Task #2 NSP) and §4 (fine-tuning, Figure 4); articles 003 §4.2 (掩码
语言模型的数学模型) and 004 §3.2.1 (预训练). The argument checks sit in bert/validation.py and are attached with
`@checked(...)`, so each body starts with its formula. Every loss follows transformers' so the numbers match, except
that a loss with nothing to predict is 0, not transformers' 0/0 = NaN.

A leaf module: it imports only torch and bert.validation (masking, collate, evaluate and distil import
IGNORE_INDEX from here without loading a model).

Dimension legend
    B  batch    T  tokens    V  vocab_size    K  num_labels (classes)    N  choices
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .validation import (check_class_labels, check_mlm_loss, check_sequence_classification_loss, check_span_loss,
                         checked, is_integer)

IGNORE_INDEX = -100  # the label of a position that is not predicted (HF, PyTorch's cross_entropy default)


def upcast(x: Tensor) -> Tensor:
    """fp16/bf16 -> fp32 for a softmax and its sums; fp32/fp64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def cross_entropy_over_kept(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Σ_{i: labels_i ≠ ignore_index} −log softmax(logits_i)[labels_i] / max(#kept, 1) — logits (*, K), labels (*,).

    F.cross_entropy's mean where something is kept; 0 where every label is ignored (transformers gives NaN there:
    0/0; we give 0, so a batch with nothing to predict adds nothing and the trainer never sees a NaN), with no
    value read back to the host. fp16/bf16 logits are upcast to fp32. Used by every loss with an ignore index:
    MLM, NSP, token classification, question answering (ignore_index = T there)."""
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long()   # (*, K) -> (N', K); (N',)
    nll = F.cross_entropy(upcast(logits), labels, ignore_index=ignore_index, reduction="sum")  # Σ_kept −log p
    return nll / (labels != ignore_index).sum().clamp(min=1)                                    # / max(#kept, 1)


@checked(check_mlm_loss)
def mlm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """L_MLM = Σ_{i∈M} −log softmax(logits_i)[x_i] / max(|M|, 1),   M = {i : labels_i ≠ −100}

    The cross-entropy of the original token x_i at the masked positions only: Devlin et al. 2019 §3.1, Task #1
    ("the final hidden vectors corresponding to the mask tokens are fed into an output softmax over the
    vocabulary"); article 003 §4.2 writes MLM(x) = −log softmax(Wx + b) and leaves out that it is taken only
    there, for the original token (articles README, erratum 8). logits (*, V); labels (*,) hold the original id
    at a masked position and −100 (IGNORE_INDEX) elsewhere. This is the one MLM loss of the project: BERT's
    heads, DistilBERT's MLM head and the Distiller's L_mlm all use it.

    Computed as cross_entropy(reduction="sum") / max(|M|, 1): the mean over M when something is masked (what
    F.cross_entropy's mean gives), 0 — not 0/0 = NaN — when nothing is, and no value is read back to the host.
    fp16/bf16 logits are upcast to fp32 for the log-softmax and the sum.
    """
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long()   # (*, V) -> (N', V); (N',)
    nll = F.cross_entropy(upcast(logits), labels, ignore_index=IGNORE_INDEX, reduction="sum")  # Σ_{i∈M} −log p
    return nll / (labels != IGNORE_INDEX).sum().clamp(min=1)                                  # / max(|M|, 1)


@checked(check_class_labels)
def nsp_loss(logits: Tensor, labels: Tensor, name: str = "labels") -> Tensor:
    """L_NSP = mean over the pairs whose label is not −100 of −log softmax(logits)[y]; labels (B,) or (B, 1),
    0 = IsNext, 1 = NotNext; 0 (not NaN) when every label is −100. Devlin et al. 2019 §3.1, Task #2; article 003
    §4.3. BertForPreTraining and BertForNextSentencePrediction; `name` is the labels' name in error messages."""
    return cross_entropy_over_kept(logits, labels)                          # (B, 2), (B,)


@checked(check_sequence_classification_loss)
def sequence_classification_loss(logits: Tensor, labels: Tensor, problem_type: str | None = None) -> Tensor:
    """The loss of a sequence classifier (Devlin et al. §4.1), as transformers chooses it from `problem_type`
    (config.problem_type) or, when that is None, from K and the labels' dtype: K = 1 → "regression", MSE on float
    labels (B,) or (B, 1); integer labels (B,) or (B, 1) → "single_label_classification", cross-entropy; float
    labels (B, K) → "multi_label_classification", BCE with one 0/1 target per class. "regression" with K > 1 is
    MSE on (B, K). Unlike transformers, the config is never changed by a forward (transformers writes the inferred
    problem_type back into it). Shared by BertForSequenceClassification and DistilBertForSequenceClassification."""
    if problem_type == "regression" or problem_type is None and logits.shape[1] == 1:
        return F.mse_loss(logits.reshape(labels.shape), labels.to(logits.dtype))      # mean (z − y)²
    if problem_type == "multi_label_classification" or problem_type is None and not is_integer(labels):
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))     # mean BCE(σ(z), y)
    return F.cross_entropy(logits, labels.reshape(-1).long())  # single label: −log softmax(z)[y]; −100 ignored, as HF


@checked(check_class_labels)
def token_classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """L = Σ_{i: y_i ≠ −100} −log softmax(logits_i)[y_i] / max(#kept, 1): cross-entropy over the tokens whose label
    is not −100 (label padding and word-piece continuations are −100); logits (B, T, K), labels (B, T) or flat
    (B·T,); 0 when every label is −100 (transformers gives NaN here). Devlin et al. §5.3 (NER);
    BertForTokenClassification and DistilBertForTokenClassification."""
    return cross_entropy_over_kept(logits, labels)                          # (B, T, K), (B, T); all −100: 0


@checked(check_span_loss)
def span_loss(start_logits: Tensor, end_logits: Tensor, start_positions: Tensor, end_positions: Tensor) -> Tensor:
    """(CE(start_logits, start) + CE(end_logits, end)) / 2 with positions (B,) or (B, 1) clamped to [0, T] and T
    ignored (transformers' `ignored_index`) — an answer truncated away adds nothing; all ignored: 0, not NaN.
    Span extraction, Devlin et al. §4.2 (SQuAD); logits (B, T) each."""
    T = start_logits.shape[1]                                               # the ignored index
    return (cross_entropy_over_kept(start_logits, start_positions.clamp(0, T), ignore_index=T)
            + cross_entropy_over_kept(end_logits, end_positions.clamp(0, T), ignore_index=T)) / 2


@checked(check_class_labels)
def choice_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """CE over the N choices: −log softmax(logits)[y], mean over the questions whose label is not −100 (0 if
    none); labels (B,) or (B, 1) hold the index of the right choice. Multiple choice, Devlin et al. §4.4 (SWAG)."""
    return cross_entropy_over_kept(logits, labels)                          # (B, N), (B,)


__all__ = ["IGNORE_INDEX", "upcast", "cross_entropy_over_kept", "mlm_loss", "nsp_loss", "sequence_classification_loss",
           "token_classification_loss", "span_loss", "choice_loss"]
