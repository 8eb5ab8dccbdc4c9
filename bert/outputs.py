"""What the models return: small dataclasses with named fields, readable like HF's `ModelOutput`.

`out.logits`, `out["logits"]` and `out[0]` all work: integer indexing and `to_tuple()` skip the fields that are
None, so `out[0]` is the loss when labels were given and the logits otherwise — as in transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterator

from torch import Tensor


class ModelOutput:
    """Base of the output dataclasses: attribute, key and (None-skipping) integer access."""

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(v for _, v in self.items())

    def keys(self) -> list[str]:
        return [k for k, _ in self.items()]

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None)

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            if key not in self.keys():
                raise KeyError(f"{type(self).__name__} has no (non-None) field {key!r}; it has {self.keys()}")
            return getattr(self, key)
        return self.to_tuple()[key]

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:  # like a dict: iterate over the names of the fields that are set
        return iter(self.keys())


@dataclass
class BaseModelOutputWithPooling(ModelOutput):
    """BertModel: last_hidden_state (B, T, C); pooler_output (B, C) = tanh(W·h_[CLS] + b), None without pooler;
    hidden_states: L + 1 tensors (B, T, C) (embeddings, then each block); attentions: L tensors (B, H, T, T)."""
    last_hidden_state: Tensor
    pooler_output: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class PreTrainingOutput(ModelOutput):
    """BertForPreTraining: loss = mlm_loss + nsp_loss (when both labels are given); prediction_logits (B, T, V)
    — or (N, V) for the N labelled positions when the model's `masked_only` is True; seq_relationship_logits
    (B, 2)."""
    loss: Tensor | None = None
    prediction_logits: Tensor | None = None
    seq_relationship_logits: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
    mlm_loss: Tensor | None = None        # ours (not in HF's output): the two parts of `loss`, for logging
    nsp_loss: Tensor | None = None


@dataclass
class MaskedLMOutput(ModelOutput):
    """BertForMaskedLM: loss (MLM cross-entropy over the positions whose label is not -100); logits (B, T, V) —
    or (N, V) when the model's `masked_only` is True (also DistilBertForMaskedLM's output)."""
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    """BertForSequenceClassification: logits (B, num_labels)."""
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class TokenClassifierOutput(ModelOutput):
    """BertForTokenClassification: logits (B, T, num_labels)."""
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class QuestionAnsweringOutput(ModelOutput):
    """BertForQuestionAnswering: start_logits, end_logits (B, T); loss = (CE(start) + CE(end)) / 2."""
    loss: Tensor | None = None
    start_logits: Tensor | None = None
    end_logits: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
