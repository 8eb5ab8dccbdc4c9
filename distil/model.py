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
below) and the classifier head (`pre_classifier` → ReLU → dropout → `classifier`). The other task heads
(token classification, question answering, multiple choice) are in distil/heads.py.

The transformers surface is BERT's (bert/model.py, bert/outputs.py, bert/hf_methods.py): every forward takes
transformers' arguments in its order (input_ids, attention_mask, inputs_embeds, labels, position_ids), then
keyword-only token_type_ids (all 0, `check_single_segment`), output_attentions, output_hidden_states and
return_dict (None = the config's default; return_dict=False gives transformers' tuple); from_pretrained returns
eval mode and takes config overrides; num_parameters, get/set_input_embeddings, get_output_embeddings,
resize_token_embeddings and base_model come from the shared base class.

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
from bert.model import BertPreTrainedModel, check_inputs, padding_mask, warn_if_pad_and_no_mask
from bert.outputs import MaskedLMOutput, ModelOutput, SequenceClassifierOutput, chosen, finish
from bert.position import sinusoidal_table
from bert.validation import validates

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
    # batch entries the trainer's `model_inputs` leaves out: a BERT teacher's pair batch carries segment ids that a
    # DistilBERT student has no embeddings for (it learns without them); a direct call may pass all-zero ones
    drops_from_batches = ("token_type_ids",)
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


# ---------------------------------------------------------------- inputs
def check_single_segment(token_type_ids: Tensor | None, shape: tuple[int, ...]) -> None:
    """DistilBERT has no token-type (segment) embeddings (Sanh et al. 2019 §3: "the token-type embeddings and the
    pooler are removed"). `token_type_ids` is accepted so that a BertTokenizer's output runs unchanged
    (`model(**tok(text, return_tensors="pt"))`, article 000) and must be all 0 — one segment — which is what ignoring
    it computes. A nonzero id (the second sentence of a pair) is a ValueError: the model cannot tell the segments
    apart. Transformers silently ignores token_type_ids here, whatever they hold; we say so instead.

    The shape and dtype are checked on every call (metadata); the values where `bert.validation.validates` allows
    reading them back (by default on CPU, not on CUDA: no device sync in the hot path)."""
    if token_type_ids is None:
        return
    if not isinstance(token_type_ids, Tensor):
        raise TypeError(f"token_type_ids must be a torch.Tensor or None, got {type(token_type_ids).__name__}")
    if tuple(token_type_ids.shape) != tuple(shape):
        raise ValueError(f"token_type_ids must have the shape of input_ids, {tuple(shape)}, got "
                         f"{tuple(token_type_ids.shape)}")
    if token_type_ids.is_floating_point() or token_type_ids.is_complex():
        raise TypeError(f"token_type_ids must be an integer tensor, got dtype {token_type_ids.dtype}")
    if validates(token_type_ids) and bool(token_type_ids.any()):
        raise ValueError("token_type_ids must be all 0: DistilBERT has no token-type (segment) embeddings, so it "
                         "cannot tell a pair's second segment apart (transformers silently ignores them); got values "
                         f"{torch.unique(token_type_ids)[:8].tolist()} — encode one segment, or drop token_type_ids "
                         "(DistilBertTokenizer returns none)")


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

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, position_ids: Tensor | None = None, *,
                token_type_ids: Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None):
        """transformers' arguments in its order. input_ids (B, T) int, or inputs_embeds (B, T, C) in its place (the
        word embeddings, e.g. to perturb them); attention_mask (B, T) 1/0 or bool (1 = token); position_ids (B, T) or (1, T); token_type_ids: None
        or all 0 (`check_single_segment`). Returns last_hidden_state (B, T, C) and, when asked (here or by the
        config's output_hidden_states / output_attentions), hidden_states (L + 1 × (B, T, C)) and attentions
        (L × (B, H, T, T)); return_dict=False gives transformers' tuple (`bert.outputs.finish`)."""
        check_inputs(self.config, input_ids, attention_mask, None, position_ids, inputs_embeds)
        check_single_segment(token_type_ids, (input_ids if input_ids is not None else inputs_embeds).shape[:2])
        warn_if_pad_and_no_mask(input_ids, attention_mask, self.config.pad_token_id)
        x = self.embeddings(input_ids, None, position_ids, inputs_embeds)    # (B, T) -> (B, T, C)
        keep = padding_mask(attention_mask)                                   # (B, 1, 1, T) or None
        hidden = chosen(output_hidden_states, self.config, "output_hidden_states")   # the call's, or the config's
        attend = chosen(output_attentions, self.config, "output_attentions")
        x, hidden_states, attentions = self.transformer(x, keep, hidden, attend)
        return finish(BaseModelOutput(x, hidden_states, attentions), return_dict, self.config)


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

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None,
                position_ids: Tensor | None = None, *, token_type_ids: Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None) -> MaskedLMOutput | tuple:
        """As BertForMaskedLM: logits (B, T, V), or (N, V) at the labelled positions with `self.masked_only`."""
        out = self.distilbert(input_ids, attention_mask, inputs_embeds, position_ids, token_type_ids=token_type_ids,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                              return_dict=True)
        E = self.distilbert.embeddings.word_embeddings.weight                 # (V, C), the tied projector weight
        logits, loss = mlm_logits_and_loss(self.mlm_head, out.last_hidden_state, E, labels, self.masked_only)
        return finish(MaskedLMOutput(loss, logits, out.hidden_states, out.attentions), return_dict, self.config)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """logits = classifier(Dropout(ReLU(pre_classifier(h_[CLS])))) — DistilBERT's head on the [CLS] hidden state
    (HF's DistilBertForSequenceClassification; `seq_classif_dropout`). BERT instead feeds tanh(pooler) to its
    classifier. Loss as BertForSequenceClassification (and HF), `bert.heads.sequence_classification_loss`: chosen by
    config.problem_type, or when it is None: num_labels == 1 → MSE; integer labels (B,) or (B, 1) → cross-entropy;
    float labels (B, K) → multi-label BCE."""

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

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None,
                position_ids: Tensor | None = None, *, token_type_ids: Tensor | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None) -> SequenceClassifierOutput | tuple:
        out = self.distilbert(input_ids, attention_mask, inputs_embeds, position_ids, token_type_ids=token_type_ids,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                              return_dict=True)
        cls = out.last_hidden_state[:, 0]                                     # [CLS]: (B, T, C) -> (B, C)
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(cls))))   # (B, C) -> (B, K)
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config.problem_type)
        return finish(SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


__all__ = ["DistilBertModel", "DistilBertForMaskedLM", "DistilBertForSequenceClassification",
           "DistilBertPreTrainedModel", "BaseModelOutput", "to_hf_name", "from_hf_name", "is_head_name",
           "check_single_segment"]
