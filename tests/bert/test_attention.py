"""Tests for bert/attention.py: the formula softmax(Q Kᵀ / √d_k) V (Vaswani et al. 2017 §3.2.1), its tiled
online-softmax form (Dao et al. 2022 Algorithm 1), the fused kernel, and multi-head attention (§3.2.2).

The independent reference is a float64 numpy computation written here from the formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from bert.attention import (IMPLEMENTATIONS, MultiHeadAttention, fused_attention, resolve_implementation,
                            scaled_dot_product_attention, tiled_attention)

PATHS = {
    "reference": lambda q, k, v, attn_mask=None, **kw: scaled_dot_product_attention(q, k, v, attn_mask, **kw)[0],
    "tiled": tiled_attention,
    "fused": fused_attention,
}
TOL = {torch.float64: dict(rtol=1e-9, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=2e-5),
       torch.float16: dict(rtol=2e-2, atol=2e-2), torch.bfloat16: dict(rtol=5e-2, atol=5e-2)}
FEW = settings(max_examples=25, deadline=None)


# ------------------------------------------------------------------ independent reference and random problems
def numpy_attention(q, k, v, mask=None, scale=None):
    """softmax(q kᵀ · scale) v in float64 numpy, over the unmasked keys only; a row with no key left gives 0."""
    q, k, v = (np.asarray(t, dtype=np.float64) for t in (q, k, v))
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("...qd,...kd->...qk", q, k) * scale
    keep = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), scores.shape)
    row_max = np.where(keep, scores, -np.inf).max(axis=-1, keepdims=True)
    e = np.where(keep, np.exp(scores - np.where(np.isfinite(row_max), row_max, 0.0)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return weights @ v, weights


@st.composite
def problems(draw, dtypes=(torch.float32, torch.float64), with_mask=True, full_rows=False):
    """Random (q, k, v, mask) with shapes (B, H, Tq, D), (B, H, Tk, D), (B, H, Tk, Dv) and a bool mask whose
    shape is (B, H, Tq, Tk) with any subset of dims set to 1 (so it broadcasts)."""
    B, H = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    Tq, Tk = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    D, Dv = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    dtype = draw(st.sampled_from(dtypes))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    q = torch.randn(B, H, Tq, D, generator=g, dtype=torch.float64) * 2
    k = torch.randn(B, H, Tk, D, generator=g, dtype=torch.float64) * 2
    v = torch.randn(B, H, Tk, Dv, generator=g, dtype=torch.float64)
    mask = None
    if with_mask and (full_rows or draw(st.booleans())):
        shape = [n if draw(st.booleans()) else 1 for n in (B, H, Tq, Tk)]
        mask = torch.rand(*shape, generator=g) < draw(st.floats(0.2, 0.9))
        if full_rows:  # force at least one fully masked query row
            shape[2] = Tq
            mask = mask.expand(*shape).clone()
            mask[..., draw(st.integers(0, Tq - 1)), :] = False
    return q.to(dtype), k.to(dtype), v.to(dtype), mask


def _np(t):
    return t.detach().double().numpy()


# ------------------------------------------------------------------ the formula
@FEW
@given(problems())
def test_formula_matches_float64_numpy(p):
    q, k, v, mask = p
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    want_out, want_w = numpy_attention(_np(q), _np(k), _np(v), None if mask is None else mask.numpy())
    np.testing.assert_allclose(_np(weights), want_w, **TOL[q.dtype])
    np.testing.assert_allclose(_np(out), want_out, **TOL[q.dtype])
    assert out.dtype == weights.dtype == q.dtype


@FEW
@given(problems())
def test_weights_sum_to_one_over_unmasked_keys_and_masked_keys_get_exactly_zero(p):
    q, k, v, mask = p
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    keep = torch.ones(weights.shape, dtype=torch.bool) if mask is None else mask.expand(weights.shape)
    assert torch.all(weights[~keep] == 0.0)                     # exactly zero, not merely small
    assert torch.all(weights >= 0)
    row_has_key = keep.any(dim=-1)
    sums = weights.double().sum(dim=-1)
    torch.testing.assert_close(sums[row_has_key], torch.ones_like(sums[row_has_key]), **TOL[q.dtype])
    assert torch.all(sums[~row_has_key] == 0.0)                 # a row with no key attends to nothing


@FEW
@given(problems(dtypes=(torch.float32, torch.float16, torch.bfloat16), full_rows=True),
       st.sampled_from(sorted(PATHS)))
def test_fully_masked_rows_are_finite_zero_in_low_precision(p, path):
    q, k, v, mask = p
    out = PATHS[path](q * 4, k * 4, v, mask)                    # large scores (no input overflow)
    assert torch.isfinite(out).all()
    dead = ~mask.expand(*q.shape[:-1], k.shape[-2]).any(dim=-1)  # (B, H, Tq) rows with every key masked
    assert dead.any()
    assert torch.all(out[dead] == 0)


@FEW
@given(problems(), st.data())
def test_permuting_keys_and_values_together_leaves_output_unchanged(p, data):
    q, k, v, mask = p
    Tk = k.shape[-2]
    perm = torch.tensor(data.draw(st.permutations(range(Tk))))
    pmask = None if mask is None else mask[..., perm] if mask.shape[-1] == Tk else mask
    for path, fn in PATHS.items():
        torch.testing.assert_close(fn(q, k[..., perm, :], v[..., perm, :], pmask), fn(q, k, v, mask),
                                   **TOL[q.dtype], msg=path)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("d_k", [4, 16, 64])
def test_scale_is_one_over_sqrt_d_k(path, d_k):
    """By hand: the query is q = (a, …, a) with a = 2/√d_k, so q·q = 4; key 0 equals q and key 1 is zero; the
    values are 1 and 0. The output is then the weight on key 0, softmax([q·q/√d_k, 0])[0] = sigmoid(4/√d_k).
    Without the scale it would be sigmoid(4), with 1/d_k instead of 1/√d_k sigmoid(4/d_k): all three differ."""
    sigmoid = lambda x: 1.0 / (1.0 + math.exp(-x))              # noqa: E731  softmax of two scores [x, 0]
    q = torch.full((1, 1, 1, d_k), 2.0 / math.sqrt(d_k), dtype=torch.float64)
    k = torch.cat([q, torch.zeros_like(q)], dim=-2)             # (1, 1, 2, d_k)
    v = torch.tensor([[[[1.0], [0.0]]]], dtype=torch.float64)  # (1, 1, 2, 1)
    out = PATHS[path](q, k, v).item()
    assert out == pytest.approx(sigmoid(4 / math.sqrt(d_k)), rel=1e-12)
    for wrong in (sigmoid(4.0), sigmoid(4.0 / d_k)):
        assert abs(out - wrong) > 0.05
    # an explicit scale is honoured: scale = 1 gives sigmoid(q·q) = sigmoid(4)
    assert PATHS[path](q, k, v, scale=1.0).item() == pytest.approx(sigmoid(4.0), rel=1e-12)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("path", ["reference", "tiled"])
def test_gradcheck_float64(path):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 2, 5, 3, dtype=torch.float64, generator=g, requires_grad=True)
    k = torch.randn(2, 2, 7, 3, dtype=torch.float64, generator=g, requires_grad=True)
    v = torch.randn(2, 2, 7, 4, dtype=torch.float64, generator=g, requires_grad=True)
    mask = torch.rand(2, 1, 5, 7, generator=g) < 0.7
    mask[0, 0, 1] = False                                       # one fully masked row
    fn = (lambda q, k, v: tiled_attention(q, k, v, mask, block_size=3)) if path == "tiled" else \
         (lambda q, k, v: scaled_dot_product_attention(q, k, v, mask)[0])
    assert torch.autograd.gradcheck(fn, (q, k, v))


@settings(max_examples=30, deadline=None)
@given(problems(), st.integers(1, 10))
def test_reference_tiled_fused_agree_in_outputs_and_gradients(p, block_size):
    q, k, v, mask = p
    grad_out = torch.randn(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    results = {}
    for path in PATHS:
        qq, kk, vv = (t.clone().requires_grad_() for t in (q, k, v))
        kw = {"block_size": block_size} if path == "tiled" else {}
        out = PATHS[path](qq, kk, vv, mask, **kw)
        out.backward(grad_out)
        results[path] = (out, qq.grad, kk.grad, vv.grad)
    for path in ("tiled", "fused"):
        for name, got, want in zip(("output", "dq", "dk", "dv"), results[path], results["reference"]):
            torch.testing.assert_close(got, want, **TOL[q.dtype], msg=f"{path} {name} (block_size={block_size})")


@pytest.mark.parametrize("path", sorted(PATHS))
def test_dropout_keeps_the_expected_output(path):
    """Inverted dropout on the weights keeps E[output] = the output without dropout (Monte Carlo over a batch
    of 4000 copies of one problem; the standard error of the mean is about 0.01 here)."""
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 5, 4), torch.randn(1, 6, 4), torch.randn(1, 6, 3)
    n = 4000
    out = PATHS[path](q.expand(n, 5, 4), k.expand(n, 6, 4), v.expand(n, 6, 3), dropout_p=0.3)
    torch.testing.assert_close(out.mean(0), PATHS[path](q, k, v)[0], atol=0.06, rtol=0)
    assert not torch.allclose(out[0], out[1])                  # dropout did act


def test_reference_dropout_zeroes_or_rescales_each_weight():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 3)
    _, w = scaled_dot_product_attention(q, k, v)
    torch.manual_seed(2)
    out, wd = scaled_dot_product_attention(q, k, v, dropout_p=0.25)
    kept = wd != 0
    assert 0 < kept.float().mean() < 1
    torch.testing.assert_close(wd[kept], w[kept] / 0.75)
    torch.testing.assert_close(out, wd @ v)                     # the returned weights are the ones used


# ------------------------------------------------------------------ the tiled path never holds Tq×Tk
class AllocationRecorder(TorchDispatchMode):
    """Records, for every aten op, the element count of each output whose storage is new (not a view of an
    input), i.e. every tensor the op allocated."""

    def __init__(self):
        super().__init__()
        self.allocated: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {a.untyped_storage().data_ptr() for a in torch.utils._pytree.tree_leaves((args, kwargs))
                  if isinstance(a, torch.Tensor)}
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in inputs:
                self.allocated.append((str(func), t.untyped_storage().nbytes() // t.element_size()))
        return out


@pytest.mark.parametrize("mask_shape", [None, (2, 1, 1, 56), (2, 2, 40, 56)])
def test_tiled_never_allocates_a_tq_by_tk_tensor(mask_shape):
    B, H, Tq, Tk, D, block = 2, 2, 40, 56, 4, 8               # Tq ≠ Tk, both > block; outputs are small
    torch.manual_seed(0)
    q = torch.randn(B, H, Tq, D, requires_grad=True)
    k = torch.randn(B, H, Tk, D, requires_grad=True)
    v = torch.randn(B, H, Tk, D, requires_grad=True)
    mask = None if mask_shape is None else torch.rand(mask_shape) < 0.8
    limit = Tq * Tk                                             # one single Tq×Tk matrix (one head)
    assert max(t.numel() for t in (q, k, v)) < limit          # so only a score/weight matrix can reach it

    with AllocationRecorder() as rec:
        tiled_attention(q, k, v, mask, block_size=block).sum().backward()
    biggest = max(rec.allocated, key=lambda a: a[1])
    assert biggest[1] < limit, f"tiled path allocated {biggest} (≥ Tq·Tk = {limit})"
    assert biggest[1] <= B * H * Tk * D                         # nothing bigger than a gradient of key

    with AllocationRecorder() as rec:                           # the same probe does catch the reference path
        scaled_dot_product_attention(q, k, v, mask)[0].sum().backward()
    assert max(n for _, n in rec.allocated) >= B * H * Tq * Tk


# ------------------------------------------------------------------ multi-head attention
def _mha_problem(seed=0, B=3, T=7, C=36, H=4):
    torch.manual_seed(seed)
    x = torch.randn(B, T, C, dtype=torch.float64)
    mask = torch.ones(B, 1, 1, T, dtype=torch.bool)            # padding mask, True = real token
    mask[1, ..., 4:] = False
    mask[2, ..., 1:] = False
    return x, mask


def test_multi_head_equals_concatenated_single_heads():
    """MultiHead(X) = Concat(head_1, …, head_H) W^O + b^O with head_h = softmax(X W_h^Q (X W_h^K)ᵀ / √D) X W_h^V,
    each head computed on its own from the slices of the projection weights (nn.Linear stores Wᵀ: rows are
    output features, so head h owns rows h·D … (h+1)·D − 1)."""
    x, mask = _mha_problem()
    C, H = x.shape[-1], 4
    D = C // H
    mha = MultiHeadAttention(C, H, attn_implementation="reference").double().eval()
    heads = []
    for h in range(H):
        rows = slice(h * D, (h + 1) * D)
        proj = [x @ lin.weight[rows].T + lin.bias[rows] for lin in (mha.query, mha.key, mha.value)]
        out, _ = numpy_attention(*(_np(t) for t in proj), mask[:, 0].numpy())   # (B, T, D), mask (B, 1, T)
        heads.append(torch.from_numpy(out))
    want = torch.cat(heads, dim=-1) @ mha.output.weight.T + mha.output.bias
    got, weights = mha(x, mask)
    assert weights is None
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("block_size", [2, 3, 128])
def test_every_implementation_gives_the_same_mha_output_and_gradients(block_size):
    x, mask = _mha_problem(seed=1)
    base = MultiHeadAttention(36, 4, attn_implementation="reference").double()
    results = {}
    for impl in IMPLEMENTATIONS:
        mha = MultiHeadAttention(36, 4, attn_implementation=impl, block_size=block_size).double()
        mha.load_state_dict(base.state_dict())
        xx = x.clone().requires_grad_()
        out, _ = mha(xx, mask)
        out.square().sum().backward()
        results[impl] = (out, xx.grad, mha.query.weight.grad)
        assert mha.fallback_reason is None
    for impl in IMPLEMENTATIONS:
        for got, want in zip(results[impl], results["reference"]):
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11, msg=impl)


@pytest.mark.parametrize("impl", ["tiled", "fused", "auto"])
def test_output_attentions_falls_back_to_reference_and_says_why(impl):
    x, mask = _mha_problem(seed=2)
    ref = MultiHeadAttention(36, 4, attn_implementation="reference").double()
    mha = MultiHeadAttention(36, 4, attn_implementation=impl).double()
    mha.load_state_dict(ref.state_dict())
    out, weights = mha(x, mask, output_attentions=True)
    assert isinstance(mha.fallback_reason, str) and mha.implementation in mha.fallback_reason
    assert "weights" in mha.fallback_reason
    want_out, want_w = ref(x, mask, output_attentions=True)
    assert ref.fallback_reason is None
    assert weights.shape == (3, 4, 7, 7)
    torch.testing.assert_close(weights, want_w)
    torch.testing.assert_close(out, want_out)
    mha(x, mask)                                                # the chosen path runs again: no reason left
    assert mha.fallback_reason is None


def test_auto_resolves_to_fused():
    assert resolve_implementation("auto") == "fused"
    assert MultiHeadAttention(8, 2).implementation == "fused"
    for impl in ("reference", "tiled", "fused"):
        assert MultiHeadAttention(8, 2, attn_implementation=impl).implementation == impl


# ------------------------------------------------------------------ bad input
def _qkv(q=(2, 3, 5, 4), k=(2, 3, 6, 4), v=(2, 3, 6, 4)):
    return torch.randn(*q), torch.randn(*k), torch.randn(*v)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("args, kwargs, error, match", [
    (_qkv(q=(4,)), {}, ValueError, r"query .*at least 2 dims.*\(4,\)"),
    (_qkv(q=(3, 5, 4)), {}, ValueError, r"same number of dims.*\(3, 5, 4\)"),
    (_qkv(k=(2, 3, 6, 5), v=(2, 3, 6, 5)), {}, ValueError, r"query and key .*head dim d_k.*4 and 5"),
    (_qkv(v=(2, 3, 7, 4)), {}, ValueError, r"key and value .*Tk.*6 and 7"),
    (_qkv(k=(2, 2, 6, 4), v=(2, 2, 6, 4)), {}, ValueError, r"leading \(batch, head\) dims"),
    (_qkv(), {"attn_mask": torch.ones(5, 7, dtype=torch.bool)}, ValueError,
     r"attn_mask of shape \(5, 7\).*\(2, 3, 5, 6\)"),
    (_qkv(), {"attn_mask": torch.ones(3, 3, 5, 6, dtype=torch.bool)}, ValueError, r"attn_mask of shape \(3, 3, 5, 6\)"),
    (_qkv(), {"attn_mask": torch.ones(5, 6)}, TypeError, r"attn_mask must be a bool.*torch.float32"),
    (_qkv(), {"attn_mask": torch.ones(5, 6, dtype=torch.long)}, TypeError, r"attn_mask must be a bool.*torch.int64"),
    (_qkv(), {"attn_mask": [[True] * 6] * 5}, TypeError, r"attn_mask must be a bool torch.Tensor.*list"),
    (_qkv(), {"dropout_p": -0.1}, ValueError, r"dropout_p must be in \[0, 1\), got -0.1"),
    (_qkv(), {"dropout_p": 1.0}, ValueError, r"dropout_p must be in \[0, 1\), got 1.0"),
])
def test_bad_input_gives_a_clear_error(path, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        PATHS[path](*args, **kwargs)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_bad_tensor_types(path):
    q, k, v = _qkv()
    with pytest.raises(TypeError, match=r"key must be a torch.Tensor, got ndarray"):
        PATHS[path](q, k.numpy(), v)
    with pytest.raises(TypeError, match=r"value must be a floating-point tensor, got dtype torch.int64"):
        PATHS[path](q, k, v.long())
    with pytest.raises(TypeError, match=r"one dtype.*torch.float32, torch.float64, torch.float32"):
        PATHS[path](q, k.double(), v)


@pytest.mark.parametrize("block_size", [0, -3, 2.5])
def test_tiled_rejects_bad_block_size(block_size):
    with pytest.raises(ValueError, match=rf"block_size must be a positive int, got {block_size}"):
        tiled_attention(*_qkv(), block_size=block_size)


def test_multi_head_attention_bad_arguments():
    with pytest.raises(ValueError, match=r"hidden_size \(30\) must be divisible by num_heads \(4\)"):
        MultiHeadAttention(30, 4)
    with pytest.raises(ValueError, match=r"num_heads must be a positive int, got 0"):
        MultiHeadAttention(32, 0)
    with pytest.raises(ValueError, match=r"block_size must be a positive int, got 0"):
        MultiHeadAttention(32, 4, block_size=0)
    with pytest.raises(ValueError, match=r"attn_implementation must be one of .*got 'flash'"):
        MultiHeadAttention(32, 4, attn_implementation="flash")
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\), got 1.5"):
        MultiHeadAttention(32, 4, dropout=1.5)
    mha = MultiHeadAttention(32, 4)
    with pytest.raises(ValueError, match=r"hidden_states must have shape \(B, T, 32\), got \(2, 5, 31\)"):
        mha(torch.randn(2, 5, 31))
    with pytest.raises(ValueError, match=r"hidden_states must have shape \(B, T, 32\), got \(5, 32\)"):
        mha(torch.randn(5, 32))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(2, 1, 1, 6\)"):
        mha(torch.randn(2, 5, 32), torch.ones(2, 1, 1, 6, dtype=torch.bool))


# ------------------------------------------------------------------ on a GPU (make test-gpu)
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_three_paths_agree_on_cuda(dtype):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 300, 64, device="cuda", dtype=dtype) for _ in range(3))
    mask = torch.rand(2, 1, 300, 300, device="cuda") < 0.8
    mask[0, 0, 5] = False
    want = scaled_dot_product_attention(q.double(), k.double(), v.double(), mask)[0]
    tol = dict(rtol=1e-2, atol=1e-2) if dtype != torch.float32 else dict(rtol=1e-4, atol=1e-4)
    for path, fn in PATHS.items():
        out = fn(q, k, v, mask)
        assert torch.isfinite(out).all(), path
        torch.testing.assert_close(out.double(), want, **tol, msg=path)


def test_tiled_gradient_is_finite_for_a_fully_masked_row_with_large_upstream_gradient():
    """Regression: dividing by a tiny clamp made 0·inf = NaN in backward for an all-masked row."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 1, 3, 4, requires_grad=True) for _ in range(3))
    keep = torch.tensor([[False] * 3, [True] * 3])[:, None, None, :]
    out = tiled_attention(q, k, v, keep, block_size=2)
    grads = torch.autograd.grad(out, (q, k, v), torch.full_like(out, 5.0))
    assert all(torch.isfinite(g).all() for g in grads)
    assert torch.equal(out[0], torch.zeros_like(out[0]))
    assert torch.equal(grads[2][0], torch.zeros_like(grads[2][0]))
