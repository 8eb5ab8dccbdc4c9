"""BERT from scratch: config, attention, position encodings, blocks, model, heads, checkpoints, pre-training."""

from .config import PRESETS, BertConfig, count_parameters

__all__ = ["BertConfig", "PRESETS", "count_parameters"]
