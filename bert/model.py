"""BertModel: embeddings → L encoder blocks → (tanh pooler over [CLS]); the shared base of every BERT class.

    h⁰ = Embeddings(input_ids, token_type_ids, position_ids)            (bert/embeddings.py)
    hˡ = EncoderBlock(hˡ⁻¹),  l = 1 … L                                 (bert/layers.py, post-LN)
    pooled = tanh(W_p · h^L_[CLS] + b_p)                                 (the pooler)

Devlin et al. 2019 §3 (Figure 1: "C" is the final hidden state of [CLS]) and §3.1; google-research/bert
`modeling.py` `BertModel` ("pooler": a dense layer with tanh on the first token). The pooler's tanh is the only
tanh in BERT — article 000 §4's per-layer `Tanh(W^v·X + W^k·K^T + b)` does not exist (articles README,
erratum 2). Article 001 §3 lists the same stages (输入编码, 自注意力机制, 残差连接, 输出层).

The inputs are checked at the top of `forward` by one call (`bert.validation.check_inputs`, which also warns once
about padding without a mask); the weights' initialisation and checkpoints are the base class's (bert/pretrained.py).

Dimension legend
    B  batch    T  tokens    C  channels (hidden_size)    H  heads    L  layers    V  vocab_size
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import BertConfig
from .embeddings import BertEmbeddings
from .layers import Encoder
from .outputs import BaseModelOutputWithPooling, chosen, finish
from .pretrained import BertPreTrainedModel
from .validation import check_config, check_inputs, validates


class BertModel(BertPreTrainedModel):
    """The bare BERT encoder: `embeddings` (BertEmbeddings), `encoder` (Encoder of EncoderBlocks), `pooler`
    (BertPooler, or None with add_pooling_layer=False as in HF's MLM/token/QA models). See the module docstring.
    """

    hf_architecture = "BertModel"

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        check_config(config, BertConfig)
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
        x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)  # (B, T) -> (B, T, C)
        keep = padding_mask(attention_mask)                                   # (B, 1, 1, T) or None
        x, hidden_states, attentions = self.encoder(x, keep, chosen(output_hidden_states, self.config,
                                                                    "output_hidden_states"),
                                                    chosen(output_attentions, self.config, "output_attentions"))
        pooled = self.pooler(x) if self.pooler is not None else None          # (B, C)
        return finish(BaseModelOutputWithPooling(x, pooled, hidden_states, attentions,
                                                 None if attentions is None else ()), return_dict, self.config)


class BertPooler(nn.Module):
    """pooled = tanh(W_p · h_[CLS] + b_p): the [CLS] token's final hidden state through a dense layer and tanh
    (Devlin et al. §3, google-research/bert "pooler"). Trained by NSP; the input of sequence classifiers."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))                    # (B, T, C) -> [CLS] (B, C) -> (B, C)


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


__all__ = ["BertModel", "BertPooler", "BertPreTrainedModel", "padding_mask"]
