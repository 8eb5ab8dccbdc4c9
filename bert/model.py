"""BertModel: embeddings → L encoder blocks → (tanh pooler over [CLS]); the shared base of every BERT class.

    h⁰ = Embeddings(input_ids, token_type_ids, position_ids)            (bert/embeddings.py)
    hˡ = EncoderBlock(hˡ⁻¹),  l = 1 … L                                 (bert/layers.py, post-LN)
    pooled = tanh(W_p · h^L_[CLS] + b_p)                                 (the pooler)

Devlin et al. 2019 §3 (Figure 1: "C" is the final hidden state of [CLS]) and §3.1; google-research/bert
`modeling.py` `BertModel` ("pooler": a dense layer with tanh on the first token). The pooler's tanh is the only
tanh in BERT — article 000 §4's per-layer `Tanh(W^v·X + W^k·K^T + b)` does not exist (articles README,
erratum 2). Article 001 §3 lists the same stages (输入编码, 自注意力机制, 残差连接, 输出层).

A padded batch runs the encoder on its real tokens only, gathered into (N, C) and scattered back after
(bert/unpad.py; the config's `unpad` says "auto", "always" or "never"), with the same numbers on every real token.

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
from .unpad import Unpadding, padding_mask  # noqa: F401 (padding_mask re-exported)
from .validation import check_config, check_inputs


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
        self.unpadding = Unpadding(config.unpad)                              # padded or unpadded: bert/unpad.py
        self.init_weights()

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, *, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None):
        """input_ids (B, T) int — or inputs_embeds (B, T, C) in its place; attention_mask (B, T) 1/0 or bool
        (1 = token, 0 = padding); token_type_ids (B, T) segment 0/1; position_ids (B, T) or (1, T). Returns
        last_hidden_state (B, T, C), pooler_output (B, C), and when asked (here or by the config's default)
        hidden_states (L + 1 × (B, T, C)) and attentions (L × (B, H, T, T)); with return_dict=False
        transformers' tuple of them (bert/outputs.py `finish`). The arguments are transformers' in its order.
        A padded batch runs on its real tokens only (config `unpad`, bert/unpad.py): the same numbers there, and
        zeros at the padding positions of last_hidden_state, hidden_states and attentions."""
        check_inputs(self.config, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)  # (B, T) -> (B, T, C)
        hidden = chosen(output_hidden_states, self.config, "output_hidden_states")   # the call's, or the config's
        attend = chosen(output_attentions, self.config, "output_attentions")
        x, hidden_states, attentions = self.unpadding(self.encoder, x, attention_mask, hidden, attend)  # (B, T, C)
        # ↑ padded with a mask, or on the real tokens only: gathered to (N, C), scattered back (bert/unpad.py)
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


__all__ = ["BertModel", "BertPooler", "BertPreTrainedModel", "padding_mask"]
