"""BertModel: embeddings → L encoder blocks → (tanh pooler over [CLS]); the shared base of every BERT class.

    h⁰ = Embeddings(input_ids, token_type_ids, position_ids)            (bert/embeddings.py)
    hˡ = EncoderBlock(hˡ⁻¹),  l = 1 … L                                 (bert/layers.py, post-LN)
    pooled = tanh(W_p · h^L_[CLS] + b_p)                                 (the pooler)

Devlin et al. 2019 §3 (Figure 1: "C" is the final hidden state of [CLS]) and §3.1; google-research/bert
`modeling.py` `BertModel` ("pooler": a dense layer with tanh on the first token). The pooler's tanh is the only
tanh in BERT — article 000 §4's per-layer `Tanh(W^v·X + W^k·K^T + b)` does not exist (articles README,
erratum 2). Article 001 §3 lists the same stages (输入编码, 自注意力机制, 残差连接, 输出层).

Dimension legend
    B  batch    T  tokens    C  channels (hidden_size)    H  heads    L  layers    V  vocab_size
"""

from __future__ import annotations

import functools
import logging

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointMixin
from .config import BertConfig
from .embeddings import BertEmbeddings
from .hf_methods import HFMethodsMixin
from .layers import Encoder
from .outputs import BaseModelOutputWithPooling, chosen, finish
from .position import LearnedPositionEmbedding
from .validation import validates

logger = logging.getLogger(__name__)


def _is_integer(t: Tensor) -> bool:
    return not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)


ID_DTYPES = (torch.int64, torch.int32)  # what an embedding lookup takes; uint8/int8/int16 ids are refused, not cast


def _check_ids_dtype(name: str, t: Tensor) -> None:
    if t.dtype not in ID_DTYPES:
        raise TypeError(f"{name} must be an int64 (torch.long) or int32 tensor of ids, got dtype {t.dtype}"
                        + (" (convert with .long())" if _is_integer(t) else ""))


