"""What sits on top of BertModel for pre-training: the MLM and NSP heads, BertForPreTraining and BertForMaskedLM,
and the losses every head uses (the fine-tuning classes, in bert/tasks.py, use them too).

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

The fine-tuning classes (§4 of the paper, Figure 4) are in bert/tasks.py; their losses are here
(`sequence_classification_loss`, `cross_entropy_over_kept`), shared with DistilBERT's, and follow transformers' so
that the numbers match — labels in every shape transformers takes for the head (`labels_shaped`).

Dimension legend
    B  batch    T  tokens    C  channels (hidden_size)    V  vocab_size    K  num_labels    N  masked positions
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import BertConfig
from .layers import activation
from .model import BertModel, BertPreTrainedModel, _is_integer
from .outputs import MaskedLMOutput, PreTrainingOutput, finish
from .validation import validates

IGNORE_INDEX = -100  # the label of a position that is not predicted (HF, PyTorch's cross_entropy default)


def mlm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """L_MLM = Σ_{i∈M} −log softmax(logits_i)[x_i] / max(|M|, 1),   M = {i : labels_i ≠ −100}

    The cross-entropy of the original token x_i at the masked positions only: Devlin et al. 2019 §3.1, Task #1
    ("the final hidden vectors corresponding to the mask tokens are fed into an output softmax over the
    vocabulary"); article 003 §4.2 writes MLM(x) = −log softmax(Wx + b) and leaves out that it is taken only
    there, for the original token (articles README, erratum 8). logits (*, V); labels (*,) hold the original id
    at a masked position and −100 (IGNORE_INDEX) elsewhere. This is the one MLM loss of the project: BERT's
    heads, DistilBERT's MLM head and the Distiller's L_mlm all use it.

    Computed as cross_entropy(reduction="sum") / max(|M|, 1): the mean over M when something is masked (what
    F.cross_entropy's mean gives), 0 — not 0/0 = NaN — when nothing is, and no value is read back to the host.
    fp16/bf16 logits are upcast to fp32 for the log-softmax and the sum.
    """
    _check_mlm_arguments(logits, labels)
    return cross_entropy_over_kept(logits, labels)


def cross_entropy_over_kept(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Σ_{i: labels_i ≠ ignore_index} −log softmax(logits_i)[labels_i] / max(#kept, 1) — logits (*, K), labels (*,).

    F.cross_entropy's mean where something is kept; 0 where every label is ignored (transformers gives NaN there:
    0/0; we give 0, so a batch with nothing to predict adds nothing and the trainer never sees a NaN), with no
    value read back to the host. fp16/bf16 logits are upcast to fp32. Used by every loss with an ignore index:
    MLM, NSP, token classification, question answering (ignore_index = T there)."""
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long()   # (*, K) -> (N', K); (N',)
    nll = F.cross_entropy(_upcast(logits), labels, ignore_index=ignore_index, reduction="sum")  # Σ_kept −log p
    return nll / (labels != ignore_index).sum().clamp(min=1)                                     # / max(#kept, 1)


def mlm_logits_and_loss(head: MaskedLMHead, h: Tensor, word_embeddings: Tensor, labels: Tensor | None,
                        masked_only: bool = False) -> tuple[Tensor, Tensor | None]:
    """The MLM head's logits and, with labels, `mlm_loss` — the MLM part of BertForPreTraining, BertForMaskedLM
    and DistilBertForMaskedLM. h (B, T, C); word_embeddings (V, C), the tied decoder weight; labels (B, T) or None.

    Logits (B, T, V). With `masked_only` and labels, the transform and the decoder run only at the N positions
    whose label is not −100 (row-major order) and the logits are (N, V): the same loss, for a fraction of the
    decoder's cost (pre-training masks ~15% of the tokens); the gather needs N on the host (one device sync per
    call on CUDA). Without labels `masked_only` changes nothing.
    """
    if labels is None:
        return head(h, word_embeddings), None                               # (B, T, C) -> (B, T, V)
    labels = labels_shaped("labels", labels, tuple(h.shape[:2]))           # (B·T,) -> (B, T), as transformers
    _check_labels("labels", labels, tuple(h.shape[:2]), word_embeddings.shape[0])
    if masked_only:
        where = labels != IGNORE_INDEX                                      # (B, T) bool
        h, labels = h[where], labels[where]                                 # (B, T, C) -> (N, C); (N,)
    logits = head(h, word_embeddings)                                       # (…, C) -> (…, V)
    return logits, mlm_loss(logits, labels)


def _upcast(x: Tensor) -> Tensor:
    """fp16/bf16 -> fp32 for a softmax and its sums; fp32/fp64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _check_mlm_arguments(logits: Tensor, labels: Tensor) -> None:
    """Shapes and dtypes of mlm_loss's arguments (metadata only: nothing is read back)."""
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got "
                        f"{logits.dtype if isinstance(logits, Tensor) else type(logits).__name__}")
    if not isinstance(labels, Tensor) or not _is_integer(labels):
        raise TypeError(f"labels must be an integer tensor, got "
                        f"{labels.dtype if isinstance(labels, Tensor) else type(labels).__name__}")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels must have the shape of logits without its last dim, {tuple(logits.shape[:-1])}, "
                         f"got {tuple(labels.shape)}")


