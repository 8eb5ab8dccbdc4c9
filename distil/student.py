"""A DistilBERT student built from a BERT teacher: its embeddings, every other layer, and its head.

Sanh et al. 2019 §3 ("Student initialization"): "we initialize the student from the teacher by taking one layer
out of two", since teacher and student share the width. The published extraction script (HF's
`examples/research_projects/distillation/scripts/extract_distilbert.py`) takes BERT-base's layers
[0, 2, 4, 7, 9, 11] — not simply the even ones: it keeps the first and the last layer and spreads the rest.
Articles 000 §2 and 002 §3 (核心算法原理具体操作步骤) describe a student as a "smaller BERT"; this is how one is made.

The general rule used here, for a teacher with L layers and a student with n:

    layer_j = round_half_up( j · (L − 1) / (n − 1) ),   j = 0 … n − 1      (n = 1: the first layer)

evenly spaced from the first layer to the last; n defaults to ceil(L / 2). For L = 12, n = 6 this is
0, 2.2, 4.4, 6.6, 8.8, 11 → [0, 2, 4, 7, 9, 11], the published choice; for L = 6, n = 3 it is [0, 3, 5].

What is copied:
- word embeddings, the embedding LayerNorm, and the learned position table with the teacher's token-type-0
  row added to every position: E'_pos = E_pos + E_segment[0]. DistilBERT has no token types; the extraction
  script drops them, which shifts every input embedding by −E_segment[0] before the LayerNorm. Folding it in
  keeps the student's input embeddings equal to the teacher's on single-segment input (token_type_ids all 0):
  a student given *all* the teacher's layers computes the same function (tests/distil/test_student.py).
- the chosen encoder blocks, unchanged (they are the same class, `bert.layers.EncoderBlock`).
- the head: BertForPreTraining / BertForMaskedLM → DistilBertForMaskedLM with the MLM head (transform,
  LayerNorm, bias; the decoder is the tied word embeddings). BertForSequenceClassification →
  DistilBertForSequenceClassification with pooler.dense → pre_classifier and classifier → classifier.
  BertForMultipleChoice → DistilBertForMultipleChoice, the same way. BertForTokenClassification →
  DistilBertForTokenClassification (classifier → classifier) and BertForQuestionAnswering →
  DistilBertForQuestionAnswering (qa_outputs → qa_outputs): these heads read every token's state, as BERT's do.
  BertModel → DistilBertModel (the pooler has nowhere to go). The NSP head is dropped (DistilBERT has no NSP).

Exactness and the classifier: BERT's classifier reads tanh(W_p h_[CLS] + b_p); DistilBERT's reads
ReLU(W_p h_[CLS] + b_p) with the same W_p, b_p. So with all layers the student's hidden states and MLM logits equal
the teacher's (to float rounding: the folded sum is added in another order), while its classification logits do
not: the two agree only where the pre-activations are small and positive (tanh x ≈ x), and ReLU zeroes the
negative ones that tanh keeps. The copied pooler is a starting point for task-specific distillation, not a copy of
the teacher's decisions.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bert import (BertForMaskedLM, BertForMultipleChoice, BertForPreTraining, BertForQuestionAnswering,
                  BertForSequenceClassification, BertForTokenClassification, BertModel)
from bert.position import LearnedPositionEmbedding

from .config import DistilBertConfig
from .heads import DistilBertForMaskedLM
from .model import DistilBertModel
from .tasks import (DistilBertForMultipleChoice, DistilBertForQuestionAnswering, DistilBertForSequenceClassification,
                    DistilBertForTokenClassification)

# teacher class -> student class; the first match wins (BertModel last: the task classes are not BertModels)
STUDENT_CLASSES = ((BertForPreTraining, DistilBertForMaskedLM), (BertForMaskedLM, DistilBertForMaskedLM),
                   (BertForSequenceClassification, DistilBertForSequenceClassification),
                   (BertForMultipleChoice, DistilBertForMultipleChoice),
                   (BertForTokenClassification, DistilBertForTokenClassification),
                   (BertForQuestionAnswering, DistilBertForQuestionAnswering), (BertModel, DistilBertModel))


def default_layers(teacher_layers: int, student_layers: int | None = None) -> list[int]:
    """Teacher layers to keep: evenly spaced from the first to the last, rounded half up (module docstring);
    `student_layers` defaults to ceil(teacher_layers / 2). 12 → [0, 2, 4, 7, 9, 11]."""
    if isinstance(teacher_layers, bool) or not isinstance(teacher_layers, int) or teacher_layers < 1:
        raise ValueError(f"teacher_layers must be a positive int, got {teacher_layers!r}")
    n = student_layers if student_layers is not None else math.ceil(teacher_layers / 2)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= teacher_layers:
        raise ValueError(f"student_layers must be an int in [1, {teacher_layers}], got {n!r}")
    if n == 1:
        return [0]
    return [math.floor(j * (teacher_layers - 1) / (n - 1) + 0.5) for j in range(n)]


def _check_layers(layers, teacher_layers: int) -> list[int]:
    if isinstance(layers, int) and not isinstance(layers, bool):
        return default_layers(teacher_layers, layers)          # a count: spread that many layers
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(f"layers must be None, a count, or a list of teacher layer indices, got {layers!r}") from None
    if not layers or any(isinstance(i, bool) or not isinstance(i, int) for i in layers):
        raise ValueError(f"layers must be a non-empty list of ints, got {layers!r}")
    if any(not 0 <= i < teacher_layers for i in layers):
        raise ValueError(f"layers must lie in [0, {teacher_layers}) (the teacher's layers), got {layers}")
    if len(set(layers)) != len(layers) or layers != sorted(layers):
        raise ValueError(f"layers must be increasing and without repeats (a student keeps the teacher's order), "
                         f"got {layers}")
    return layers


@torch.no_grad()
def student_from_teacher(teacher: nn.Module, layers: list[int] | int | None = None,
                         **config_overrides) -> nn.Module:
    """A DistilBERT student initialised from a BERT teacher (see the module docstring for what is copied).

    teacher: BertForPreTraining or BertForMaskedLM (→ DistilBertForMaskedLM), BertFor{SequenceClassification,
             MultipleChoice, TokenClassification, QuestionAnswering} (→ the DistilBertFor… of the same name) or
             BertModel (→ DistilBertModel).
    layers:  the teacher's layer indices to copy, in order; or a count n (spread by `default_layers`); None = half
             the depth (`default_layers`).
    config_overrides: DistilBertConfig fields to change (e.g. dropout=0.0); sizes must stay the teacher's.
    The student is in training mode and shares no tensor with the teacher.
    """
    student_cls = next((s for t, s in STUDENT_CLASSES if isinstance(teacher, t)), None)
    if student_cls is None:
        raise TypeError(f"teacher must be one of {[t.__name__ for t, _ in STUDENT_CLASSES]}, "
                        f"got {type(teacher).__name__}")
    bert: BertModel = teacher if isinstance(teacher, BertModel) else teacher.bert
    tc = teacher.config
    if tc.pre_layer_norm:
        raise ValueError("teacher has pre_layer_norm=True; DistilBERT is post-LN like BERT, so its layers cannot "
                         "be copied into a DistilBERT student")
    if not isinstance(bert.embeddings.position_embeddings, LearnedPositionEmbedding):
        raise ValueError("teacher must have learned position embeddings (BERT's) to copy them")
    layers = _check_layers(layers if layers is not None else default_layers(tc.num_hidden_layers),
                           tc.num_hidden_layers)
    for name in ("dim", "n_heads", "hidden_dim", "vocab_size", "n_layers", "max_position_embeddings",
                 "sinusoidal_pos_embds"):
        if name in config_overrides:
            raise ValueError(f"config_overrides may not change {name!r}: the student copies the teacher's weights "
                             "(use `layers` to choose the depth)")
    classifier_dropout = tc.classifier_dropout if tc.classifier_dropout is not None else tc.hidden_dropout_prob
    config = DistilBertConfig.from_bert_config(tc, n_layers=len(layers), **{
        "seq_classif_dropout": classifier_dropout, **config_overrides})
    ref = next(teacher.parameters())
    student = student_cls(config).to(device=ref.device, dtype=ref.dtype)
    base: DistilBertModel = student if isinstance(student, DistilBertModel) else student.distilbert

    # embeddings: word table and LayerNorm as they are; positions with the token-type-0 row folded in
    te, se = bert.embeddings, base.embeddings
    se.word_embeddings.weight.copy_(te.word_embeddings.weight)
    se.layer_norm.load_state_dict(te.layer_norm.state_dict())
    segment0 = te.token_type_embeddings.weight[0] if te.token_type_embeddings is not None else 0.0
    se.position_embeddings.weight.copy_(te.position_embeddings.weight + segment0)   # E_pos + E_segment[0]  (P, C)

    # the chosen blocks, one to one
    for j, i in enumerate(layers):
        base.transformer.layers[j].load_state_dict(bert.encoder.layers[i].state_dict())

    # the head
    if student_cls is DistilBertForMaskedLM:
        student.mlm_head.load_state_dict(teacher.mlm_head.state_dict())
    elif student_cls in (DistilBertForSequenceClassification, DistilBertForMultipleChoice):
        if bert.pooler is not None:
            student.pre_classifier.load_state_dict(bert.pooler.dense.state_dict())   # tanh there, ReLU here
        student.classifier.load_state_dict(teacher.classifier.state_dict())
    elif student_cls is DistilBertForTokenClassification:
        student.classifier.load_state_dict(teacher.classifier.state_dict())
    elif student_cls is DistilBertForQuestionAnswering:
        student.qa_outputs.load_state_dict(teacher.qa_outputs.state_dict())
    student.teacher_layers = list(layers)  # recorded for reports; not saved
    return student.train()


__all__ = ["student_from_teacher", "default_layers"]
