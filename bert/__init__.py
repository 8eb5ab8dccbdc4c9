"""BERT from scratch: config, attention, position encodings, blocks, model, heads, checkpoints, pre-training."""

from .config import PRESETS, BertConfig, count_parameters
from .heads import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                    BertForTokenClassification)
from .model import BertModel

__all__ = ["BertConfig", "PRESETS", "count_parameters", "BertModel", "BertForPreTraining", "BertForMaskedLM",
           "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering"]
