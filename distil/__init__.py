"""DistilBERT and knowledge distillation, built on the `bert` package: config, model (BERT's blocks, half the
layers), its task heads, the student built from a teacher, the three losses, the Distiller (their weighted sum) and
its training step (`python -m distil.train`). `mlm_loss` is BERT's own (`bert.heads.mlm_loss`), re-exported for the
triple loss."""

from bert.heads import mlm_loss

from .config import DistilBertConfig, count_parameters
from .heads import DistilBertForMultipleChoice, DistilBertForQuestionAnswering, DistilBertForTokenClassification
from .losses import cosine_loss, patient_loss, soft_target_loss
from .model import DistilBertForMaskedLM, DistilBertForSequenceClassification, DistilBertModel
from .student import default_layers, student_from_teacher

__all__ = ["DistilBertConfig", "count_parameters", "DistilBertModel", "DistilBertForMaskedLM",
           "DistilBertForSequenceClassification", "DistilBertForTokenClassification",
           "DistilBertForQuestionAnswering", "DistilBertForMultipleChoice", "student_from_teacher",
           "default_layers", "soft_target_loss", "mlm_loss", "cosine_loss", "patient_loss"]
