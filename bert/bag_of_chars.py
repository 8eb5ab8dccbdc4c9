"""The baseline before BERT: a bag of characters and logistic regression, for Chinese sentiment and NER.

What pre-training buys is measured against it (`python -m benchmarks --only zh`). No network, no context beyond a
few characters: each text (or each character of a sentence) is a set of features, each feature has one weight per
class, and the class scores are sums of weights —

    z = W·x + b,   p = softmax(z)        multinomial logistic regression (Cox 1958; Bishop 2006 §4.3.4), x ∈ {0,1}^F
    loss = −log p_y                      (cross-entropy), minimised with Adam

`nn.EmbeddingBag(F, K, mode="sum")` is exactly W·x for a sparse x: the sum of the rows of the features present.

- sentiment (`BagOfCharsClassifier`): the text's character unigrams and bigrams (`char_ngrams`);
- NER (`BagOfCharsTagger`): each character classified on its own from the unigrams and bigrams of a window of
  ±`width` characters around it, each tagged with its offset (`window_features`); tags are read from the
  per-character probabilities as the networks' are (`bert.ner.decode_tags`: arg-max, or the best valid BIO
  sequence), and entities as conlleval reads them (`bert.ner.entity_spans`).

Features seen fewer than `min_count` times in training are dropped (`FeatureVocab`); training is seeded and the
batches follow a seeded generator, so a rerun gives the same weights.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from .ner import decode_tags

PAD_LEFT, PAD_RIGHT = "<s>", "</s>"          # what lies beyond a sentence's ends in a window


def char_ngrams(text: str) -> list[str]:
    """The character unigrams and bigrams of a text (spaces count as characters): "很好" → ["U:很", "U:好", "B:很好"]."""
    return [f"U:{c}" for c in text] + [f"B:{a}{b}" for a, b in zip(text, text[1:])]


def window_features(chars: Sequence[str], i: int, width: int = 2) -> list[str]:
    """The features of character i: the unigram at each offset o in [−width, width] ("U-1:京") and the bigram
    starting at each offset in [−width, width − 1] ("B0:京市"), positions beyond the sentence written <s> / </s>."""
    def at(j: int) -> str:
        return chars[j] if 0 <= j < len(chars) else PAD_LEFT if j < 0 else PAD_RIGHT
    return ([f"U{o}:{at(i + o)}" for o in range(-width, width + 1)]
            + [f"B{o}:{at(i + o)}{at(i + o + 1)}" for o in range(-width, width)])


class FeatureVocab:
    """Feature strings → row ids: the features seen ≥ min_count times, sorted (a fixed order); unknown ones dropped."""

    def __init__(self, rows: Iterable[Iterable[str]], min_count: int = 2):
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count: expected an int ≥ 1, got {min_count!r}")
        counts = Counter(f for row in rows for f in set(row))
        self.index = {f: i for i, f in enumerate(sorted(f for f, n in counts.items() if n >= min_count))}

    def __len__(self) -> int:
        return len(self.index)

    def encode(self, features: Iterable[str]) -> list[int]:
        return [self.index[f] for f in set(features) if f in self.index]


class LogisticRegression(nn.Module):
    """z = W·x + b for a binary feature vector x given as the ids of its ones: W (F, K) an EmbeddingBag summing
    rows, b (K,). A row with no known feature scores b alone."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.weight = nn.EmbeddingBag(max(1, num_features), num_classes, mode="sum", sparse=True)
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, ids: Tensor, offsets: Tensor) -> Tensor:
        return self.weight(ids, offsets) + self.bias                              # (N, K)


