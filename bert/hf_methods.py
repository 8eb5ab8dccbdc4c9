"""The model methods a transformers user reaches for, on every BERT and DistilBERT class, written once here.

    num_parameters(only_trainable=False, exclude_embeddings=False)   base_model    device    dtype
    get_input_embeddings() / set_input_embeddings(module)            get_output_embeddings()  (MLM classes)
    resize_token_embeddings(new_num_tokens, pad_to_multiple_of=None, mean_resizing=True)

Generic through two names: `base_model_prefix` (the task models' encoder attribute, "bert" or "distilbert") and the
hook `_input_embeddings_module()` (the module holding `word_embeddings`; default `base_model.embeddings`). A class
with an MLM head has it as `mlm_head` (a MaskedLMHead whose decoder weight *is* the word-embedding table), so the
tied decoder follows every change of the table without any re-tying step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .position import LearnedPositionEmbedding


class TiedDecoder(nn.Module):
    """The MLM decoder as transformers shows it (`get_output_embeddings()`): logits = h · Eᵀ + b, `weight` the
    word-embedding table E itself (tied: not a copy) and `bias` the MLM head's own bias. A view made on request;
    the model computes the same thing in `MaskedLMHead.forward`."""

    def __init__(self, embeddings: nn.Embedding, bias: nn.Parameter):
        super().__init__()
        self.weight, self.bias = embeddings.weight, bias

    def forward(self, h: Tensor) -> Tensor:
        return F.linear(h, self.weight, self.bias)                            # (…, C) · (V, C)ᵀ -> (…, V)


class HFMethodsMixin:
    """The methods of the module docstring, for an nn.Module with `config` (with `vocab_size`,
    `initializer_range`) and `base_model_prefix`."""

    base_model_prefix = "bert"

    @property
    def base_model(self) -> nn.Module:
        """The bare encoder: `self.bert` / `self.distilbert` on a task model, the model itself on a bare one."""
        return getattr(self, self.base_model_prefix, self)

    @property
    def device(self) -> torch.device:
        """Where the parameters are (`inputs.to(model.device)`, as tutorials write it)."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' floating-point dtype."""
        return next(p.dtype for p in self.parameters() if p.is_floating_point())

    def _input_embeddings_module(self) -> nn.Module:
        """The module whose `word_embeddings` is the token table (override where it lives elsewhere)."""
        return self.base_model.embeddings

    def get_input_embeddings(self) -> nn.Embedding:
        return self._input_embeddings_module().word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        """Replace the token table; the tied MLM decoder reads it at every call, so it follows. `value` must be an
        nn.Embedding of width hidden_size; config.vocab_size becomes its number of rows."""
        old = self.get_input_embeddings()
        if not isinstance(value, nn.Embedding) or value.embedding_dim != old.embedding_dim:
            raise TypeError(f"set_input_embeddings: value must be an nn.Embedding(num_tokens, {old.embedding_dim}), "
                            f"got {value!r}")
        self._input_embeddings_module().word_embeddings = value
        if value.num_embeddings != self.config.vocab_size:
            self._resize_heads(value.num_embeddings, mean_resizing=False)
            self.config.vocab_size = value.num_embeddings

    def get_output_embeddings(self) -> TiedDecoder | None:
        """The MLM decoder (weight tied to the word embeddings) on the MLM classes; None on the others."""
        head = getattr(self, "mlm_head", None)
        return None if head is None else TiedDecoder(self.get_input_embeddings(), head.bias)

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Number of parameters, each tied one counted once; `only_trainable`: those with requires_grad;
        `exclude_embeddings`: without the word, position and token-type tables (transformers leaves out the
        weights of every nn.Embedding — our learned position table is its own class, left out as well, so the two
        numbers agree)."""
        tables = {id(m.weight) for m in self.modules() if isinstance(m, (nn.Embedding, LearnedPositionEmbedding))}
        return sum(p.numel() for p in self.parameters()
                   if (p.requires_grad or not only_trainable) and not (exclude_embeddings and id(p) in tables))

    @torch.no_grad()
    def resize_token_embeddings(self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None,
                                mean_resizing: bool = True) -> nn.Embedding:
        """Give the token table `new_num_tokens` rows (rounded up to a multiple of `pad_to_multiple_of`): the first
        min(old, new) rows are kept, rows are removed from the end or added there; the tied MLM decoder follows
        and the MLM bias is resized with it; config.vocab_size is updated. Returns the token table.

        New rows, as transformers: with `mean_resizing` the mean of the old rows (transformers samples from
        N(mean, 1e-9·Σ), whose spread is ~3·10⁻⁵ of the rows' own; we take the mean itself, deterministic), and the
        mean of the old bias for the new bias entries; without, N(0, initializer_range²) rows and zero bias.
        Hewitt 2021, "Initializing new word embeddings for pretrained language models"."""
        emb = self.get_input_embeddings()
        if new_num_tokens is None and pad_to_multiple_of is None:
            return emb
        n = emb.num_embeddings if new_num_tokens is None else new_num_tokens
        for name, value in (("new_num_tokens", n), ("pad_to_multiple_of", pad_to_multiple_of or 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"resize_token_embeddings: {name} must be an int >= 1, got {value!r}")
        if pad_to_multiple_of:
            n = -(-n // pad_to_multiple_of) * pad_to_multiple_of                # round up
        if n <= self.config.pad_token_id:
            raise ValueError(f"resize_token_embeddings: {n} tokens would drop the [PAD] row "
                             f"(pad_token_id = {self.config.pad_token_id})")
        old = emb.weight
        new = old.new_empty(n, old.shape[1])                                  # (n, C)
        keep = min(n, old.shape[0])
        new[:keep] = old[:keep]
        if n > keep:
            if mean_resizing:
                new[keep:] = old.float().mean(dim=0).to(old.dtype)             # (C,) over the new rows
            else:
                new[keep:].normal_(0.0, self.config.initializer_range)
        emb.weight = nn.Parameter(new, requires_grad=old.requires_grad)
        emb.num_embeddings = n
        self._resize_heads(n, mean_resizing)
        self.config.vocab_size = n
        return emb

    def _resize_heads(self, n: int, mean_resizing: bool) -> None:
        """Resize every head's per-token parameter (the MLM bias: `resize_vocab`) to n entries."""
        for module in self.modules():
            if hasattr(module, "resize_vocab"):
                module.resize_vocab(n, mean_resizing)


__all__ = ["HFMethodsMixin", "TiedDecoder"]
