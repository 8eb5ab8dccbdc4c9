"""Tests for benchmarks/unpad.py: packing the real tokens (varlen / cu_seqlens) and attention over each packed sequence.

Independent reference: each sequence's attention softmax(q kᵀ/√d) v computed alone in float64 numpy on its own
real tokens (no mask involved), and the masked reference path of bert/attention.py at the real positions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.attention import scaled_dot_product_attention
from benchmarks.unpad import pad, packing, unpad, unpadded_attention, varlen_attention

FEW = settings(max_examples=20, deadline=None)


def numpy_per_sequence(q, k, v, keep):
    """q, k, v (B, H, T, D), keep (B, T) → (B, H, T, D): each row b attends over its kept tokens only; 0 elsewhere."""
    q, k, v = (np.asarray(t, dtype=np.float64) for t in (q, k, v))
    keep = np.asarray(keep, bool)
    out = np.zeros(q.shape[:3] + (v.shape[-1],))
    for b in range(q.shape[0]):
        idx = np.flatnonzero(keep[b])
        if idx.size == 0:
            continue
        s = np.einsum("hqd,hkd->hqk", q[b][:, idx], k[b][:, idx]) / math.sqrt(q.shape[-1])
        w = np.exp(s - s.max(-1, keepdims=True))
        out[b][:, idx] = (w / w.sum(-1, keepdims=True)) @ v[b][:, idx]
    return out


@st.composite
def padded_batches(draw):
    """q, k, v (B, H, T, D) float64 and a (B, T) keep-mask: random lengths (0 … T), prefix or scattered tokens."""
    B, H, T, D = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 11)), draw(st.integers(1, 9))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    q, k, v = (torch.randn(B, H, T, D, generator=g, dtype=torch.float64) for _ in range(3))
    if draw(st.booleans()):                                   # right padding, as a tokenizer makes it
        lengths = torch.randint(0, T + 1, (B,), generator=g)
        keep = torch.arange(T)[None, :] < lengths[:, None]
    else:                                                     # any pattern: unpadding must not assume a prefix
        keep = torch.rand(B, T, generator=g) < 0.6
    return q, k, v, keep


@FEW
@given(padded_batches())
def test_unpadded_attention_equals_each_sequence_alone(batch):
    q, k, v, keep = batch
    out = unpadded_attention(q, k, v, keep)
    np.testing.assert_allclose(out.numpy(), numpy_per_sequence(q, k, v, keep), rtol=1e-10, atol=1e-12)


@FEW
@given(padded_batches())
def test_unpadded_equals_masked_reference_at_real_tokens_with_gradients(batch):
    q, k, v, keep = batch
    q, k, v = (t.clone().requires_grad_() for t in (q, k, v))
    ours = unpadded_attention(q, k, v, keep)
    ref, _ = scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])     # (B, 1, 1, T) key mask
    real = keep[:, None, :, None]                                                         # compare real queries only
    torch.testing.assert_close(ours * real, ref * real, rtol=1e-10, atol=1e-12)
    assert bool((ours[~keep[:, None, :, None].expand_as(ours)] == 0).all())               # padding queries → 0
    grad = torch.randn_like(ours) * real                                                  # a loss on real tokens only
    g_ours = torch.autograd.grad(ours, (q, k, v), grad, allow_unused=True)  # unused: q when all is padding
    g_ref = torch.autograd.grad(ref, (q, k, v), grad)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(torch.zeros_like(b) if a is None else a, b, rtol=1e-9, atol=1e-11)


@FEW
@given(padded_batches())
def test_pad_inverts_unpad_on_real_tokens(batch):
    x, _, _, keep = batch
    x = x.transpose(1, 2)                                     # (B, T, H, D)
    p = packing(keep)
    packed = unpad(x, p)
    assert packed.shape == (int(keep.sum()), *x.shape[2:])
    assert p.cu_seqlens[0] == 0 and p.cu_seqlens[-1] == packed.shape[0]
    assert bool((p.cu_seqlens.diff() > 0).all())              # empty rows are left out
    torch.testing.assert_close(pad(packed, p), x * keep[:, :, None, None], rtol=0, atol=0)


def test_packing_of_a_hand_made_mask():
    keep = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0]])
    p = packing(keep)
    assert p.indices.tolist() == [0, 1, 2, 8, 9]              # flat positions b·T + t of the real tokens
    assert p.cu_seqlens.tolist() == [0, 3, 5]
    assert (p.max_seqlen, p.min_seqlen, p.batch, p.tokens) == (3, 2, 3, 4)


def test_dropout_keeps_padding_zero_and_changes_real_tokens():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 6, 4, generator=g) for _ in range(3))
    keep = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] * 5 + [0]]).bool()
    torch.manual_seed(0)
    out = unpadded_attention(q, k, v, keep, dropout_p=0.5)
    assert bool((out[~keep[:, None, :, None].expand_as(out)] == 0).all())
    assert not torch.allclose(out, unpadded_attention(q, k, v, keep))


def test_all_padding_gives_zeros():
    q = torch.randn(2, 3, 4, 5)
    out = unpadded_attention(q, q, q, torch.zeros(2, 4, dtype=torch.bool))
    assert out.shape == q.shape and bool((out == 0).all())


def test_bad_input_is_named():
    p = packing(torch.ones(2, 3))
    with pytest.raises(ValueError, match="attention_mask"):
        packing(torch.ones(2, 3, 4))
    with pytest.raises(TypeError, match="attention_mask"):
        packing([[1, 1, 0]])
    with pytest.raises(ValueError, match=r"\(batch, seq_len\) = \(2, 3\)"):
        unpad(torch.zeros(3, 2, 5), p)
    with pytest.raises(ValueError, match="packed"):
        pad(torch.zeros(5, 4), p)
    with pytest.raises(ValueError, match="query"):
        varlen_attention(torch.zeros(5, 2, 4), torch.zeros(6, 2, 4), torch.zeros(6, 2, 4), p)
    with pytest.raises(ValueError, match="dropout_p"):
        varlen_attention(*(torch.zeros(6, 2, 4) for _ in range(3)), p, dropout_p=1.0)
