"""What the models return: small dataclasses with named fields, readable like HF's `ModelOutput`.

`out.logits`, `out["logits"]` and `out[0]` all work: integer indexing and `to_tuple()` skip the fields that are
None, so `out[0]` is the loss when labels were given and the logits otherwise — as in transformers.

`finish(output, return_dict, config)` is the last line of every model's `forward`: the output object, or with
`return_dict=False` (or `config.return_dict = False` when the call does not say) the tuple transformers returns —
the same fields in the same order, None fields skipped, without our extra fields (`ours`, e.g. the two parts of
the pre-training loss), as transformers' `ModelOutput.to_tuple()`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Iterator

from torch import Tensor


class ModelOutput:
    """Base of the output dataclasses: attribute, key and (None-skipping) integer access."""

    ours: ClassVar[tuple[str, ...]] = ()  # fields transformers' output does not have: not in the tuple

    def to_tuple(self) -> tuple[Any, ...]:
        """transformers' tuple: the fields that are set, in order, without `ours`."""
        return tuple(v for k, v in self.items() if k not in self.ours)

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
    hidden_states: L + 1 tensors (B, T, C) (embeddings, then each block); attentions: L tensors (B, H, T, T);
    cross_attentions: () whenever attentions are returned — BERT here has no cross-attention (a decoder's, out of
    scope), but transformers' BertModel returns this empty tuple then, so the two tuples line up."""
    last_hidden_state: Tensor
    pooler_output: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
    cross_attentions: tuple[Tensor, ...] | None = None


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
    ours = ("mlm_loss", "nsp_loss")


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


@dataclass
class NextSentencePredictorOutput(ModelOutput):
    """BertForNextSentencePrediction: logits (B, 2), 0 = IsNext, 1 = NotNext; loss = NSP cross-entropy."""
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class MultipleChoiceModelOutput(ModelOutput):
    """BertForMultipleChoice (and DistilBertForMultipleChoice): logits (B, N) one score per choice; loss = CE over
    the N choices. hidden_states / attentions are those of the B·N flattened (context, choice) sequences."""
    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


def chosen(value: bool | None, config: Any, name: str) -> bool:
    """A forward flag (`output_hidden_states`, `output_attentions`, `return_dict`): the call's value, or, when the
    call says None, the config's default — as transformers reads them."""
    return bool(getattr(config, name, False)) if value is None else value


def finish(output: ModelOutput, return_dict: bool | None, config: Any = None) -> ModelOutput | tuple[Any, ...]:
    """`output` itself when return_dict is True — or None and `config.return_dict` is true (default) or there
    is no config; `output.to_tuple()`, transformers' tuple in its order, when False."""
    if return_dict is None:
        return_dict = getattr(config, "return_dict", True)
    return output if return_dict else output.to_tuple()
