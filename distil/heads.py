"""DistilBERT's pre-training head: the masked-language model, BERT's MLM head on DistilBERT's encoder.

    logits = LayerNorm(act(W_t h + b_t)) · E_tokenᵀ + b          — BERT's MLM head, the projector tied to E_token
    L_mlm  = Σ_{i∈M} −log softmax(logits_i)[labels_i] / max(|M|, 1)     over the positions M whose label is not −100

Sanh et al. 2019 §3 train DistilBERT on BERT's MLM objective (without NSP), as the L_mlm of the triple loss
(distil/distiller.py); Devlin et al. 2019 §3.1 (Task #1) for the head and the loss (article 003 §4.2, erratum 8).
HF's DistilBertForMaskedLM names the head `vocab_transform` → act → `vocab_layer_norm` → `vocab_projector`
(distil/checkpoint.py translates). The fine-tuning heads are in distil/tasks.py — the split of bert/heads.py and
bert/tasks.py.

Dimension legend
    B  batch    T  tokens    C  channels (dim)    V  vocab_size    N  labelled (masked) positions
"""

from __future__ import annotations

from torch import Tensor

from bert.heads import MaskedLMHead, mlm_logits_and_loss
from bert.outputs import MaskedLMOutput, finish

from .config import LAYER_NORM_EPS, DistilBertConfig
from .model import DistilBertModel, DistilBertPreTrainedModel


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


__all__ = ["DistilBertForMaskedLM"]
