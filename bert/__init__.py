"""BERT from scratch: config, attention, position encodings, blocks, model, heads, checkpoints, pre-training."""

from .config import PRESETS, BertConfig, count_parameters
from .heads import BertForMaskedLM, BertForNextSentencePrediction, BertForPreTraining
from .model import BertModel
from .tasks import (BertForMultipleChoice, BertForQuestionAnswering, BertForSequenceClassification,
                    BertForTokenClassification)
from .crf import BertCrfForTokenClassification

__all__ = ["BertConfig", "PRESETS", "count_parameters", "BertModel", "BertForPreTraining", "BertForMaskedLM",
           "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering",
           "BertForNextSentencePrediction", "BertForMultipleChoice", "BertCrfForTokenClassification"]
