"""DistilBERT's fine-tuning heads — sequence classification, token classification, question answering and multiple
choice: transformers' classes, with its parameter names, so checkpoints load both ways.

    sequence classification  logits = W_c · Dropout(ReLU(W_p h_[CLS] + b_p)) + b_c   (BERT's pooler: tanh)
    token classification     logits_i = W_c · Dropout(h_i) + b_c                      for every token i
    question answering       (start_i, end_i) = W_qa · Dropout_qa(h_i) + b_qa         (W_qa: C → 2)
    multiple choice          s_k = W_c · Dropout(ReLU(W_p h^(k)_[CLS] + b_p)) + b_c   one score per choice k;
                             p(k) = softmax_k(s)

Devlin et al. 2019 §4 (Figure 4: a sentence classifier on [CLS] (GLUE, §4.1), a token-level classifier (NER, §5.3),
a start/end span scorer (SQuAD, §4.2), and a score per choice (SWAG, §4.4)). The DistilBERT versions are HF's
`modeling_distilbert` (Sanh et al. 2019 §4.1 fine-tune DistilBERT on GLUE and on SQuAD v1.1): the sequence
classifier and the multiple-choice head are `pre_classifier` → ReLU → `seq_classif_dropout` → `classifier`, the
token classifier uses `dropout`, the span scorer `qa_dropout`. The losses are BERT's (`bert.losses`) and the span /
choice plumbing too (`bert.tasks`), written once for both. The pre-training head (MLM) is in distil/heads.py — the
split of bert/heads.py and bert/tasks.py.

Dimension legend
    B  batch    T  tokens    C  channels (dim)    K  num_labels    N  choices
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bert.losses import choice_loss, sequence_classification_loss, span_loss, token_classification_loss
from bert.outputs import (MultipleChoiceModelOutput, QuestionAnsweringOutput, SequenceClassifierOutput,
                          TokenClassifierOutput, finish)
from bert.tasks import flatten_choices, span_logits
from bert.unpad import SPAN_READS_PADDING
from bert.validation import check_config

from .config import DistilBertConfig
from .model import DistilBertModel, DistilBertPreTrainedModel


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """logits = classifier(Dropout(ReLU(pre_classifier(h_[CLS])))) — DistilBERT's head on the [CLS] hidden state
    (HF's DistilBertForSequenceClassification; `seq_classif_dropout`). BERT instead feeds tanh(pooler) to its
    classifier. Loss as BertForSequenceClassification (and HF), `bert.losses.sequence_classification_loss`: chosen by
    config.problem_type, or when it is None: num_labels == 1 → MSE; integer labels (B,) or (B, 1) → cross-entropy;
    float labels (B, K) → multi-label BCE."""

    hf_architecture = "DistilBertForSequenceClassification"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)              # W_p, b_p
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)           # W_c, b_c
        self.init_weights(self.pre_classifier, self.classifier)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None,
                position_ids: Tensor | None = None, *, token_type_ids: Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None) -> SequenceClassifierOutput | tuple:
        out = self.distilbert(input_ids, attention_mask, inputs_embeds, position_ids, token_type_ids=token_type_ids,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                              return_dict=True)
        cls = out.last_hidden_state[:, 0]                                     # [CLS]: (B, T, C) -> (B, C)
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(cls))))   # (B, C) -> (B, K)
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config.problem_type)
        return finish(SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


class DistilBertForTokenClassification(DistilBertPreTrainedModel):
    """logits_i = classifier(Dropout(h_i)) for every token (HF's DistilBertForTokenClassification: the dropout is
    `config.dropout`, not `seq_classif_dropout`); loss = cross-entropy over the tokens whose label is not −100, 0
    when every label is −100 (transformers gives NaN there; `bert.losses.token_classification_loss`). Labels (B, T),
    or flat (B·T,) as transformers' `labels.view(-1)` also takes them."""

    hf_architecture = "DistilBertForTokenClassification"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)          # W_c, b_c
        self.init_weights(self.classifier)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None,
                position_ids: Tensor | None = None, *, token_type_ids: Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        out = self.distilbert(input_ids, attention_mask, inputs_embeds, position_ids, token_type_ids=token_type_ids,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                              return_dict=True)
        logits = self.classifier(self.dropout(out.last_hidden_state))       # (B, T, C) -> (B, T, K)
        loss = None if labels is None else token_classification_loss(logits, labels)   # all −100: 0, not NaN
        return finish(TokenClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel):
    """Span extraction: start_i, end_i = qa_outputs(Dropout_qa(h_i)) (HF's DistilBertForQuestionAnswering; the
    `qa_dropout` before qa_outputs is DistilBERT's, BERT's QA head has none); loss = `bert.losses.span_loss`,
    (CE(start_logits, start) + CE(end_logits, end)) / 2, positions (B,) or (B, 1), those beyond the sequence
    clamped to T and ignored, as in BertForQuestionAnswering and HF; every position ignored: 0 (transformers: NaN)."""

    hf_architecture = "DistilBertForQuestionAnswering"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        check_config(config, DistilBertConfig, span_model="DistilBertForQuestionAnswering")
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.distilbert.unpadding.keep_padded(SPAN_READS_PADDING)             # bert/unpad.py
        self.dropout = nn.Dropout(config.qa_dropout)
        self.qa_outputs = nn.Linear(config.dim, 2)                           # W_qa, b_qa: start and end scores
        self.init_weights(self.qa_outputs)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, start_positions: Tensor | None = None,
                end_positions: Tensor | None = None, position_ids: Tensor | None = None, *,
                token_type_ids: Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None):
        out = self.distilbert(input_ids, attention_mask, inputs_embeds, position_ids, token_type_ids=token_type_ids,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                              return_dict=True)
        start_logits, end_logits = span_logits(self.qa_outputs, self.dropout(out.last_hidden_state))  # 2 × (B, T)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return finish(QuestionAnsweringOutput(loss, start_logits, end_logits, out.hidden_states, out.attentions),
                      return_dict, self.config)


