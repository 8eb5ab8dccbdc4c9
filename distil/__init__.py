"""DistilBERT and knowledge distillation, built on the `bert` package: config, model (BERT's blocks, half the
layers, distil/model.py), its pre-training head (heads.py) and fine-tuning heads (tasks.py), the student built from a
teacher, the losses, the Distiller (their weighted sum) and its training step (distil/step.py, `python -m
distil.train`). `mlm_loss` is BERT's own (`bert.losses.mlm_loss`), re-exported for the triple loss."""

from bert.losses import mlm_loss

from .config import DistilBertConfig, count_parameters
from .heads import DistilBertForMaskedLM
from .losses import cosine_loss, patient_loss, soft_target_loss
from .model import DistilBertModel
from .tasks import (DistilBertForMultipleChoice, DistilBertForQuestionAnswering, DistilBertForSequenceClassification,
                    DistilBertForTokenClassification)
from .student import default_layers, student_from_teacher

__all__ = ["DistilBertConfig", "count_parameters", "DistilBertModel", "DistilBertForMaskedLM",
           "DistilBertForSequenceClassification", "DistilBertForTokenClassification",
           "DistilBertForQuestionAnswering", "DistilBertForMultipleChoice", "student_from_teacher",
           "default_layers", "soft_target_loss", "mlm_loss", "cosine_loss", "patient_loss"]
