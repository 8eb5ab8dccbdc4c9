"""DistilBERT: BERT's blocks with half the layers, no token types and no pooler.

    h⁰ = Dropout(LayerNorm(E_token[input_ids] + E_position[position_ids]))     — no segment embeddings
    hˡ = EncoderBlock(hˡ⁻¹),  l = 1 … L  (L = 6 for distilbert-base: half of BERT-base's 12, same width 768)

Sanh et al. 2019, "DistilBERT, a distilled version of BERT", §3 ("Student architecture": "the token-type embeddings
and the pooler are removed while the number of layers is reduced by a factor of 2"). Articles 000 §2 (核心概念与联系)
and 002 §2 describe DistilBERT as BERT with a *halved hidden size*: it is the number of layers that is halved
(articles README, erratum 1; `distil/config.py` computes 110M → 66M).

Nothing here is new code for a block: the embeddings are `bert.embeddings.BertEmbeddings` without segments (and
optionally with the Transformer's sinusoids, `sinusoidal_pos_embds`), the stack is `bert.layers.Encoder` (the same
post-LN EncoderBlock). What is DistilBERT's own: the names of its checkpoints (HF's `q_lin`, `sa_layer_norm`,
`ffn.lin1`, …: distil/checkpoint.py, with the base class `DistilBertPreTrainedModel`) and its heads, split as BERT's
are: the pre-training head in distil/heads.py, the fine-tuning heads in distil/tasks.py.

The transformers surface is BERT's (bert/model.py, bert/outputs.py, bert/hf_methods.py): every forward takes
transformers' arguments in its order (input_ids, attention_mask, inputs_embeds, labels, position_ids), then
keyword-only token_type_ids (all 0, `distil.validation.check_single_segment`), output_attentions,
output_hidden_states and return_dict (None = the config's default; return_dict=False gives transformers' tuple);
from_pretrained returns eval mode and takes config overrides; num_parameters, get/set_input_embeddings,
get_output_embeddings, resize_token_embeddings and base_model come from the shared base class.

Dimension legend
    B  batch    T  tokens    C  channels (dim)    H  heads (n_heads)    L  layers (n_layers)    V  vocab_size
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from bert.embeddings import BertEmbeddings
from bert.layers import Encoder, block_arguments
from bert.outputs import ModelOutput, chosen, finish
from bert.unpad import Unpadding
from bert.validation import check_config

from .checkpoint import DistilBertPreTrainedModel, from_hf_name, is_head_name, to_hf_name  # noqa: F401 (re-exported)
from .config import LAYER_NORM_EPS, DistilBertConfig
from .validation import check_distilbert_inputs, check_single_segment  # noqa: F401 (re-exported)


class DistilBertModel(DistilBertPreTrainedModel):
    """The bare DistilBERT encoder: `embeddings` (BertEmbeddings without segments), `transformer` (Encoder of
    n_layers EncoderBlocks). See the module docstring."""

    hf_architecture = "DistilBertModel"

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        check_config(config, DistilBertConfig)
        self.config = config
        self.embeddings = BertEmbeddings(config.vocab_size, config.dim, config.max_position_embeddings,
                                         type_vocab_size=0, pad_token_id=config.pad_token_id,
                                         layer_norm_eps=LAYER_NORM_EPS, dropout=config.dropout,
                                         sinusoidal_positions=config.sinusoidal_pos_embds)
        bert_view = config.to_bert_config()
        self.transformer = Encoder(config.n_layers, **block_arguments(bert_view))
        self.unpadding = Unpadding(config.unpad)                              # padded or unpadded: bert/unpad.py
        self.init_weights()

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                inputs_embeds: Tensor | None = None, position_ids: Tensor | None = None, *,
                token_type_ids: Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None):
        """transformers' arguments in its order. input_ids (B, T) int, or inputs_embeds (B, T, C) in its place (the
        word embeddings, e.g. to perturb them); attention_mask (B, T) 1/0 or bool (1 = token); position_ids (B, T)
        or (1, T); token_type_ids: None or all 0 (`distil.validation.check_single_segment`). Returns
        last_hidden_state (B, T, C) and, when asked (here or by the config's output_hidden_states /
        output_attentions), hidden_states (L + 1 × (B, T, C)) and attentions (L × (B, H, T, T));
        return_dict=False gives transformers' tuple (`bert.outputs.finish`). A padded batch runs on its real tokens
        only (config `unpad`, bert/unpad.py): the same numbers there, zeros at the padding positions."""
        check_distilbert_inputs(self.config, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        x = self.embeddings(input_ids, None, position_ids, inputs_embeds)    # (B, T) -> (B, T, C)
        hidden = chosen(output_hidden_states, self.config, "output_hidden_states")   # the call's, or the config's
        attend = chosen(output_attentions, self.config, "output_attentions")
        x, hidden_states, attentions = self.unpadding(self.transformer, x, attention_mask, hidden, attend)
        # ↑ padded with a mask, or on the real tokens only: gathered to (N, C), scattered back (bert/unpad.py)
        return finish(BaseModelOutput(x, hidden_states, attentions), return_dict, self.config)


@dataclass
class BaseModelOutput(ModelOutput):
    """DistilBertModel: last_hidden_state (B, T, C); hidden_states: L + 1 tensors (embeddings, then each block);
    attentions: L tensors (B, H, T, T). No pooler_output: DistilBERT has no pooler."""
    last_hidden_state: Tensor
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


__all__ = ["DistilBertModel", "DistilBertPreTrainedModel", "BaseModelOutput", "to_hf_name", "from_hf_name",
           "is_head_name", "check_single_segment"]
