"""Tests for bert/validation.py: the one switch for value checks (auto: on for CPU tensors, off for CUDA ones;
True; False), what it turns on and off in the models, and that nothing reads data back while torch.compile
traces."""

from __future__ import annotations

import pytest
import torch

from bert import BertForMaskedLM, BertModel
from bert.model import padding_mask
from bert.validation import get_validation, set_validation, validates, validation
from tests.bert.tiny import V, random_batch, tiny_config


def _bad_mask_batch():
    ids = torch.ones(2, 5, dtype=torch.long)
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[1, 3:] = 2                                                      # neither 0 (padding) nor 1 (token)
    return ids, mask


def test_auto_reads_cpu_tensors_only():
    assert get_validation() is None                                      # the default is auto
    assert validates(torch.zeros(3)) is True                             # CPU: a read costs microseconds
    assert validates(torch.zeros(3, device="meta")) is False             # any other device: no data read
    with validation(True):
        assert validates(torch.zeros(3, device="meta")) is True
    with validation(False):
        assert validates(torch.zeros(3)) is False
    assert get_validation() is None


def test_the_context_manager_restores_the_mode_after_an_error():
    with pytest.raises(RuntimeError, match="inside"):
        with validation(False):
            raise RuntimeError("inside")
    assert get_validation() is None
    with pytest.raises(TypeError, match="True, False or None"):
        set_validation("on")
    assert get_validation() is None


def test_value_checks_follow_the_switch_shape_checks_always_run():
    model = BertModel(tiny_config()).eval()
    ids, mask = _bad_mask_batch()
    with pytest.raises(ValueError, match="attention_mask must be bool or hold only 0"):
        model(ids, mask)                                                 # auto on CPU: checked
    with validation(False), torch.no_grad():
        quiet = model(ids, mask).last_hidden_state                       # not read: 2 counts as "token"
        assert torch.equal(quiet, model(ids, (mask != 0).long()).last_hidden_state)
        with pytest.raises(ValueError, match="attention_mask must have the shape of input_ids"):
            model(ids, mask[:, :4])                                      # shapes: always
        with pytest.raises(TypeError, match="input_ids must be an int64 .torch.long. or int32 tensor"):
            model(ids.float())                                           # dtypes: always
        out_of_range = torch.tensor([[1, V]])
        with pytest.raises(IndexError):                                  # the embedding's own error, not ours
            model(out_of_range)
    with validation(True), pytest.raises(ValueError, match=rf"input_ids must lie in \[0, vocab_size={V}\)"):
        model(out_of_range)


def test_label_range_checks_follow_the_switch():
    model = BertForMaskedLM(tiny_config()).eval()
    batch = random_batch()
    labels = batch["labels"].clone()
    labels[0, 0] = V                                                     # not a token id
    with pytest.raises(ValueError, match=rf"labels must lie in \[0, {V}\) or -100"):
        model(batch["input_ids"], batch["attention_mask"], labels=labels)
    with validation(False), pytest.raises(IndexError):                  # cross_entropy's own error, not ours
        model(batch["input_ids"], batch["attention_mask"], labels=labels)


def test_padding_mask_drops_an_all_ones_mask_only_where_it_may_read_it():
    ones = torch.ones(2, 4, dtype=torch.long)
    assert padding_mask(ones) is None                                    # auto, CPU: read, nothing padded
    with validation(False):
        keep = padding_mask(ones)                                        # not read: the mask is kept
    assert keep.shape == (2, 1, 1, 4) and keep.dtype == torch.bool and bool(keep.all())
    padded = ones.clone()
    padded[1, 2:] = 0
    assert torch.equal(padding_mask(padded)[:, 0, 0], padded.bool())
    model = BertModel(tiny_config()).eval()
    ids = random_batch()["input_ids"]
    mask = torch.ones_like(ids)
    with torch.no_grad():
        dropped = model(ids, mask).last_hidden_state
        with validation(False):
            kept = model(ids, mask).last_hidden_state
    torch.testing.assert_close(kept, dropped, rtol=1e-6, atol=1e-6)      # the same answer either way


def test_nothing_is_read_back_while_torch_compile_traces():
    seen = []

    def f(x):
        seen.append(validates(x))                                        # runs while dynamo traces
        return x + 1 if validates(x) else x - 1

    out = torch.compile(f, backend="eager", fullgraph=True)(torch.zeros(2))
    assert torch.equal(out, torch.full((2,), -1.0)) and seen and not any(seen)
    model = BertModel(tiny_config(num_hidden_layers=1)).eval()
    ids, mask = _bad_mask_batch()
    compiled = torch.compile(model, backend="eager", fullgraph=True)    # a data read would be a graph break
    with torch.no_grad():
        torch.testing.assert_close(compiled(ids, (mask != 0).long()).last_hidden_state,
                                   model(ids, (mask != 0).long()).last_hidden_state)
