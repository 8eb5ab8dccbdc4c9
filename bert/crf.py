"""A linear-chain CRF over a tagger's scores: learned transitions between tags, trained on whole sequences.

The token classifier (bert/tasks.py) scores each word alone: e_t(y) = logits_t(y). Reading its tags as BIO
(bert/viterbi.py) forbids the transitions BIO forbids, but every allowed transition costs the same. A
conditional random field (Lafferty et al. 2001; for NER on top of a neural tagger: Lample et al. 2016 §2.2, and
"BERT+CRF", the usual Chinese NER recipe) adds a learned score A[i, j] for tag j right after tag i, s[j] for a
sentence that opens with j and f[j] for one that ends with j, and scores a whole tag sequence y_1 … y_T:

    score(y) = s[y_1] + Σ_t e_t(y_t) + Σ_{t≥2} A[y_{t−1}, y_t] + f[y_T]
    p(y | x) = exp score(y) / Z,        Z = Σ_{y'} exp score(y')

Training minimises −log p(y_gold | x) = log Z − score(y_gold) (`CRF.nll`). log Z sums over every tag sequence —
K^T of them — and the forward algorithm (Rabiner 1989 §III.A; Jurafsky & Martin, 3rd ed., §8.4 and appendix A)
gets it in T steps, with α_t(j) the log of the summed exp-scores of all prefixes that end in tag j at word t:

    α_1(j) = s[j] + e_1(j)
    α_t(j) = logsumexp_i (α_{t−1}(i) + A[i, j]) + e_t(j)
    log Z  = logsumexp_j (α_T(j) + f[j])

Decoding (`CRF.decode`) is Viterbi: the same recursion with max in place of logsumexp (bert/viterbi.py).
BIO's rules stay hard, as in AllenNLP's `allowed_transitions`: a forbidden transition or opening tag gets the score
FORBIDDEN (−10⁴, not −∞, so that logsumexp and its gradient stay finite), in training as in decoding, so Z runs
over valid sequences only. With every learned score 0, the CRF decodes as `bio_viterbi` does (exactly, unless every
valid sequence trails an invalid one by more than 10⁴).
The learned scores start at 0 (deterministic; pytorch-crf draws them from U(−0.1, 0.1)).

`BertCrfForTokenClassification` is BERT's token classifier with a CRF on its logits: e_t = the logits at the first
piece of word t (the positions whose label is not −100), and the loss is the CRF's −log p(y | x) instead of the
per-token cross-entropy. transformers has no such class: its `BertForTokenClassification` loads our folder as a plain
tagger (the crf.* weights unused) and reads tags by arg-max. `bert.ner.predict_tags(decode="crf")` decodes with the
CRF; `python -m bert.finetune --crf` trains one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .outputs import TokenClassifierOutput, finish
from .tasks import BertForTokenClassification
from .viterbi import bio_rules, viterbi

FORBIDDEN = -1e4


class CRF(nn.Module):
    """Learned transition (A), start (s) and end (f) scores over `labels` ("O", "B-X", "I-X", …), BIO enforced."""

    def __init__(self, labels: Sequence[str]):
        super().__init__()
        self.labels = list(labels)
        k = len(self.labels)
        opens, follows = bio_rules(self.labels)
        self.register_buffer("opens", opens, persistent=False)
        self.register_buffer("follows", follows, persistent=False)
        self.transitions = nn.Parameter(torch.zeros(k, k))        # A[i, j]: tag j right after tag i
        self.start = nn.Parameter(torch.zeros(k))                 # s[j]
        self.end = nn.Parameter(torch.zeros(k))                   # f[j]

    def scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """(A, s, f) with BIO's forbidden transitions and openings set to FORBIDDEN."""
        return (self.transitions.masked_fill(~self.follows, FORBIDDEN), self.start.masked_fill(~self.opens, FORBIDDEN),
                self.end)

    def _check(self, emissions: Tensor, mask: Tensor) -> None:
        if emissions.dim() != 3 or emissions.shape[-1] != len(self.labels):
            raise ValueError(f"emissions: expected (batch, words, {len(self.labels)} labels), got "
                             f"{tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(f"mask: expected a bool tensor of shape {tuple(emissions.shape[:2])}, got "
                             f"{mask.dtype} {tuple(mask.shape)}")
        if not bool(mask[:, 0].all()) or bool((mask[:, 1:] & ~mask[:, :-1]).any()):
            raise ValueError("mask: every sentence must have >= 1 word, its words first (True…True False…False)")

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z per sentence (B,), by the forward algorithm (module docstring); emissions (B, T, K), mask (B, T)
        True at each sentence's words (left-aligned)."""
        self._check(emissions, mask)
        A, s, f = self.scores()
        alpha = s + emissions[:, 0]                                                  # α_1: (B, K)
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha[:, :, None] + A, dim=1) + emissions[:, t]   # α_t
            alpha = torch.where(mask[:, t, None], step, alpha)                       # past a sentence's end: keep
        return torch.logsumexp(alpha + f, dim=1)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """score(y) per sentence (B,) for tags (B, T) (module docstring); positions where mask is False add nothing."""
        A, s, f = self.scores()
        tags = tags.masked_fill(~mask, 0)
        emitted = emissions.gather(2, tags[:, :, None]).squeeze(2)                 # e_t(y_t): (B, T)
        moved = A[tags[:, :-1], tags[:, 1:]]                                       # A[y_{t−1}, y_t]: (B, T−1)
        last = tags.gather(1, (mask.sum(1) - 1)[:, None]).squeeze(1)               # y_T
        return (s[tags[:, 0]] + (emitted * mask).sum(1) + (moved * mask[:, 1:]).sum(1) + f[last])

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """−log p(y_gold | x) = log Z − score(y_gold), summed over the sentences and divided by the number of words
        (the per-word scale of the token cross-entropy it replaces)."""
        return (self.log_partition(emissions, mask) - self.score(emissions, tags, mask)).sum() / mask.sum()

    @torch.no_grad()
    def decode(self, emissions: Tensor) -> list[str]:
        """The highest-scoring tag sequence for one sentence's emissions (T, K) (Viterbi, bert/viterbi.py)."""
        A, s, f = self.scores()
        return viterbi(emissions, A, s, f, self.labels)


