"""The fine-tuning classes: BERT under a small task head (Devlin et al. 2019 §4, Figure 4), each with its loss.

    sequence classification   logits = W_c · Dropout(pooled) + b_c                      (B, K)
    token classification      logits_i = W_c · Dropout(h_i) + b_c                       (B, T, K)
    question answering        start_i = S · h_i,  end_i = E · h_i                       (B, T) each
    multiple choice           score_n = w · Dropout(pooled(context ⊕ choice_n)) + b    (B, N)

Every class takes transformers' arguments in transformers' order — input_ids, attention_mask, token_type_ids,
position_ids, inputs_embeds, then the labels under transformers' names — and the keyword-only
output_attentions / output_hidden_states / return_dict; the parameter names match transformers' (checkpoint
tables in bert/checkpoint.py), so each class loads the other library's checkpoint. Losses: bert/losses.py; the
pre-training classes (and next sentence prediction): bert/heads.py.

Dimension legend
    B  batch    T  tokens    C  channels (hidden_size)    K  num_labels    N  choices
"""

from __future__ import annotations

from torch import Tensor, nn

from .config import BertConfig
from .losses import choice_loss, sequence_classification_loss, span_loss, token_classification_loss
from .model import BertModel, BertPreTrainedModel
from .outputs import (MultipleChoiceModelOutput, QuestionAnsweringOutput, SequenceClassifierOutput,
                      TokenClassifierOutput, finish)
from .unpad import SPAN_READS_PADDING
from .validation import check_choices, check_config, checked


def classifier_dropout(config: BertConfig) -> nn.Dropout:
    """The dropout before a task head: config.classifier_dropout, or hidden_dropout_prob when that is None (as HF)."""
    p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    return nn.Dropout(p)


class BertForSequenceClassification(BertPreTrainedModel):
    """logits = W_c · Dropout(pooled) + b_c (Devlin et al. §4.1: "the final hidden vector C … and the
    classification layer weights W"). Loss as transformers chooses it (`sequence_classification_loss`, with
    config.problem_type): K = 1 → MSE; integer labels (B,) or (B, 1) → cross-entropy; float (B, K) → BCE."""

    hf_architecture = "BertForSequenceClassification"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights(self.classifier)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None, *,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, return_dict=True,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.classifier(self.dropout(out.pooler_output))           # (B, C) -> (B, K)
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config.problem_type)
        return finish(SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


class BertForTokenClassification(BertPreTrainedModel):
    """logits_i = W_c · Dropout(h_i) + b_c for every token (Devlin et al. §5.3, NER); loss = cross-entropy over
    the tokens whose label is not −100 (label padding and word-piece continuations −100); labels (B, T) or flat
    (B·T,); 0 when every label is −100 (transformers gives NaN here; we give 0): `token_classification_loss`."""

    hf_architecture = "BertForTokenClassification"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights(self.classifier)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None, *,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, return_dict=True,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.classifier(self.dropout(out.last_hidden_state))       # (B, T, C) -> (B, T, K)
        loss = None if labels is None else token_classification_loss(logits, labels)   # all −100: 0
        return finish(TokenClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


class BertForQuestionAnswering(BertPreTrainedModel):
    """Span extraction (Devlin et al. §4.2, SQuAD): start_i = S · h_i, end_i = E · h_i (`qa_outputs`, C → 2);
    loss = (CE(start_logits, start) + CE(end_logits, end)) / 2, positions (B,) or (B, 1). As HF, positions outside
    the sequence are clamped to T and then ignored (an answer truncated away adds no loss); a CE with every
    position ignored is 0 (transformers gives NaN here; we give 0): `span_loss`."""

    hf_architecture = "BertForQuestionAnswering"

    def __init__(self, config: BertConfig):
        super().__init__()
        check_config(config, BertConfig, span_model="BertForQuestionAnswering")
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.bert.unpadding.keep_padded(SPAN_READS_PADDING)                   # bert/unpad.py
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.init_weights(self.qa_outputs)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, start_positions: Tensor | None = None,
                end_positions: Tensor | None = None, *, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, return_dict=True,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        start_logits, end_logits = span_logits(self.qa_outputs, out.last_hidden_state)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return finish(QuestionAnsweringOutput(loss, start_logits, end_logits, out.hidden_states, out.attentions),
                      return_dict, self.config)


def span_logits(qa_outputs: nn.Linear, h: Tensor) -> tuple[Tensor, Tensor]:
    """start, end logits (B, T) each from h (B, T, C) through `qa_outputs` (C → 2) — BERT's and DistilBERT's."""
    start, end = qa_outputs(h).unbind(dim=-1)                               # (B, T, 2) -> 2 × (B, T)
    return start.contiguous(), end.contiguous()


@checked(check_choices)
def flatten_choices(name: str, t: Tensor | None, trailing: int = 0) -> Tensor | None:
    """(B, N, T[, C]) → (B·N, T[, C]): every (context, choice_n) pair becomes one sequence of the batch.
    `trailing` = 1 for inputs_embeds (its C stays); `name` names `t` in an error. Shared with
    DistilBertForMultipleChoice."""
    return None if t is None else t.reshape(-1, *t.shape[2:])             # (B, N, T, …) -> (B·N, T, …)


class BertForMultipleChoice(BertPreTrainedModel):
    """Multiple choice (SWAG, Devlin et al. 2019 §4.4): each (context, choice_n) pair is encoded as one sequence,
    its pooled [CLS] scored by `classifier` (C → 1): logits (B, N); loss = `choice_loss`. Inputs (B, N, T) —
    inputs_embeds (B, N, T, C) — as transformers' BertForMultipleChoice."""

    hf_architecture = "BertForMultipleChoice"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.dropout = classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.init_weights(self.classifier)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None, *,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        given = input_ids if input_ids is not None else inputs_embeds
        N = given.shape[1] if isinstance(given, Tensor) and given.dim() > 1 else 0   # choices per question
        out = self.bert(flatten_choices("input_ids", input_ids), flatten_choices("attention_mask", attention_mask),
                        flatten_choices("token_type_ids", token_type_ids),
                        flatten_choices("position_ids", position_ids),
                        flatten_choices("inputs_embeds", inputs_embeds, trailing=1), return_dict=True,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.classifier(self.dropout(out.pooler_output)).reshape(-1, N)   # (B·N, 1) -> (B, N)
        loss = None if labels is None else choice_loss(logits, labels)
        return finish(MultipleChoiceModelOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


__all__ = ["BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering",
           "BertForMultipleChoice", "classifier_dropout", "flatten_choices", "span_logits"]
