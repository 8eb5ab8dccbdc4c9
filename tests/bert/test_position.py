"""Tests for bert/position.py: the sinusoidal formula PE(pos, 2i) = sin(pos/10000^(2i/d)),
PE(pos, 2i+1) = cos(pos/10000^(2i/d)) (Vaswani et al. 2017 §3.5; article 004 §3.3.2), its identities, and BERT's
learned position table (Devlin et al. 2019 §3.2), which has the same call interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.position import LearnedPositionEmbedding, SinusoidalPositionEncoding, relative_rotation, sinusoidal_table

FEW = settings(max_examples=25, deadline=None)


def numpy_sinusoids(max_len: int, dim: int) -> np.ndarray:
    """The formula entry by entry, in float64: column 2i is sin(pos/10000^(2i/d)), column 2i+1 is cos(…)."""
    table = np.zeros((max_len, dim))
    for pos in range(max_len):
        for col in range(dim):
            two_i = col - col % 2                               # both columns of a pair share 2i
            angle = pos / 10000.0 ** (two_i / dim)
            table[pos, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    return table


@pytest.mark.parametrize("dim", [1, 2, 7, 16, 33])
def test_sinusoidal_formula_by_hand(dim):
    pe = SinusoidalPositionEncoding(dim, max_len=60)
    got = pe(torch.arange(60))
    assert got.shape == (60, dim) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), numpy_sinusoids(60, dim), rtol=0, atol=1e-6)
    # a few entries worked out without any loop: PE(0) = (0, 1, 0, 1, …); PE(1, 0) = sin(1); PE(1, 1) = cos(1)
    np.testing.assert_array_equal(got[0].numpy(), np.arange(dim) % 2)
    assert got[1, 0].item() == pytest.approx(math.sin(1.0), abs=1e-7)
    if dim > 1:
        assert got[1, 1].item() == pytest.approx(math.cos(1.0), abs=1e-7)


@FEW
@given(st.integers(1, 300), st.integers(1, 64))
def test_sinusoidal_values_lie_in_minus_one_one(max_len, dim):
    table = sinusoidal_table(max_len, dim)
    assert table.shape == (max_len, dim)
    assert table.abs().max() <= 1.0


@FEW
@given(st.sampled_from([2, 4, 16, 64]), st.integers(-199, 199))
def test_shift_by_k_is_one_fixed_linear_map(dim, k):
    """PE(p + k) = M_k · PE(p) with the same M_k for every p (Vaswani et al. 2017 §3.5)."""
    max_len = 200
    table = sinusoidal_table(max_len, dim).double()
    M = relative_rotation(dim, k)
    p = torch.arange(max(0, -k), min(max_len, max_len - k))   # every p with p and p + k in the table
    torch.testing.assert_close(table[p] @ M.T, table[p + k], rtol=0, atol=2e-6)
    torch.testing.assert_close(M @ M.T, torch.eye(dim, dtype=torch.float64))   # a rotation: orthogonal
    if k:  # and not the identity
        assert not torch.allclose(M, torch.eye(dim, dtype=torch.float64))


@FEW
@given(st.sampled_from([2, 8, 32, 128]), st.integers(0, 150), st.integers(0, 150), st.integers(-50, 50))
def test_dot_product_depends_only_on_the_offset(dim, p, q, shift):
    """⟨PE(p), PE(q)⟩ = Σ_i cos((p − q)·ω_i), ω_i = 10000^(−2i/d): a function of p − q alone (even dim)."""
    table = sinusoidal_table(256, dim).double()
    shift = max(shift, -min(p, q))                              # keep p + shift, q + shift ≥ 0
    dot = table[p] @ table[q]
    omega = 10000.0 ** (-np.arange(0, dim, 2) / dim)
    assert dot.item() == pytest.approx(np.cos((p - q) * omega).sum(), abs=1e-5)
    assert (table[p + shift] @ table[q + shift]).item() == pytest.approx(dot.item(), abs=1e-5)


def test_odd_dim_keeps_an_unpaired_sine_and_has_no_rotation():
    dim = 9
    table = sinusoidal_table(10, dim).double()
    last = torch.sin(torch.arange(10, dtype=torch.float64) / 10000 ** ((dim - 1) / dim))
    torch.testing.assert_close(table[:, -1], last, rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match=r"relative_rotation needs an even dim .* got 9"):
        relative_rotation(dim, 1)


@pytest.mark.parametrize("module", [SinusoidalPositionEncoding(8, max_len=10), LearnedPositionEmbedding(10, 8)],
                         ids=["sinusoidal", "learned"])
def test_positions_outside_the_table_and_non_integer_ids_are_rejected(module):
    for bad in (torch.tensor([0, 10]), torch.tensor([[3, 12]]), torch.tensor([-1, 2])):
        with pytest.raises(ValueError, match=r"position_ids must lie in \[0, max_len=10\)"):
            module(bad)
    with pytest.raises(ValueError, match=r"got values in \[-1, 2\]"):
        module(torch.tensor([-1, 2]))
    for bad in (torch.tensor([0.0, 1.0]), torch.tensor([True, False])):
        with pytest.raises(TypeError, match=rf"position_ids must be an integer tensor, got dtype {bad.dtype}"):
            module(bad)
    with pytest.raises(TypeError, match=r"position_ids must be a torch.Tensor .*got list"):
        module([0, 1])
    assert module(torch.tensor([0, 9])).shape == (2, 8)        # the edges are fine


@pytest.mark.parametrize("bad", [dict(max_len=0, dim=4), dict(max_len=4, dim=0)])
def test_bad_sizes(bad):
    with pytest.raises(ValueError, match=rf"max_len=\S*{bad['max_len']}, dim={bad['dim']}"):
        sinusoidal_table(**bad)
    with pytest.raises(ValueError, match=rf"max_len={bad['max_len']}, dim={bad['dim']}"):
        LearnedPositionEmbedding(**bad)


def test_learned_lookup_is_its_weight_rows_and_trains():
    torch.manual_seed(0)
    emb = LearnedPositionEmbedding(max_len=13, dim=6)
    ids = torch.tensor([[0, 5, 5, 12], [3, 2, 1, 0]])
    out = emb(ids)
    assert out.shape == (2, 4, 6)
    for b in range(2):
        for t in range(4):
            assert torch.equal(out[b, t], emb.weight[ids[b, t]])
    out.sum().backward()
    counts = torch.bincount(ids.flatten(), minlength=13).float()
    torch.testing.assert_close(emb.weight.grad, counts[:, None].expand(13, 6))   # row p gets one 1 per use
    assert [n for n, _ in emb.named_parameters()] == ["weight"]


def test_learned_init_is_normal_with_std_0_02():
    torch.manual_seed(0)
    w = LearnedPositionEmbedding(512, 256).weight.detach()
    assert abs(w.mean().item()) < 1e-3
    assert w.std().item() == pytest.approx(0.02, rel=0.02)


def test_siblings_share_one_call_interface():
    ids = torch.arange(7).expand(3, 7)                          # (B, T)
    sin, learned = SinusoidalPositionEncoding(10, max_len=20), LearnedPositionEmbedding(20, 10)
    for module in (sin, learned):
        assert module(ids).shape == (3, 7, 10)
        assert module(torch.tensor(4)).shape == (10,)
        assert module(ids.to(torch.int32)).shape == (3, 7, 10)
    assert list(sin.parameters()) == [] and "table" not in sin.state_dict()   # fixed, never saved as a weight
    torch.testing.assert_close(sin(ids)[1], sinusoidal_table(20, 10)[:7])
