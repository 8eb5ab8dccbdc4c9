"""Reading tags as a sequence: the most probable tag sequence that is valid BIO (Viterbi decoding under BIO's rules).

A token classifier gives each word its own distribution over tags, p_t(y) = softmax(logits_t)(y), and nothing ties
neighbours together. Taking each word's arg-max can produce sequences that BIO forbids — in BIO (IOB2: Tjong Kim
Sang & Veenstra 1999, after Ramshaw & Marcus 1995) every entity starts with B-X and an I-X continues an entity of
type X, so it may only follow B-X or I-X — such as `O I-LOC` or `B-ORG I-LOC I-ORG`, and conlleval then reads a
stray I- as the start of a new entity, so one name becomes two half-names, both wrong. (The MSRA file and the
CoNLL-2003 files used here are IOB2; for IOB1 data, where an I-X may open an entity, read tags by arg-max.)

`bio_viterbi` instead picks, among the sequences BIO allows, the one with the highest probability under the
classifier's own per-word distributions:

    y* = argmax_{y valid}  Σ_t log p_t(y_t)

found exactly by Viterbi's dynamic programme (Viterbi 1967; Jurafsky & Martin, *Speech and Language Processing*,
3rd ed., §8.4), with δ_t(j) the best score of a valid prefix ending in tag j at word t:

    δ_1(j) = log p_1(j)                                 if j may open a sentence (O or B-X), else −∞
    δ_t(j) = max_{i : j may follow i} δ_{t−1}(i) + log p_t(j)
    y*_T = argmax_j δ_T(j),   y*_{t−1} = the i that achieved δ_t(y*_t)

No weights are learned: a CRF (bert/crf.py; Lafferty et al. 2001, Lample et al. 2016 for NER) learns a score for
every transition and decodes with the same `viterbi`; here a transition is allowed (score 0) or forbidden (−∞), so
when every word's arg-max already forms a valid sequence, `bio_viterbi` returns exactly that sequence.
transformers' token-classification pipeline takes the per-word arg-max; `bert.ner.predict_tags(decode="argmax")`
does too, and `decode="bio"` calls this file.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

NEG_INF = float("-inf")


def bio_rules(labels: Sequence[str]) -> tuple[Tensor, Tensor]:
    """BIO's rules over `labels` ("O", "B-X", "I-X", …) as two boolean masks:

        opens[j]       tag j may start a sentence: O or any B- (an I- continues something)
        follows[i, j]  tag j may come right after tag i: O and B- after anything, I-X only after B-X or I-X
    """
    parsed = [tag.partition("-") for tag in labels]
    for tag, (prefix, dash, kind) in zip(labels, parsed):
        if not (tag == "O" or (prefix in ("B", "I") and dash and kind)):
            raise ValueError(f"labels: expected 'O', 'B-<type>' or 'I-<type>', got {tag!r}")
    opens = torch.tensor([prefix != "I" for prefix, _, _ in parsed])
    follows = torch.tensor([[pj != "I" or (pi in ("B", "I") and ki == kj) for pj, _, kj in parsed]
                            for pi, _, ki in parsed])
    return opens, follows


def viterbi(scores: Tensor, transitions: Tensor, start: Tensor, end: Tensor, labels: Sequence[str]) -> list[str]:
    """The highest-scoring tag sequence,

        argmax_y  start[y_1] + Σ_t scores[t, y_t] + Σ_{t≥2} transitions[y_{t−1}, y_t] + end[y_T],

    by the recursion in the module docstring (δ_1 = start + scores_1; each step adds a transition; end at the last).
    scores (T, K); transitions (K, K); start, end (K,); −∞ (or a large negative score) forbids. T = 0 gives []."""
    if scores.dim() != 2 or scores.shape[1] != len(labels):
        raise ValueError(f"scores: expected shape (words, {len(labels)} labels), got {tuple(scores.shape)}")
    if scores.shape[0] == 0:
        return []
    scores, transitions = scores.double(), transitions.double()      # sums of many logs: no ties from rounding
    delta = start.double() + scores[0]                               # δ_1
    back = []
    for t in range(1, scores.shape[0]):
        best, arg = (delta[:, None] + transitions).max(dim=0)        # max over i of δ_{t−1}(i) + transitions[i, j]
        delta = best + scores[t]                                     # δ_t
        back.append(arg)
    path = [int((delta + end.double()).argmax())]                    # y*_T
    for arg in reversed(back):                                       # y*_{t−1} from y*_t
        path.append(int(arg[path[-1]]))
    return [labels[j] for j in reversed(path)]


def bio_viterbi(log_probs: Tensor, labels: Sequence[str]) -> list[str]:
    """The most probable valid BIO sequence (module docstring): `log_probs` (T, K) are log p_t over `labels`
    (K of them) for T words; returns T tags. T = 0 gives []. `viterbi` with transitions and openings 0 (allowed)
    or −∞ (forbidden by `bio_rules`)."""
    if log_probs.dim() != 2 or log_probs.shape[1] != len(labels):
        raise ValueError(f"log_probs: expected shape (words, {len(labels)} labels), got {tuple(log_probs.shape)}")
    opens, follows = bio_rules(labels)
    transitions = torch.zeros(follows.shape).masked_fill(~follows, NEG_INF)     # 0 or −∞
    return viterbi(log_probs, transitions, torch.zeros(len(labels)).masked_fill(~opens, NEG_INF),
                   torch.zeros(len(labels)), labels)


__all__ = ["bio_rules", "viterbi", "bio_viterbi"]
