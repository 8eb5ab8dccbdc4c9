"""Tests for the data pipeline: padding (collate.py), examples and masks per epoch (data.py), and the plan of
global batches over processes and steps (batches.py)."""

from __future__ import annotations

import pytest
import torch

from bert.training.batches import Position, ShardedBatches
from bert.training.collate import pad_batch
from bert.pretraining.data import PretrainingData, tokenize_documents
from tests.bert.pretraining.helpers import CLS, PAD, SEP, random_token_documents, small_vocab_spec


def _data(dynamic=True, n_docs=40, seed=0):
    return PretrainingData(random_token_documents(n_docs), small_vocab_spec(), pad_id=PAD, cls_id=CLS, sep_id=SEP,
                           seq_len=24, seed=seed, dynamic=dynamic)


def test_pad_batch_pads_each_field_with_its_own_value():
    rows = [{"input_ids": [2, 7, 3], "token_type_ids": [0, 0, 0], "labels": [-100, 7, -100], "next_sentence_label": 1},
            {"input_ids": [2, 3], "token_type_ids": [0, 0], "labels": [-100, -100], "next_sentence_label": 0}]
    b = pad_batch(rows, pad_id=0)
    assert b["input_ids"].tolist() == [[2, 7, 3], [2, 3, 0]]
    assert b["token_type_ids"].tolist() == [[0, 0, 0], [0, 0, 0]]
    assert b["labels"].tolist() == [[-100, 7, -100], [-100, -100, -100]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert b["next_sentence_label"].tolist() == [1, 0] and b["input_ids"].dtype == torch.long
    assert pad_batch(rows, pad_id=0, pad_to_multiple_of=8)["input_ids"].shape == (2, 8)
    as_tensors = [{k: torch.tensor(v) for k, v in r.items()} for r in rows]     # tensors in the rows: the same batch
    assert all(torch.equal(v, b[k]) for k, v in pad_batch(as_tensors, pad_id=0).items())
    with pytest.raises(ValueError, match="rows is empty"):
        pad_batch([], 0)
    with pytest.raises(ValueError, match="row 0 has 2 labels for 3 input_ids"):
        pad_batch([{"input_ids": [1, 2, 3], "labels": [1, 2]}], 0)


def test_a_masked_example_does_not_depend_on_its_batch():
    data = _data()
    alone = data.collate(0, [5])
    together = data.collate(0, [9, 5, 1])
    n = int(alone["attention_mask"].sum())
    for key in ("input_ids", "labels", "token_type_ids"):
        assert torch.equal(together[key][1, :n], alone[key][0, :n])
    assert bool((together["labels"] != -100).any())


def test_dynamic_masking_changes_pairs_and_masks_each_epoch_static_does_not():
    dynamic, static = _data(dynamic=True), _data(dynamic=False)
    idx = list(range(8))
    assert not torch.equal(dynamic.collate(0, idx)["input_ids"], dynamic.collate(1, idx)["input_ids"])
    assert torch.equal(static.collate(0, idx)["input_ids"], static.collate(3, idx)["input_ids"])
    again = _data(dynamic=True)
    assert torch.equal(dynamic.collate(1, idx)["labels"], again.collate(1, idx)["labels"])   # deterministic


def test_all_single_sentence_corpus_is_a_clear_error():
    docs = [[[7, 8, 9]] for _ in range(10)]
    with pytest.raises(ValueError, match="every document has a single sentence"):
        PretrainingData(docs, small_vocab_spec(), pad_id=PAD, cls_id=CLS, sep_id=SEP, seq_len=16)


def test_tokenize_documents_drops_empty_sentences_and_documents():
    from tokenization import BertTokenizer
    tok = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "."])
    docs = [["The cat sat.", "   "], ["\u200b"], ["Cat."]]
    assert tokenize_documents(docs, tok, chunk=2) == [[[5, 6, 7, 8]], [[6, 8]]]


def test_a_global_batch_splits_the_same_way_over_processes_or_accumulation():
    data = _data()
    one = ShardedBatches(data, batch_size=3, accumulation=2, world_size=1, rank=0, seed=4)
    two = [ShardedBatches(data, batch_size=3, accumulation=1, world_size=2, rank=r, seed=4) for r in range(2)]
    for g in one.plan(0)[:5]:
        assert one.micro_batches(g) == [two[0].micro_batches(g)[0], two[1].micro_batches(g)[0]]
    plan = one.plan(0)
    flat = [i for g in plan for i in g]
    assert len(flat) == len(set(flat)) == (data.num_examples(0) // 6) * 6     # each example at most once
    assert one.plan(1) != plan                                                # a new order every epoch


def test_steps_resume_from_a_position_exactly():
    data = _data()
    sb = ShardedBatches(data, batch_size=4, seed=1, group_by_length=3)
    per_epoch = len(sb.plan(0))
    run = sb.steps()
    first = [next(run) for _ in range(per_epoch + 3)]                         # crosses into epoch 1
    assert first[per_epoch - 1][0] == Position(0, per_epoch) and first[per_epoch][0] == Position(1, 1)
    k = per_epoch - 2
    resumed = ShardedBatches(_data(), batch_size=4, seed=1, group_by_length=3).steps(first[k - 1][0])
    for pos, micro in first[k:]:
        pos2, micro2 = next(resumed)
        assert pos2 == pos and all(torch.equal(micro[0][key], micro2[0][key]) for key in micro[0])


def test_grouping_by_length_cuts_padding():
    data = PretrainingData(random_token_documents(200, seed=2), small_vocab_spec(), pad_id=PAD, cls_id=CLS,
                           sep_id=SEP, seq_len=60, short_seq_prob=0.3)
    lengths = data.lengths(0)

    def padded(sb):
        return sum(len(g) * max(lengths[i] for i in g) for g in sb.plan(0))
    plain, grouped = ShardedBatches(data, 8), ShardedBatches(data, 8, group_by_length=20)
    assert len(grouped.plan(0)) == len(plain.plan(0))
    assert padded(grouped) < 0.85 * padded(plain)


def test_bad_batch_settings_are_clear_errors():
    data = _data(n_docs=6)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ShardedBatches(data, 0)
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size=2\)"):
        ShardedBatches(data, 2, world_size=2, rank=2)
    with pytest.raises(ValueError, match="fewer than one global batch"):
        ShardedBatches(data, 500).plan(0)