def flat(rows: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """Rows of ids → (ids, offsets) as EmbeddingBag reads them."""
    offsets = torch.tensor([0] + [len(r) for r in rows[:-1]]).cumsum(0)
    return torch.tensor([i for r in rows for i in r], dtype=torch.long), offsets


@torch.no_grad()
def logistic_gradient(model: LogisticRegression, rows: Sequence[Sequence[int]], y: Tensor) -> tuple[Tensor, Tensor]:
    """(∂L/∂W sparse (F, K), ∂L/∂b (K,)) of the mean cross-entropy L = −(1/B) Σ log softmax(z)_y over B rows:
    ∂L/∂z = (softmax(z) − onehot(y)) / B (Bishop 2006 §4.3.4), ∂L/∂b = Σ_rows ∂L/∂z, and ∂L/∂W[f] = the sum of
    ∂L/∂z over the rows that hold feature f (z = Σ_f W[f] + b) — only the batch's features' rows are non-zero."""
    ids, offsets = flat(rows)
    dz = model(ids, offsets).softmax(-1)                                   # softmax(z)      (B, K)
    dz[torch.arange(len(rows)), y] -= 1                                    # − onehot(y)
    dz /= len(rows)                                                        # the mean over the batch
    row_of_id = torch.repeat_interleave(torch.arange(len(rows)), torch.tensor([len(r) for r in rows]))
    grad_w = torch.sparse_coo_tensor(ids[None], dz[row_of_id], model.weight.weight.shape, check_invariants=True)
    return grad_w, dz.sum(0)


def train_logistic(rows: Sequence[Sequence[int]], labels: Sequence[int], num_features: int, num_classes: int,
                   epochs: int = 5, lr: float = 0.05, batch_size: int = 256, seed: int = 0) -> LogisticRegression:
    """Minimise the mean cross-entropy L = −log softmax(W·x + b)_y with Adam (Kingma & Ba 2015) over shuffled batches.
    The gradient is `logistic_gradient` (the formula, no autograd: backward passes are the training loop's,
    bert/training/loop.py); W's is sparse, updated by SparseAdam."""
    if len(rows) != len(labels) or not rows:
        raise ValueError(f"rows and labels: expected equal, non-zero lengths, got {len(rows)} and {len(labels)}")
    torch.manual_seed(seed)
    model = LogisticRegression(num_features, num_classes)
    opts = [torch.optim.SparseAdam([model.weight.weight], lr=lr), torch.optim.Adam([model.bias], lr=lr)]
    gen = torch.Generator().manual_seed(seed)
    y = torch.tensor(labels, dtype=torch.long)
    for _ in range(epochs):
        for batch in torch.randperm(len(rows), generator=gen).split(batch_size):
            chosen = [rows[i] for i in batch.tolist()]
            model.weight.weight.grad, model.bias.grad = logistic_gradient(model, chosen, y[batch])
            for opt in opts:
                opt.step()
    return model.eval()


@torch.no_grad()
def scores(model: LogisticRegression, rows: Sequence[Sequence[int]], batch_size: int = 4096) -> Tensor:
    """Logits z (N, K) of every row."""
    if not rows:
        return torch.zeros(0, model.bias.numel())
    return torch.cat([model(*flat(rows[s:s + batch_size])) for s in range(0, len(rows), batch_size)])


class BagOfCharsClassifier:
    """Text classification from character unigrams and bigrams (module docstring)."""

    def __init__(self, min_count: int = 2, epochs: int = 5, lr: float = 0.05, batch_size: int = 64, seed: int = 0):
        self.min_count, self.epochs, self.lr, self.batch_size, self.seed = min_count, epochs, lr, batch_size, seed

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "BagOfCharsClassifier":
        features = [char_ngrams(t) for t in texts]
        self.vocab = FeatureVocab(features, self.min_count)
        self.model = train_logistic([self.vocab.encode(f) for f in features], labels, len(self.vocab),
                                    max(labels) + 1, self.epochs, self.lr, self.batch_size, self.seed)
        return self

    def probabilities(self, texts: Sequence[str]) -> Tensor:
        """p = softmax(W·x + b) (N, K)."""
        return scores(self.model, [self.vocab.encode(char_ngrams(t)) for t in texts]).softmax(-1)

    def predict(self, texts: Sequence[str]) -> list[int]:
        return self.probabilities(texts).argmax(-1).tolist()


class BagOfCharsTagger:
    """One tag per character from the window features around it (module docstring)."""

    def __init__(self, width: int = 2, min_count: int = 2, epochs: int = 3, lr: float = 0.05, batch_size: int = 1024,
                 seed: int = 0):
        self.width, self.min_count, self.epochs, self.lr, self.batch_size, self.seed = (
            width, min_count, epochs, lr, batch_size, seed)

    def rows(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [window_features(s, i, self.width) for s in sentences for i in range(len(s))]

    def fit(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> "BagOfCharsTagger":
        self.labels = sorted({t for s in tags for t in s})
        index = {t: i for i, t in enumerate(self.labels)}
        features = self.rows(sentences)
        self.vocab = FeatureVocab(features, self.min_count)
        self.model = train_logistic([self.vocab.encode(f) for f in features], [index[t] for s in tags for t in s],
                                    len(self.vocab), len(self.labels), self.epochs, self.lr, self.batch_size,
                                    self.seed)
        return self

    def predict(self, sentences: Sequence[Sequence[str]], decode: str = "argmax") -> list[list[str]]:
        """Each sentence's tags from log p = log_softmax(W·x + b) of each character, read as `bert.ner.decode_tags`
        reads a network's: "argmax" per character, or "bio" (the most probable valid BIO sequence)."""
        log_probs = scores(self.model, [self.vocab.encode(f) for f in self.rows(sentences)]).log_softmax(-1)
        out, k = [], 0
        for s in sentences:
            out.append(decode_tags(log_probs[k:k + len(s)], self.labels, decode))
            k += len(s)
        return out


__all__ = ["char_ngrams", "window_features", "FeatureVocab", "LogisticRegression", "train_logistic", "scores",
           "BagOfCharsClassifier", "BagOfCharsTagger"]