def word_emissions(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The logits at the words — the positions whose label is not −100 ([CLS], [SEP], padding and the later
    pieces of a word are −100) — moved to the front of each row: (emissions (B, W, K), tags (B, W), mask (B, W)),
    W the most words in a row. Rows without a word are dropped."""
    keep = labels != -100
    rows = keep.any(1)
    keep, labels, logits = keep[rows], labels[rows], logits[rows]
    words = int(keep.sum(1).max()) if len(keep) else 0
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices[:, :words]   # the words first, in order
    emissions = logits.gather(1, order[:, :, None].expand(-1, -1, logits.shape[-1]))
    return emissions, labels.gather(1, order).clamp(min=0), keep.gather(1, order)


class BertCrfForTokenClassification(BertForTokenClassification):
    """BertForTokenClassification + a CRF over its logits (module docstring); config.id2label must name BIO tags
    (python -m bert.finetune sets them from the training file). loss = the CRF's −log p(tags | text) per word."""

    hf_architecture = "BertCrfForTokenClassification"

    def __init__(self, config):
        super().__init__(config)
        labels = [config.id2label[i] for i in range(config.num_labels)]
        try:
            self.crf = CRF(labels)
        except ValueError as e:
            raise ValueError(f"BertCrfForTokenClassification: config.id2label must name BIO tags (O, B-X, I-X), got "
                             f"{labels}") from e

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, labels: Tensor | None = None, *,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None):
        out = super().forward(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                              return_dict=True)
        loss = None
        if labels is not None:
            emissions, tags, mask = word_emissions(out.logits, labels.view(out.logits.shape[:2]))
            loss = self.crf.nll(emissions.float(), tags, mask) if len(mask) else out.logits.sum() * 0.0
        return finish(TokenClassifierOutput(loss, out.logits, out.hidden_states, out.attentions), return_dict,
                      self.config)


__all__ = ["CRF", "FORBIDDEN", "word_emissions", "BertCrfForTokenClassification"]
