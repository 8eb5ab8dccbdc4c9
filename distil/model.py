"""DistilBERT: BERT's blocks with half the layers, no token types and no pooler; its MLM and classification heads.

    h⁰ = Dropout(LayerNorm(E_token[input_ids] + E_position[position_ids]))     — no segment embeddings
    hˡ = EncoderBlock(hˡ⁻¹),  l = 1 … L  (L = 6 for distilbert-base: half of BERT-base's 12, same width 768)
    MLM            logits = LayerNorm(act(W_t h + b_t)) · E_tokenᵀ + b           — BERT's MLM head, tied
    classification logits = W_c · Dropout(ReLU(W_p h_[CLS] + b_p)) + b_c          — ReLU, where BERT's pooler has tanh

Sanh et al. 2019, "DistilBERT, a distilled version of BERT", §3 ("Student architecture": "the token-type embeddings
and the pooler are removed while the number of layers is reduced by a factor of 2"); HF's DistilBERT for the
heads. Articles 000 §2 (核心概念与联系) and 002 §2 describe DistilBERT as BERT with a *halved hidden size*: it is
the number of layers that is halved (articles README, erratum 1; `distil/config.py` computes 110M → 66M).

Nothing here is new code for a block: the embeddings are `bert.embeddings.BertEmbeddings` without segments (and
optionally with the Transformer's sinusoids, `sinusoidal_pos_embds`), the stack is `bert.layers.Encoder` (the same
post-LN EncoderBlock), the MLM head is `bert.heads.MaskedLMHead`. What is DistilBERT's own: the names of its
checkpoints (HF's `distilbert.transformer.layer.N.attention.q_lin`, `sa_layer_norm`, `ffn.lin1`, …, the table
below) and the classifier head (`pre_classifier` → ReLU → dropout → `classifier`).

Dimension legend
    B  batch    T  tokens    C  channels (dim)    H  heads (n_heads)    L  layers (n_layers)    V  vocab_size
    K  num_labels
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bert.checkpoint import swap_prefix
from bert.embeddings import BertEmbeddings
from bert.heads import MaskedLMHead, mlm_logits_and_loss, sequence_classification_loss
from bert.layers import Encoder, block_arguments
from bert.model import BertPreTrainedModel, check_inputs, padding_mask
from bert.outputs import MaskedLMOutput, ModelOutput, SequenceClassifierOutput
from bert.position import sinusoidal_table

from .config import LAYER_NORM_EPS, DistilBertConfig

logger = logging.getLogger(__name__)

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
}
HEAD_PREFIXES = ("mlm_head.", "pre_classifier.", "classifier.")
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
        raise KeyError(f"no Hugging Face DistilBERT name for our parameter {name!r} (see distil/model.py's tables)")
    return hf


def from_hf_name(name: str) -> str | None:
    """HF → ours (with `distilbert.` kept where HF has it); None for a name that is not a DistilBERT weight."""
    inv = lambda table: {v: k for k, v in table.items()}  # noqa: E731
    return _convert(name, inv(BASE_NAMES), inv(LAYER_NAMES), inv(HEAD_NAMES), _HF_LAYER, "transformer.layers")


def is_head_name(name: str) -> bool:
    """Is this (our) name part of a head — something a checkpoint may lack (new) or carry extra (unused)?"""
    return name.removeprefix("distilbert.").startswith(HEAD_PREFIXES)


# ---------------------------------------------------------------- outputs, base class
@dataclass
class BaseModelOutput(ModelOutput):
    """DistilBertModel: last_hidden_state (B, T, C); hidden_states: L + 1 tensors (embeddings, then each block);
    attentions: L tensors (B, H, T, T). No pooler_output: DistilBERT has no pooler."""
    last_hidden_state: Tensor
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


class DistilBertPreTrainedModel(BertPreTrainedModel):
    """Base of the DistilBERT classes: BERT's `_init_weights` (N(0, initializer_range²), zero biases, zero [PAD]
    row, LayerNorm 1/0 — HF's DistilBERT uses the same) and BERT's checkpoint code with DistilBERT's names.

    Checkpoint rules beyond BERT's (bert/checkpoint.py): `vocab_projector.weight` is the word-embedding table
    (tied) — ignored on load, not written on save; with `sinusoidal_pos_embds` the position table is a fixed
    function, not a weight: it is written on save (transformers stores it) and checked, not loaded, on load."""

    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    to_hf_name = staticmethod(to_hf_name)
    from_hf_name = staticmethod(from_hf_name)
    is_head_name = staticmethod(is_head_name)

    def _base(self) -> "DistilBertModel":
        return getattr(self, "distilbert", self)  # type: ignore[return-value]

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


# ---------------------------------------------------------------- the models
class DistilBertModel(DistilBertPreTrainedModel):
    """The bare DistilBERT encoder: `embeddings` (BertEmbeddings without segments), `transformer` (Encoder of
    n_layers EncoderBlocks). See the module docstring."""

    hf_architecture = "DistilBertModel"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        if not isinstance(config, DistilBertConfig):
            raise TypeError(f"config must be a DistilBertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings(config.vocab_size, config.dim, config.max_position_embeddings,
                                         type_vocab_size=0, pad_token_id=config.pad_token_id,
                                         layer_norm_eps=LAYER_NORM_EPS, dropout=config.dropout,
                                         sinusoidal_positions=config.sinusoidal_pos_embds)
        bert_view = config.to_bert_config()
        self.transformer = Encoder(config.n_layers, **block_arguments(bert_view))
        self.init_weights()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, position_ids: Tensor | None = None,
                output_hidden_states: bool = False, output_attentions: bool = False) -> BaseModelOutput:
        """input_ids (B, T) int; attention_mask (B, T) 1/0 or bool (1 = token); position_ids (B, T) or (1, T).
        No token_type_ids: DistilBERT has no segments. Returns last_hidden_state (B, T, C) and, when asked,
        hidden_states (L + 1 × (B, T, C)) and attentions (L × (B, H, T, T))."""
        check_inputs(self.config, input_ids, attention_mask, None, position_ids)
        x = self.embeddings(input_ids, None, position_ids)                    # (B, T) -> (B, T, C)
        keep = padding_mask(attention_mask)                                   # (B, 1, 1, T) or None
        x, hidden_states, attentions = self.transformer(x, keep, output_hidden_states, output_attentions)
        return BaseModelOutput(x, hidden_states, attentions)


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    """DistilBERT + BERT's MLM head (HF: vocab_transform → act → vocab_layer_norm → vocab_projector, the
    projector's weight tied to the word embeddings). loss = Σ_{i∈M} −log softmax(logits_i)[labels_i] / max(|M|, 1)
    over the positions M whose label is not −100 (Devlin et al. 2019 §3.1; article 003 §4.2, erratum 8): bert/heads.py
    `mlm_logits_and_loss`, shared with BERT's MLM classes.

    `masked_only` (attribute, default False): when True and labels are given, the MLM head decodes only at the N
    labelled positions, row-major, and the logits are (N, V): the same loss for a fraction of the decoder's cost;
    set once by whoever builds the model for pre-training or distillation (`model.masked_only = True`)."""

    hf_architecture = "DistilBertForMaskedLM"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        if not config.tie_word_embeddings:
            raise ValueError("DistilBertForMaskedLM: only tie_word_embeddings=True (the vocab projector is the "
                             "word-embedding table, as in every released DistilBERT) is supported, got False")
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.mlm_head = MaskedLMHead(config.dim, config.vocab_size, config.activation, LAYER_NORM_EPS)
        self.init_weights(self.mlm_head)
        self.masked_only = False                                              # see the class docstring

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, position_ids: Tensor | None = None,
                labels: Tensor | None = None, output_hidden_states: bool = False,
                output_attentions: bool = False) -> MaskedLMOutput:
        """As BertForMaskedLM: logits (B, T, V), or (N, V) at the labelled positions with `self.masked_only`."""
        out = self.distilbert(input_ids, attention_mask, position_ids, output_hidden_states, output_attentions)
        E = self.distilbert.embeddings.word_embeddings.weight                 # (V, C), the tied projector weight
        logits, loss = mlm_logits_and_loss(self.mlm_head, out.last_hidden_state, E, labels, self.masked_only)
        return MaskedLMOutput(loss, logits, out.hidden_states, out.attentions)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """logits = classifier(Dropout(ReLU(pre_classifier(h_[CLS])))) — DistilBERT's head on the [CLS] hidden state
    (HF's DistilBertForSequenceClassification; `seq_classif_dropout`). BERT instead feeds tanh(pooler) to its
    classifier. Loss as BertForSequenceClassification (and HF): num_labels == 1 → MSE; integer labels (B,) →
    cross-entropy; float labels (B, K) → multi-label BCE."""

    hf_architecture = "DistilBertForSequenceClassification"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)              # W_p, b_p
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)           # W_c, b_c
        self.init_weights(self.pre_classifier, self.classifier)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, position_ids: Tensor | None = None,
                labels: Tensor | None = None, output_hidden_states: bool = False,
                output_attentions: bool = False) -> SequenceClassifierOutput:
        out = self.distilbert(input_ids, attention_mask, position_ids, output_hidden_states, output_attentions)
        cls = out.last_hidden_state[:, 0]                                     # [CLS]: (B, T, C) -> (B, C)
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(cls))))   # (B, C) -> (B, K)
        loss = None if labels is None else sequence_classification_loss(logits, labels)
        return SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions)


__all__ = ["DistilBertModel", "DistilBertForMaskedLM", "DistilBertForSequenceClassification",
           "DistilBertPreTrainedModel", "BaseModelOutput", "to_hf_name", "from_hf_name", "is_head_name"]
