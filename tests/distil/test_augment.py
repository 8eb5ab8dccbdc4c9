"""Data augmentation for task-specific distillation (distil/augment.py): the embedding neighbours against a numpy
reference and a hand-drawn example, and the augmented batches' invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.losses import IGNORE_INDEX
from bert.training import pad_batch
from distil.augment import (AugmentedData, augmented_data, continuation_pieces, embedding_neighbours,
                            whole_words)

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "good", "great", "bad", "awful", "film",
          "movie", "##s", "the", "a", ",", "fun", "dull", "3"]


def test_vocabulary_masks():
    words, pieces = whole_words(TOKENS), continuation_pieces(TOKENS)
    assert [t for t, w in zip(TOKENS, words) if w] == ["good", "great", "bad", "awful", "film", "movie", "the", "a",
                                                       "fun", "dull"]
    assert [t for t, p in zip(TOKENS, pieces) if p] == ["##s"]


def test_neighbours_by_hand():
    # unit vectors at these angles (degrees); token 2 is not a candidate, so nobody's neighbour and no neighbours
    angles = [0.0, 10.0, 5.0, 90.0, 180.0, 30.0]
    e = torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles]) * torch.tensor(
        [[1.0], [3.0], [1.0], [0.5], [2.0], [1.0]])                          # lengths do not matter: cosines
    candidates = torch.tensor([True, True, False, True, True, True])
    nb = embedding_neighbours(e, candidates, k=2)
    assert nb.tolist() == [[1, 5], [0, 5], [-1, -1], [5, 1], [3, 5], [1, 0]]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.integers(6, 40), st.integers(2, 8), st.integers(1, 4))
def test_neighbours_match_numpy(seed, vocab, width, k):
    g = np.random.default_rng(seed)
    e = g.normal(size=(vocab, width))
    candidates = g.random(vocab) < 0.7
    candidates[:k + 1] = True                                                  # at least k + 1 candidates
    nb = embedding_neighbours(torch.tensor(e, dtype=torch.float32), torch.tensor(candidates), k=k, chunk=5)
    ids = np.flatnonzero(candidates)
    unit = e / np.linalg.norm(e, axis=1, keepdims=True)
    for v in range(vocab):
        if not candidates[v]:
            assert (nb[v] == -1).all()
            continue
        cos = {u: float(unit[u] @ unit[v]) for u in ids if u != v}
        expected = sorted(cos, key=lambda u: -cos[u])[:k]
        got = nb[v].tolist()
        # equal up to near-ties (float32 vs float64): the cosines of the picks match the reference's
        np.testing.assert_allclose([cos[u] for u in got], [cos[u] for u in expected], atol=1e-5)
        assert v not in got and all(candidates[u] for u in got)


def test_neighbours_reject_bad_arguments():
    e, c = torch.randn(5, 3), torch.ones(5, dtype=torch.bool)
    with pytest.raises(ValueError, match="k must be"):
        embedding_neighbours(e, c, k=5)                                        # only 4 others
    with pytest.raises(ValueError, match="candidates must be"):
        embedding_neighbours(e, c[:4], k=2)
    with pytest.raises(ValueError, match="embeddings must be"):
        embedding_neighbours(e[0], c, k=2)


class _Rows:
    """A minimal EpochData: fixed token rows with labels."""

    def __init__(self, rows, labels):
        self.rows, self.labels = rows, labels

    def num_examples(self, epoch):
        return len(self.rows)

    def lengths(self, epoch):
        return [len(r) for r in self.rows]

    def collate(self, epoch, indices):
        return pad_batch([{"input_ids": self.rows[i], "labels": self.labels[i]} for i in indices], 0)


def _data(p, copies=2, seed=0):
    ids = {t: i for i, t in enumerate(TOKENS)}
    rows = [[ids[t] for t in s] for s in (["[CLS]", "good", "film", "[SEP]"],
                                          ["[CLS]", "the", "movie", "##s", "dull", ",", "[SEP]"],
                                          ["[CLS]", "a", "fun", "3", "[SEP]"])]
    e = torch.randn(len(TOKENS), 4, generator=torch.Generator().manual_seed(1))
    nb = embedding_neighbours(e, whole_words(TOKENS), k=3)
    return AugmentedData(_Rows(rows, [1, 0, 1]), nb, continuation_pieces(TOKENS), p=p, copies=copies, seed=seed), nb


def test_augmented_batch_layout_and_p0_copies():
    data, _ = _data(p=0.0, copies=2)
    b = data.collate(0, [0, 1, 2])
    assert b["input_ids"].shape == (9, 7) and b["attention_mask"].shape == (9, 7)
    assert b["labels"].tolist() == [1, 0, 1] + [IGNORE_INDEX] * 6               # the copies have no true label
    for c in (1, 2):
        assert torch.equal(b["input_ids"][3 * c:3 * c + 3], b["input_ids"][:3])   # p = 0: unchanged
        assert torch.equal(b["attention_mask"][3 * c:3 * c + 3], b["attention_mask"][:3])
    assert data.num_examples(0) == 3 and data.lengths(0) == [4, 7, 5]


def test_p1_replaces_every_eligible_word_with_a_neighbour():
    data, nb = _data(p=1.0, copies=3)
    b = data.collate(0, [0, 1, 2])
    x, new = b["input_ids"][:3], b["input_ids"][3:].view(3, 3, -1)            # (copy, row, T)
    ids = {t: i for i, t in enumerate(TOKENS)}
    # eligible: one-piece whole words; "movie" is followed by "##s" (kept), "3" and "," are not words, pads stay
    eligible = torch.zeros_like(x, dtype=torch.bool)
    for r, c in ((0, 1), (0, 2), (1, 1), (1, 4), (2, 1), (2, 2)):
        eligible[r, c] = True
    assert x[1, 2] == ids["movie"] and x[1, 3] == ids["##s"] and x[2, 3] == ids["3"]
    for copy in new:
        assert torch.equal(copy[~eligible], x[~eligible])
        for r, c in eligible.nonzero().tolist():
            assert copy[r, c] in nb[x[r, c]].tolist()                          # always one of its neighbours


def test_replacement_rate_and_determinism():
    data, _ = _data(p=0.3, copies=1)
    big = AugmentedData(_Rows(data.data.rows * 200, data.data.labels * 200), data.neighbours, data.continuation,
                        p=0.3, copies=1)
    b = big.collate(0, list(range(600)))
    changed = (b["input_ids"][600:] != b["input_ids"][:600]).sum().item()
    assert 0.2 * 1200 < changed < 0.4 * 1200                                   # 6 eligible words per 3 rows: 1200
    again = big.collate(0, list(range(600)))
    assert torch.equal(again["input_ids"], b["input_ids"])                    # same (seed, epoch, indices)
    assert not torch.equal(big.collate(1, list(range(600)))["input_ids"], b["input_ids"])


def test_augmented_data_rejects_bad_arguments():
    data, nb = _data(p=0.5)
    for kwargs, match in (({"p": 1.5}, "p must be"), ({"p": True}, "p must be"), ({"copies": 0}, "copies must be"),
                          ({"copies": 1.0}, "copies must be")):
        with pytest.raises(ValueError, match=match):
            AugmentedData(data.data, nb, data.continuation, **kwargs)
    with pytest.raises(ValueError, match="continuation"):
        AugmentedData(data.data, nb, data.continuation[:-1])


def test_true_label_loss_reads_the_original_rows_only():
    """With the copies labelled -100, the task's loss on an augmented batch is the loss on its original rows — the
    Distiller's L_mlm is unchanged — while the teacher's soft targets (L_ce) cover all rows."""
    from bert import BertConfig, BertForSequenceClassification
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=len(TOKENS), hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=32,
                                                     max_position_embeddings=16, num_labels=2)).eval()
    data, _ = _data(p=1.0, copies=2)
    b = data.collate(0, [0, 1, 2])
    plain = data.data.collate(0, [0, 1, 2])
    assert torch.allclose(model(**b).loss, model(**plain).loss, atol=1e-6)


def test_augmented_data_checks_the_vocabulary_size():
    from bert import BertConfig, BertModel

    class Tok:
        vocab_size = len(TOKENS)

        def convert_ids_to_tokens(self, ids):
            return [TOKENS[i] for i in ids]

    model = BertModel(BertConfig(vocab_size=len(TOKENS) + 1, hidden_size=8, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=16))
    with pytest.raises(ValueError, match="word embeddings have 20 rows, the tokenizer 19"):
        augmented_data(_data(0.5)[0].data, model, Tok(), k=3)
    model = BertModel(BertConfig(vocab_size=len(TOKENS), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=16))
    aug = augmented_data(_data(0.5)[0].data, model, Tok(), p=0.5, k=3, copies=2)
    assert aug.neighbours.shape == (len(TOKENS), 3) and aug.copies == 2