class DistilBertForMultipleChoice(DistilBertPreTrainedModel):
    """One score per choice: each of the N (prompt, choice_n) sequences runs through DistilBERT as its own row, its
    [CLS] state through pre_classifier → ReLU → Dropout(seq_classif_dropout) → classifier (C → 1); the N scores are
    a softmax over the choices, loss = `bert.losses.choice_loss` (labels (B,) = the right choice; HF's
    DistilBertForMultipleChoice). Inputs (B, N, T) — input_ids, attention_mask, position_ids, token_type_ids — or
    inputs_embeds (B, N, T, C). Transformers' DistilBERT does not flatten position_ids (a (B, N, T) tensor fails
    there); we flatten them as its BertForMultipleChoice does."""

    hf_architecture = "DistilBertForMultipleChoice"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)              # W_p, b_p
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.classifier = nn.Linear(config.dim, 1)                           # W_c, b_c: one score per choice
        self.init_weights(self.pre_classifier, self.classifier)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None,
                position_ids: Tensor | None = None, *, token_type_ids: Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        given = input_ids if input_ids is not None else inputs_embeds
        N = given.shape[1] if isinstance(given, Tensor) and given.dim() > 1 else 0   # choices per question
        out = self.distilbert(flatten_choices("input_ids", input_ids),                # (B, N, T) -> (B·N, T)
                              flatten_choices("attention_mask", attention_mask),
                              flatten_choices("inputs_embeds", inputs_embeds, trailing=1),
                              flatten_choices("position_ids", position_ids),
                              token_type_ids=flatten_choices("token_type_ids", token_type_ids),
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                              return_dict=True)
        cls = out.last_hidden_state[:, 0]                                    # [CLS]: (B·N, T, C) -> (B·N, C)
        scores = self.classifier(self.dropout(torch.relu(self.pre_classifier(cls))))   # (B·N, C) -> (B·N, 1)
        logits = scores.reshape(-1, N)                                       # (B·N, 1) -> (B, N)
        loss = None if labels is None else choice_loss(logits, labels)
        return finish(MultipleChoiceModelOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


__all__ = ["DistilBertForSequenceClassification", "DistilBertForTokenClassification", "DistilBertForQuestionAnswering",
           "DistilBertForMultipleChoice"]

from .step import DistillationStep  # moved to distil/step.py; the old import path (notebook 05) keeps working