def labels_shaped(name: str, labels: Tensor, shape: tuple[int, ...]) -> Tensor:
    """`labels` as `shape`, from the shapes transformers also takes for it (its losses read `labels.view(-1)`):
    the shape itself, flat (B·T,) for (B, T), and (B, 1) for (B,). Any other shape is a ValueError naming them —
    a (T, B) tensor with the right number of elements would be wrong numbers, not a reshape."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    n = 1
    for d in shape:
        n *= d
    accepted = [tuple(shape), (n,)] + ([(shape[0], 1)] if len(shape) == 1 else [])
    if tuple(labels.shape) not in accepted:
        raise ValueError(f"{name} must have shape {' or '.join(map(str, dict.fromkeys(accepted)))}, "
                         f"got {tuple(labels.shape)}")
    return labels.reshape(shape)


def _check_labels(name: str, labels: Tensor, shape: tuple[int, ...], num_classes: int | None,
                  ignore_index: int | None = IGNORE_INDEX) -> None:
    """Clear errors for bad labels: shape, integer dtype, and — where values may be read back
    (`bert.validation.validates`, by default on CPU) — class ids in [0, num_classes) (or ignore_index)."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if tuple(labels.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(labels.shape)}")
    if num_classes is None:
        return
    if not _is_integer(labels):
        raise TypeError(f"{name} must be an integer tensor of class ids, got dtype {labels.dtype}")
    if not validates(labels):
        return
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if bool(bad.any()):
        allowed = f"[0, {num_classes})" + (f" or {ignore_index}" if ignore_index is not None else "")
        raise ValueError(f"{name} must lie in {allowed}, got {labels[bad][:5].tolist()}")


def nsp_loss(logits: Tensor, labels: Tensor, name: str = "labels") -> Tensor:
    """L_NSP = mean over the pairs whose label is not −100 of −log softmax(logits)[y]; labels (B,) or (B, 1),
    0 = IsNext, 1 = NotNext; 0 (not NaN) when every label is −100. BertForPreTraining and
    BertForNextSentencePrediction."""
    labels = labels_shaped(name, labels, (logits.shape[0],))
    _check_labels(name, labels, (logits.shape[0],), 2)
    return cross_entropy_over_kept(logits, labels)                      # (B, 2), (B,)


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


def _classifier_dropout(config: BertConfig) -> nn.Dropout:
    p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    return nn.Dropout(p)


def sequence_classification_loss(logits: Tensor, labels: Tensor, problem_type: str | None = None) -> Tensor:
    """The loss of a sequence classifier, as transformers chooses it from `problem_type` (config.problem_type) or,
    when that is None, from K and the labels' dtype: K = 1 → "regression", MSE on float labels (B,) or (B, 1);
    integer labels (B,) or (B, 1) → "single_label_classification", cross-entropy; float labels (B, K) →
    "multi_label_classification", BCE with one 0/1 target per class. "regression" with K > 1 is MSE on (B, K).
    Unlike transformers, the config is never changed by a forward (transformers writes the inferred problem_type
    back into it). Shared by BertForSequenceClassification and DistilBertForSequenceClassification."""
    B, K = logits.shape
    if problem_type is None:
        problem_type = ("regression" if K == 1 else "single_label_classification" if _is_integer(labels)
                        else "multi_label_classification")
    if problem_type == "regression":
        labels = labels_shaped("labels", labels, (B,) if K == 1 else (B, K))
        return F.mse_loss(logits.reshape(labels.shape), labels.to(logits.dtype))
    if problem_type == "multi_label_classification":
        _check_labels("labels", labels, (B, K), None)
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    labels = labels_shaped("labels", labels, (B,))
    _check_labels("labels", labels, (B,), K)                            # single-label classification
    return F.cross_entropy(logits, labels.long())                       # int32 labels too; −100 ignored, as HF


__all__ = ["BertForPreTraining", "BertForMaskedLM", "MaskedLMHead", "NextSentenceHead", "mlm_loss",
           "mlm_logits_and_loss", "IGNORE_INDEX", "cross_entropy_over_kept", "sequence_classification_loss",
           "labels_shaped"]
