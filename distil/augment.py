"""Data augmentation for task-specific distillation: new sentences for the teacher to label.

A teacher fine-tuned for a few epochs on SST-2's phrases predicts their labels almost exactly, so on those phrases
its soft targets say little more than the hard labels: a student distilled there learns about what a student trained
on the labels learns (docs/benchmarks.md, SST-2 section). TinyBERT (Jiao et al. 2020 §3.1, "Data Augmentation",
Algorithm 1) gives the teacher *new* sentences instead: each word of a training sentence is, with probability p_t,
replaced by one of its K most similar words; the teacher labels the result, and the student learns the teacher's
function around the training data, not only at its points. TinyBERT takes the replacements from BERT's masked-LM
guesses for single-piece words and from GloVe neighbours for the others, with p_t = 0.4, K = 15 and 20 new
sentences per sentence.

Here there is no masked-LM head (all-MiniLM-L6-v2 ships the encoder only) and no GloVe offline, so every
replacement comes from the teacher's own word-embedding table, which plays GloVe's role (one context-free vector
per token):

    neighbours(v) = the K tokens u ≠ v with the largest cos(E_u, E_v) = E_u·E_v / (‖E_u‖ ‖E_v‖)

over the *whole words* of the vocabulary: alphabetic tokens that are not continuation pieces (`##…`), not special
and not `[unused…]`. Only words that are one piece are replaced (a piece followed by a `##` piece starts a longer
word and is kept), so a sentence keeps its length and its attention mask. The neighbours of a word in such a table
are words used in the same places — often words of the opposite sentiment ("good" / "bad"): that is why the teacher,
not the original label, labels the new sentence.

`AugmentedData` wraps the training data of the loop (bert/training/batches.py `EpochData`): each batch is the
original sentences, with their labels, followed by `copies` augmented versions of them labelled -100 (ignored by
the task's loss, bert/losses.py), so the Distiller's L_mlm stays the loss on true labels while L_ce and L_cos also
read the teacher on the new sentences (distil/step.py `DistillationStep`). A batch's replacements depend only on
(seed, epoch, the batch's indices): the same plan gives the same sentences, in any order and after a resume.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bert.losses import IGNORE_INDEX


def whole_words(tokens: Sequence[str]) -> Tensor:
    """(V,) bool: which vocabulary entries are whole words that augmentation may use — alphabetic (`str.isalpha`),
    not a continuation piece (`##…`), not a special or `[unused…]` token (those are not alphabetic anyway)."""
    return torch.tensor([t.isalpha() for t in tokens], dtype=torch.bool)


def continuation_pieces(tokens: Sequence[str]) -> Tensor:
    """(V,) bool: the `##…` pieces, which continue the word before them."""
    return torch.tensor([t.startswith("##") for t in tokens], dtype=torch.bool)


def embedding_neighbours(embeddings: Tensor, candidates: Tensor, k: int = 15, chunk: int = 2048) -> Tensor:
    """(V, k) long: for each candidate token v, the k candidates u ≠ v of largest cos(E_u, E_v), most similar first;
    rows of non-candidates are -1. `embeddings` (V, C): a word-embedding table; `candidates` (V,) bool."""
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be (V, C), got shape {tuple(embeddings.shape)}")
    if candidates.shape != embeddings.shape[:1] or candidates.dtype != torch.bool:
        raise ValueError(f"candidates must be a ({embeddings.shape[0]},) bool tensor, got {candidates.dtype} "
                         f"{tuple(candidates.shape)}")
    ids = candidates.nonzero().flatten()                                       # (N,) candidate token ids
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < len(ids):
        raise ValueError(f"k must be an int in 1..{len(ids) - 1} (candidates - 1), got {k!r}")
    e = torch.nn.functional.normalize(embeddings.detach()[ids].float(), dim=-1)   # (N, C) unit rows
    out = torch.full((embeddings.shape[0], k), -1, dtype=torch.long)
    for start in range(0, len(ids), chunk):
        cos = e[start:start + chunk] @ e.T                                     # (n, N) cosines
        rows = torch.arange(cos.shape[0])
        cos[rows, rows + start] = -float("inf")                                # u ≠ v
        out[ids[start:start + chunk]] = ids[cos.topk(k, dim=-1).indices]       # most similar first
    return out


class AugmentedData:
    """Training data whose batches carry `copies` augmented versions of their sentences (module docstring).

    data: an `EpochData` whose `collate` gives input_ids, attention_mask and labels (B,) (bert.finetune's
    `ClassificationData`); neighbours (V, K): `embedding_neighbours`; continuation (V,) bool: `continuation_pieces`;
    p: the probability that an eligible word is replaced (TinyBERT's p_t)."""

    def __init__(self, data, neighbours: Tensor, continuation: Tensor, p: float = 0.4, copies: int = 1,
                 seed: int = 0):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
            raise ValueError(f"copies must be an int ≥ 1, got {copies!r}")
        if neighbours.dim() != 2 or continuation.shape != neighbours.shape[:1]:
            raise ValueError(f"neighbours must be (V, K) and continuation (V,), got {tuple(neighbours.shape)} and "
                             f"{tuple(continuation.shape)}")
        self.data, self.neighbours, self.continuation = data, neighbours, continuation
        self.p, self.copies, self.seed = float(p), copies, seed

    def num_examples(self, epoch: int) -> int:
        return self.data.num_examples(epoch)

    def lengths(self, epoch: int) -> list[int]:
        return self.data.lengths(epoch)

    def augment(self, input_ids: Tensor, attention_mask: Tensor, generator: torch.Generator) -> Tensor:
        """input_ids (B, T) → (B, T): each eligible word — a one-piece whole word (a row of `neighbours` ≠ -1,
        not followed by a `##` piece), inside the mask — replaced with probability p by one of its K neighbours,
        each equally likely."""
        following = torch.zeros_like(input_ids, dtype=torch.bool)
        following[:, :-1] = self.continuation[input_ids[:, 1:]]                # the next token continues this word
        eligible = (self.neighbours[input_ids, 0] >= 0) & ~following & attention_mask.bool()
        replace = eligible & (torch.rand(input_ids.shape, generator=generator) < self.p)
        choice = torch.randint(self.neighbours.shape[1], input_ids.shape, generator=generator)
        new = self.neighbours[input_ids, choice]                                # (B, T) a random neighbour
        return torch.where(replace, new, input_ids)

    def collate(self, epoch: int, indices: Sequence[int]) -> dict[str, Tensor]:
        batch = self.data.collate(epoch, indices)
        generator = torch.Generator().manual_seed(hash((self.seed, epoch, tuple(indices))) & (2 ** 63 - 1))
        new = [self.augment(batch["input_ids"], batch["attention_mask"], generator) for _ in range(self.copies)]
        ignored = torch.full_like(batch["labels"], IGNORE_INDEX)
        return {"input_ids": torch.cat([batch["input_ids"], *new]),
                "attention_mask": batch["attention_mask"].repeat(self.copies + 1, 1),
                "labels": torch.cat([batch["labels"], *[ignored] * self.copies])}


def augmented_data(data, model, tokenizer, p: float = 0.4, k: int = 15, copies: int = 1,
                   seed: int = 0) -> AugmentedData:
    """`AugmentedData` over `data` with the neighbours from `model`'s input word embeddings (its
    `get_input_embeddings()`) and `tokenizer`'s vocabulary."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    table = model.get_input_embeddings().weight
    if table.shape[0] != len(tokens):
        raise ValueError(f"the model's word embeddings have {table.shape[0]} rows, the tokenizer {len(tokens)} tokens")
    return AugmentedData(data, embedding_neighbours(table.cpu(), whole_words(tokens), k),
                         continuation_pieces(tokens), p, copies, seed)


__all__ = ["whole_words", "continuation_pieces", "embedding_neighbours", "AugmentedData", "augmented_data"]
