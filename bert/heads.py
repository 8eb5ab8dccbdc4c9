"""What sits on top of BertModel for pre-training: the MLM and NSP heads, BertForPreTraining, BertForMaskedLM and
BertForNextSentencePrediction. Their losses are in bert/losses.py (with every other loss).

    MLM  logits_i = LayerNorm(act(W_t h_i + b_t)) · E_tokenᵀ + b          (decoder tied to the word embeddings)
         L_MLM = Σ_{i∈M} −log softmax(logits_i)[x_i] / max(|M|, 1)        (M = positions whose label is not −100)
    NSP  logits = W_nsp · pooled + b_nsp  (2 classes: 0 = B follows A ("IsNext"), 1 = B is random)
         L_NSP = −log softmax(logits)[y]   (mean over the pairs whose label is not −100; 0 if none is)
    pre-training: L = L_MLM + L_NSP

Devlin et al. 2019 §3.1 (Task #1 masked LM, Task #2 NSP) and Appendix A.1/A.2; google-research/bert
`run_pretraining.py` `get_masked_lm_output` (transform dense → gelu → LayerNorm, then the embedding table
transposed plus an output bias) and `get_next_sentence_output`. Articles: 000 §2 (核心概念与联系), 003 §4.2
(掩码语言模型的数学模型) and 004 §3.2.1 (预训练) describe MLM and NSP.
Article 003 §4.2 writes `MLM(x) = −log softmax(Wx + b)`; the loss is only taken at the masked positions, for the
original token (articles README, erratum 8) — hence the −100 labels.

The fine-tuning classes (§4 of the paper, Figure 4) are in bert/tasks.py. `mlm_loss`, `nsp_loss`, `IGNORE_INDEX`,
`cross_entropy_over_kept`, `sequence_classification_loss` and `labels_shaped` are imported here too, so the old
import paths (`from bert.heads import mlm_loss`) keep working.

Dimension legend
    B  batch    T  tokens    C  channels (hidden_size)    V  vocab_size    N  masked positions
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import BertConfig
from .layers import activation
from .losses import (IGNORE_INDEX, cross_entropy_over_kept, mlm_loss, nsp_loss,  # noqa: F401 (old import paths)
                     sequence_classification_loss)
from .model import BertModel, BertPreTrainedModel
from .outputs import MaskedLMOutput, NextSentencePredictorOutput, PreTrainingOutput, finish
from .validation import check_labels, labels_shaped  # noqa: F401  (labels_shaped: the old import path)


class MaskedLMHead(nn.Module):
    """logits = LayerNorm(act(W_t h + b_t)) · E_tokenᵀ + b: the transform (`dense`, `act`, `layer_norm`), then the
    decoder, whose weight *is* the word-embedding table (passed to forward: the tie is visible) and whose bias
    `bias` (V,) is its own. google-research/bert `get_masked_lm_output`; HF `cls.predictions`."""

    def __init__(self, hidden_size: int, vocab_size: int, activation_name: str = "gelu",
                 layer_norm_eps: float = 1e-12):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)                    # W_t, b_t
        self.act = activation(activation_name)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))                   # b (decoder's own bias)

    @torch.no_grad()
    def resize_vocab(self, n: int, mean_resizing: bool = True) -> None:
        """The bias to n entries (the decoder weight is the word table: resized with it). New entries: the old
        bias's mean with `mean_resizing`, else 0; called by HFMethodsMixin.resize_token_embeddings. transformers
        documents the mean (`_init_added_lm_head_bias_with_mean`: N(mean, (1e-9·std)²)), but its BERT (5.24) ends
        with 0 there — re-tying the decoder bias drops the value; we keep the mean, so a new token (whose embedding
        row is the mean row) starts at about the average logit, the point of mean resizing (Hewitt 2021)."""
        old = self.bias
        new = old.new_zeros(n)
        new[:min(n, old.numel())] = old[:n]
        if n > old.numel() and mean_resizing:
            new[old.numel():] = old.float().mean().to(old.dtype)
        self.bias = nn.Parameter(new, requires_grad=old.requires_grad)

    def forward(self, h: Tensor, word_embeddings: Tensor) -> Tensor:
        h = self.layer_norm(self.act(self.dense(h)))                        # (…, C)
        return F.linear(h, word_embeddings, self.bias)                      # (…, C) · (V, C)ᵀ -> (…, V)


class NextSentenceHead(nn.Module):
    """NSP logits = W_nsp · pooled + b_nsp, 2 classes: 0 = IsNext (B follows A), 1 = NotNext (B is random).
    Devlin et al. §3.1 Task #2; HF `cls.seq_relationship`."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(hidden_size, 2)

    def forward(self, pooled: Tensor) -> Tensor:
        return self.linear(pooled)                                          # (B, C) -> (B, 2)


