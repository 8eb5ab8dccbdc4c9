"""BertPreTrainedModel: the base of every BERT class — its config, the one weight initialisation, checkpoints in
Hugging Face's directory format (bert/checkpoint.py) and transformers' model methods (bert/hf_methods.py).

    W ~ N(0, initializer_range²) for Linear and Embedding weights, biases 0, the [PAD] row 0, LayerNorm γ = 1, β = 0

(HF's `_init_weights`; the sources are in its docstring.) BertModel (bert/model.py) and every head class subclass it.
"""

from __future__ import annotations

import torch
from torch import nn

from .checkpoint import CheckpointMixin
from .config import BertConfig
from .hf_methods import HFMethodsMixin
from .position import LearnedPositionEmbedding


class BertPreTrainedModel(CheckpointMixin, HFMethodsMixin, nn.Module):
    """Base of every BERT class: holds the config, the one weight initialisation, `from_pretrained` /
    `save_pretrained` in the HF directory format (CheckpointMixin), and transformers' model methods —
    num_parameters, get/set_input_embeddings, resize_token_embeddings, … (HFMethodsMixin)."""

    config_class = BertConfig

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Linear and embedding weights ~ N(0, initializer_range²), biases 0, the [PAD] embedding row 0,
        LayerNorm γ = 1, β = 0.

        Source: google-research/bert `modeling.py` `create_initializer` (std 0.02 — a *truncated* normal there);
        HF's `BertPreTrainedModel._init_weights` (a plain normal, zero biases, zero padding row) — we follow HF.
        """
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, LearnedPositionEmbedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(getattr(module, "bias", None), nn.Parameter):  # a module's own bias, e.g. the MLM decoder's
            nn.init.zeros_(module.bias)

    def init_weights(self, *modules: nn.Module) -> None:
        """Apply `_init_weights` to `modules` (default: the whole model) through `Module.apply`."""
        for m in modules or (self,):
            m.apply(self._init_weights)


__all__ = ["BertPreTrainedModel"]