def check_inputs(config: BertConfig, input_ids: Tensor | None, attention_mask: Tensor | None = None,
                 token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                 inputs_embeds: Tensor | None = None) -> None:
    """Check the model's inputs at the boundary, so a bad batch fails here with a message naming the argument,
    what was expected and what came — not as an index error deep inside an embedding or a matmul.

    Exactly one of input_ids (B, T) and inputs_embeds (B, T, C) — the token vectors given directly, in place of
    the lookup, as transformers takes them. Ids (input_ids, token_type_ids, position_ids) must be int64 or
    int32 — the dtypes an embedding lookup takes; other integer dtypes (uint8, int8, int16) are refused with a
    TypeError rather than cast silently (a uint8 id cannot hold a vocabulary anyway). A batch of size 0 is a
    ValueError: there is nothing to encode, and no layer below defines an answer for it.

    Types, shapes and dtypes are always checked (metadata: no data is read). Values — ids in range, a 0/1 mask —
    are checked where `bert.validation.validates` allows reading them back: by default on CPU, not on CUDA
    (a device sync each; `with bert.validation.validation(True):` turns them on there, to find a bad batch)."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("give exactly one of input_ids (B, T) and inputs_embeds (B, T, C), got "
                         + ("both" if input_ids is not None else "neither"))
    if inputs_embeds is not None:
        _check_embeds(config, inputs_embeds)
        B, T = inputs_embeds.shape[:2]
    else:
        if not isinstance(input_ids, Tensor):
            raise TypeError(f"input_ids must be a torch.Tensor of token ids, got {type(input_ids).__name__}")
        _check_ids_dtype("input_ids", input_ids)
        if input_ids.dim() != 2 or input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
            raise ValueError("input_ids must have shape (batch, seq_len) with batch >= 1 and seq_len >= 1, got "
                             f"{tuple(input_ids.shape)}")
        B, T = input_ids.shape
    if T > config.max_position_embeddings:
        raise ValueError(f"the input has seq_len {T}, more than max_position_embeddings = "
                         f"{config.max_position_embeddings} (the position table's size); truncate the input")
    for name, t in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor or None, got {type(t).__name__}")
        if tuple(t.shape) != (B, T):
            source = "input_ids" if input_ids is not None else "inputs_embeds without its last dim"
            raise ValueError(f"{name} must have the shape of {source}, {(B, T)}, got {tuple(t.shape)}")
    if token_type_ids is not None:
        _check_ids_dtype("token_type_ids", token_type_ids)
    if position_ids is not None:
        if not isinstance(position_ids, Tensor):
            raise TypeError(f"position_ids must be a torch.Tensor or None, got {type(position_ids).__name__}")
        _check_ids_dtype("position_ids", position_ids)
        if position_ids.dim() != 2 or position_ids.shape[0] not in (1, B) or position_ids.shape[1] != T:
            raise ValueError(f"position_ids must have shape (batch, seq_len) = {(B, T)} or (1, {T}), got "
                             f"{tuple(position_ids.shape)}")  # its values are checked by the position table
    if validates(input_ids if input_ids is not None else inputs_embeds):
        _check_values(config, input_ids, attention_mask, token_type_ids)


def _check_embeds(config: BertConfig, inputs_embeds: Tensor) -> None:
    if not isinstance(inputs_embeds, Tensor) or not inputs_embeds.is_floating_point():
        raise TypeError("inputs_embeds must be a floating-point torch.Tensor (B, T, C), got "
                        + (str(inputs_embeds.dtype) if isinstance(inputs_embeds, Tensor) else
                           type(inputs_embeds).__name__))
    C = config.hidden_size
    if inputs_embeds.dim() != 3 or 0 in inputs_embeds.shape[:2] or inputs_embeds.shape[2] != C:
        raise ValueError(f"inputs_embeds must have shape (batch, seq_len, hidden_size={C}) with batch, seq_len >= 1, "
                         f"got {tuple(inputs_embeds.shape)}")


PAD_WITHOUT_MASK = ("input_ids contain the pad token id ({}) at their first or last position and no attention_mask "
                    "was given: the padding is attended to like text, and the outputs differ from those of the "
                    "unpadded sequences. Pass the tokenizer's attention_mask (as transformers warns, too).")


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    logger.warning(message)


def warn_if_pad_and_no_mask(input_ids: Tensor | None, attention_mask: Tensor | None,
                            pad_token_id: int | None) -> None:
    """Warn once per process (through `logging`, logger "bert.model") when `input_ids` hold `pad_token_id` in
    their first or last column and no attention_mask was given — transformers' `warn_if_padding_and_no_attention_
    mask`, the same two columns. It reads values, so it runs only where `bert.validation.validates` allows (by
    default on CPU; on CUDA it would be a device sync per call). `_warn_once.cache_clear()` re-arms it."""
    if attention_mask is not None or input_ids is None or pad_token_id is None or not validates(input_ids):
        return
    if bool((input_ids[:, [-1, 0]] == pad_token_id).any()):                  # (B, 2): last and first ids
        _warn_once(PAD_WITHOUT_MASK.format(pad_token_id))


def _check_values(config: BertConfig, input_ids: Tensor | None, attention_mask: Tensor | None,
                  token_type_ids: Tensor | None) -> None:
    """The value checks of `check_inputs` (they read data back)."""
    if input_ids is not None:
        _check_range("input_ids", input_ids, "vocab_size", config.vocab_size)
    if token_type_ids is not None:
        _check_range("token_type_ids", token_type_ids, "type_vocab_size", config.type_vocab_size)
    if attention_mask is not None and attention_mask.dtype != torch.bool:
        if attention_mask.is_complex() or bool(((attention_mask != 0) & (attention_mask != 1)).any()):
            raise ValueError("attention_mask must be bool or hold only 0 (padding) and 1 (token), got values "
                             f"{torch.unique(attention_mask)[:8].tolist()}")


def _check_range(name: str, ids: Tensor, size_name: str, size: int) -> None:
    lo, hi = (int(v) for v in torch.aminmax(ids))                             # min and max in one pass
    if lo < 0 or hi >= size:
        raise ValueError(f"{name} must lie in [0, {size_name}={size}), got values in [{lo}, {hi}]")


def padding_mask(attention_mask: Tensor | None) -> Tensor | None:
    """(B, T) 1 = token, 0 = padding → bool keep-mask (B, 1, 1, T), True = may attend (every query, every head).

    None when there is no mask, and — where reading the mask back is allowed (`validates`: by default on CPU,
    where it costs microseconds) — when nothing is padded: the attention kernels are fastest without a mask.
    On CUDA the all-ones check would be a device sync, so by default the mask is kept (the same answer; the
    fused kernel then runs the memory-efficient kernel rather than flash): pass attention_mask=None for a batch
    without padding, or `with bert.validation.validation(True):` to have it checked.
    """
    if attention_mask is None:
        return None
    keep = attention_mask.bool()
    if validates(keep) and bool(keep.all()):
        return None
    return keep[:, None, None, :]                                             # (B, T) -> (B, 1, 1, T)


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


class BertPooler(nn.Module):
    """pooled = tanh(W_p · h_[CLS] + b_p): the [CLS] token's final hidden state through a dense layer and tanh
    (Devlin et al. §3, google-research/bert "pooler"). Trained by NSP; the input of sequence classifiers."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))                    # (B, T, C) -> [CLS] (B, C) -> (B, C)


class BertModel(BertPreTrainedModel):
    """The bare BERT encoder: `embeddings` (BertEmbeddings), `encoder` (Encoder of EncoderBlocks), `pooler`
    (BertPooler, or None with add_pooling_layer=False as in HF's MLM/token/QA models). See the module docstring.
    """

    hf_architecture = "BertModel"

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings.from_config(config)
        self.encoder = Encoder.from_config(config)
        self.pooler = BertPooler(config.hidden_size) if add_pooling_layer else None
        self.init_weights()

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, *, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None):
        """input_ids (B, T) int — or inputs_embeds (B, T, C) in its place; attention_mask (B, T) 1/0 or bool
        (1 = token, 0 = padding); token_type_ids (B, T) segment 0/1; position_ids (B, T) or (1, T). Returns
        last_hidden_state (B, T, C), pooler_output (B, C), and when asked (here or by the config's default)
        hidden_states (L + 1 × (B, T, C)) and attentions (L × (B, H, T, T)); with return_dict=False
        transformers' tuple of them (bert/outputs.py `finish`). The arguments are transformers' in its order."""
        check_inputs(self.config, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        warn_if_pad_and_no_mask(input_ids, attention_mask, self.config.pad_token_id)
        x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)  # (B, T) -> (B, T, C)
        keep = padding_mask(attention_mask)                                   # (B, 1, 1, T) or None
        x, hidden_states, attentions = self.encoder(x, keep, chosen(output_hidden_states, self.config,
                                                                    "output_hidden_states"),
                                                    chosen(output_attentions, self.config, "output_attentions"))
        pooled = self.pooler(x) if self.pooler is not None else None          # (B, C)
        return finish(BaseModelOutputWithPooling(x, pooled, hidden_states, attentions,
                                                 None if attentions is None else ()), return_dict, self.config)


__all__ = ["BertModel", "BertPooler", "BertPreTrainedModel", "check_inputs", "padding_mask", "warn_if_pad_and_no_mask"]
