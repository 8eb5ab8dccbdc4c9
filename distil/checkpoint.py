"""DistilBERT's checkpoints: BERT's checkpoint code (bert/checkpoint.py) with DistilBERT's names.

Our module names are BERT's, named after the formula (`attention.query`, `attention_layer_norm`,
`feed_forward.linear1`, `mlm_head`); HF's DistilBERT names them `attention.q_lin`, `sa_layer_norm`, `ffn.lin1`,
`vocab_transform`, … The tables below are the whole translation, one readable line per tensor group, and
`DistilBertPreTrainedModel` — the base of every DistilBERT class (distil/model.py, heads.py, tasks.py) — plugs
them into BERT's `from_pretrained` / `save_pretrained`, so a folder written by transformers loads here and ours
loads there.
"""

from __future__ import annotations

import logging
import re

from torch import Tensor

from bert.checkpoint import swap_prefix
from bert.model import BertPreTrainedModel
from bert.position import sinusoidal_table

from .config import DistilBertConfig

logger = logging.getLogger("distil.model")     # the name the checkpoint warnings had when they lived there


# ---------------------------------------------------------------- the name map: ours → HF DistilBERT
BASE_NAMES = {  # inside DistilBertModel
    "embeddings.word_embeddings": "embeddings.word_embeddings",
    "embeddings.position_embeddings": "embeddings.position_embeddings",
    "embeddings.layer_norm": "embeddings.LayerNorm",
}
LAYER_NAMES = {  # inside block i: ours "transformer.layers.{i}.", HF "transformer.layer.{i}."
    "attention.query": "attention.q_lin",
    "attention.key": "attention.k_lin",
    "attention.value": "attention.v_lin",
    "attention.output": "attention.out_lin",
    "attention_layer_norm": "sa_layer_norm",
    "feed_forward.linear1": "ffn.lin1",
    "feed_forward.linear2": "ffn.lin2",
    "output_layer_norm": "output_layer_norm",
}
HEAD_NAMES = {  # on the task models, next to `distilbert.`
    "mlm_head.dense": "vocab_transform",
    "mlm_head.layer_norm": "vocab_layer_norm",
    "mlm_head.bias": "vocab_projector.bias",
    "pre_classifier": "pre_classifier",
    "classifier": "classifier",
    "qa_outputs": "qa_outputs",
}
HEAD_PREFIXES = ("mlm_head.", "pre_classifier.", "classifier.", "qa_outputs.")
TIED_HF_KEY = "vocab_projector.weight"          # = the word-embedding table; never stored twice
POSITION_KEY = "embeddings.position_embeddings.weight"
_OUR_LAYER = re.compile(r"^transformer\.layers\.(\d+)\.(.+)$")
_HF_LAYER = re.compile(r"^transformer\.layer\.(\d+)\.(.+)$")


def _convert(name: str, base: dict[str, str], layer: dict[str, str], head: dict[str, str],
             layer_in: re.Pattern, layer_out: str) -> str | None:
    prefix = "distilbert." if name.startswith("distilbert.") else ""
    inner = name[len(prefix):]
    m = layer_in.match(inner)
    if m:
        rest = swap_prefix(m.group(2), layer)
        return None if rest is None else f"{prefix}{layer_out}.{m.group(1)}.{rest}"
    out = swap_prefix(inner, base)
    if out is not None:
        return prefix + out
    return None if prefix else swap_prefix(inner, head)


def to_hf_name(name: str) -> str:
    """Ours → HF, e.g. `distilbert.transformer.layers.2.feed_forward.linear1.weight` →
    `distilbert.transformer.layer.2.ffn.lin1.weight`; `mlm_head.dense.weight` → `vocab_transform.weight`."""
    hf = _convert(name, BASE_NAMES, LAYER_NAMES, HEAD_NAMES, _OUR_LAYER, "transformer.layer")
    if hf is None:
        raise KeyError(f"no Hugging Face DistilBERT name for our parameter {name!r} "
                       "(see distil/checkpoint.py's tables)")
    return hf


def from_hf_name(name: str) -> str | None:
    """HF → ours (with `distilbert.` kept where HF has it); None for a name that is not a DistilBERT weight."""
    inv = lambda table: {v: k for k, v in table.items()}  # noqa: E731
    return _convert(name, inv(BASE_NAMES), inv(LAYER_NAMES), inv(HEAD_NAMES), _HF_LAYER, "transformer.layers")


def is_head_name(name: str) -> bool:
    """Is this (our) name part of a head — something a checkpoint may lack (new) or carry extra (unused)?"""
    return name.removeprefix("distilbert.").startswith(HEAD_PREFIXES)


class DistilBertPreTrainedModel(BertPreTrainedModel):
    """Base of the DistilBERT classes: BERT's `_init_weights` (N(0, initializer_range²), zero biases, zero [PAD]
    row, LayerNorm 1/0 — HF's DistilBERT uses the same) and BERT's checkpoint code with DistilBERT's names.

    Checkpoint rules beyond BERT's (bert/checkpoint.py): `vocab_projector.weight` is the word-embedding table
    (tied) — ignored on load, not written on save; with `sinusoidal_pos_embds` the position table is a fixed
    function, not a weight: it is written on save (transformers stores it) and checked, not loaded, on load."""

    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    # batch entries the trainer's `model_inputs` leaves out: a BERT teacher's pair batch carries segment ids that a
    # DistilBERT student has no embeddings for (it learns without them); a direct call may pass all-zero ones
    drops_from_batches = ("token_type_ids",)
    to_hf_name = staticmethod(to_hf_name)
    from_hf_name = staticmethod(from_hf_name)
    is_head_name = staticmethod(is_head_name)

    def hf_state_dict(self) -> dict[str, Tensor]:
        """BERT's (HF names; save_pretrained writes them, atomically, with config.json) plus, with
        sinusoidal_pos_embds, the fixed position table: transformers keeps it as a weight, so give it one."""
        tensors = super().hf_state_dict()
        if self.config.sinusoidal_pos_embds:
            prefix = "distilbert." if hasattr(self, "distilbert") else ""
            tensors[prefix + POSITION_KEY] = sinusoidal_table(self.config.max_position_embeddings, self.config.dim)
        return tensors

    def load_hf_state_dict(self, hf_state: dict[str, Tensor], ignore_mismatched_sizes: bool = False) -> dict:
        hf_state = {k: v for k, v in hf_state.items() if k != TIED_HF_KEY}
        if self.config.sinusoidal_pos_embds:
            for key in (POSITION_KEY, "distilbert." + POSITION_KEY):
                table = hf_state.pop(key, None)
                expect = sinusoidal_table(self.config.max_position_embeddings, self.config.dim)
                if table is not None and (table.shape != expect.shape or (table.float() - expect).abs().max() > 1e-4):
                    logger.warning("%s: the checkpoint's %s differs from the sinusoidal table; with "
                                   "sinusoidal_pos_embds=True the fixed table is used", type(self).__name__, key)
        return super().load_hf_state_dict(hf_state, ignore_mismatched_sizes)


__all__ = ["DistilBertPreTrainedModel", "to_hf_name", "from_hf_name", "is_head_name", "BASE_NAMES",
           "LAYER_NAMES", "HEAD_NAMES", "HEAD_PREFIXES", "TIED_HF_KEY", "POSITION_KEY"]