def mlm_logits_and_loss(head: MaskedLMHead, h: Tensor, word_embeddings: Tensor, labels: Tensor | None,
                        masked_only: bool = False) -> tuple[Tensor, Tensor | None]:
    """The MLM head's logits and, with labels, `mlm_loss` — the MLM part of BertForPreTraining, BertForMaskedLM
    and DistilBertForMaskedLM. h (B, T, C); word_embeddings (V, C), the tied decoder weight; labels (B, T) or None.

    Logits (B, T, V). With `masked_only` and labels, the transform and the decoder run only at the N positions
    whose label is not −100 (row-major order) and the logits are (N, V): the same loss, for a fraction of the
    decoder's cost (pre-training masks ~15% of the tokens); the gather needs N on the host (one device sync per
    call on CUDA). Without labels `masked_only` changes nothing. Labels may also come flat (B·T,), as transformers
    takes them; they are checked once, here (shape, class ids in [0, V) or −100).
    """
    if labels is None:
        return head(h, word_embeddings), None                               # (B, T, C) -> (B, T, V)
    labels = check_labels("labels", labels, tuple(h.shape[:2]), word_embeddings.shape[0], reshape=True)  # (B, T)
    if masked_only:
        where = labels != IGNORE_INDEX                                      # (B, T) bool
        h, labels = h[where], labels[where]                                 # (B, T, C) -> (N, C); (N,)
    logits = head(h, word_embeddings)                                       # (…, C) -> (…, V)
    return logits, mlm_loss(logits, labels)


class BertForPreTraining(BertPreTrainedModel):
    """BERT with its two pre-training heads: `mlm_head` (MaskedLMHead) and `nsp_head` (NextSentenceHead).
    loss = L_MLM + L_NSP when both `labels` (B, T; −100 = not masked) and `next_sentence_label` (B,; 0 = IsNext)
    are given (as HF); `mlm_loss` / `nsp_loss` are each set when its own labels are given.

    `masked_only` (attribute, default False): when True and labels are given, the MLM head decodes only at the N
    labelled positions, row-major, and the logits are (N, V): the same loss for a fraction of the decoder's cost;
    set once by whoever builds the model for pre-training (`model.masked_only = True`)."""

    hf_architecture = "BertForPreTraining"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.mlm_head = MaskedLMHead(config.hidden_size, config.vocab_size, config.hidden_act, config.layer_norm_eps)
        self.nsp_head = NextSentenceHead(config.hidden_size)
        self.init_weights(self.mlm_head, self.nsp_head)
        self.masked_only = False                                            # see the class docstring

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None,
                next_sentence_label: Tensor | None = None, *, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, return_dict=True,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        E = self.bert.embeddings.word_embeddings.weight                     # (V, C), the tied decoder weight
        prediction_logits, loss_mlm = mlm_logits_and_loss(self.mlm_head, out.last_hidden_state, E, labels,
                                                          self.masked_only)
        nsp_logits = self.nsp_head(out.pooler_output)                       # (B, 2)
        loss_nsp = None if next_sentence_label is None else nsp_loss(nsp_logits, next_sentence_label,
                                                                      "next_sentence_label")
        loss = loss_mlm + loss_nsp if loss_mlm is not None and loss_nsp is not None else None
        return finish(PreTrainingOutput(loss, prediction_logits, nsp_logits, out.hidden_states, out.attentions,
                                        loss_mlm, loss_nsp), return_dict, self.config)


class BertForMaskedLM(BertPreTrainedModel):
    """BERT (no pooler, as HF) + `mlm_head`; loss = L_MLM when `labels` are given (−100 = not predicted).

    `masked_only` (attribute, default False): when True and labels are given, the MLM head decodes only at the N
    labelled positions, row-major, and the logits are (N, V): the same loss for a fraction of the decoder's cost;
    set once by whoever builds the model for pre-training (`model.masked_only = True`)."""

    hf_architecture = "BertForMaskedLM"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.mlm_head = MaskedLMHead(config.hidden_size, config.vocab_size, config.hidden_act, config.layer_norm_eps)
        self.init_weights(self.mlm_head)
        self.masked_only = False                                            # see the class docstring

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None, *,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, return_dict=True,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        E = self.bert.embeddings.word_embeddings.weight                     # (V, C), the tied decoder weight
        logits, loss = mlm_logits_and_loss(self.mlm_head, out.last_hidden_state, E, labels, self.masked_only)
        return finish(MaskedLMOutput(loss, logits, out.hidden_states, out.attentions), return_dict, self.config)


class BertForNextSentencePrediction(BertPreTrainedModel):
    """BERT with only the NSP head (`nsp_head`; transformers' `cls.seq_relationship`): logits (B, 2) on the pooled
    [CLS], 0 = IsNext (B follows A), 1 = NotNext; loss (`labels` (B,) or (B, 1)) = `nsp_loss`. Devlin et al. 2019
    §3.1 Task #2; article 003 §4.3."""

    hf_architecture = "BertForNextSentencePrediction"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.nsp_head = NextSentenceHead(config.hidden_size)
        self.init_weights(self.nsp_head)

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None, *,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, return_dict=True,
                        output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.nsp_head(out.pooler_output)                           # (B, C) -> (B, 2)
        loss = None if labels is None else nsp_loss(logits, labels)
        return finish(NextSentencePredictorOutput(loss, logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


__all__ = ["BertForPreTraining", "BertForMaskedLM", "BertForNextSentencePrediction", "MaskedLMHead", "NextSentenceHead",
           "mlm_logits_and_loss",
           # the losses' old import paths (they live in bert/losses.py and bert/validation.py)
           "mlm_loss", "nsp_loss", "IGNORE_INDEX", "cross_entropy_over_kept", "sequence_classification_loss",
           "labels_shaped"]
