"""The distillation losses of distil/losses.py: hand computations, and the properties the formulas promise.
(L_mlm is BERT's `bert.losses.mlm_loss`, tested in tests/bert/test_heads.py.)"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from distil.losses import cosine_loss, patient_loss, soft_target_loss

SETTINGS = settings(max_examples=30, deadline=None)


def logits_pair(draw, n=None, v=None, low=-5.0, high=5.0):
    n = n or draw(st.integers(1, 6))
    v = v or draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(n, v, generator=g, dtype=torch.float64) * (high - low) + low
    t = torch.rand(n, v, generator=g, dtype=torch.float64) * (high - low) + low
    return s, t


pairs = st.composite(logits_pair)


# ---------------------------------------------------------------- soft targets (Hinton et al. 2015 §2)
def test_soft_target_loss_by_hand():
    s, t, T = [1.0, 2.0, 0.5], [3.0, 0.0, 1.0], 2.0

    def softmax(z):
        e = [math.exp(x / T) for x in z]
        return [x / sum(e) for x in e]

    ps, pt = softmax(s), softmax(t)
    expected = T * T * sum(q * (math.log(q) - math.log(p)) for p, q in zip(ps, pt))
    got = soft_target_loss(torch.tensor([s]), torch.tensor([t]), temperature=T)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_soft_target_loss_mean_over_counted_positions_only():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 3, 5, generator=g), torch.randn(2, 3, 5, generator=g)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    per_pos = [soft_target_loss(s[b, i][None], t[b, i][None], 3.0) for b in range(2) for i in range(3) if mask[b, i]]
    assert soft_target_loss(s, t, 3.0, mask=mask).item() == pytest.approx(torch.stack(per_pos).mean().item(), rel=1e-6)
    # what is not counted does not matter, and gets no gradient
    s2 = s.clone()
    s2[~mask] = 100.0
    s2.requires_grad_(True)
    loss = soft_target_loss(s2, t, 3.0, mask=mask)
    assert loss.item() == pytest.approx(soft_target_loss(s, t, 3.0, mask=mask).item(), rel=1e-6)
    loss.backward()
    assert s2.grad[~mask].abs().max() == 0


@SETTINGS
@given(pairs(), st.floats(0.5, 10.0))
def test_soft_target_loss_zero_iff_logits_match_and_nonnegative(pair, T):
    s, t = pair
    assert soft_target_loss(s, s.clone(), T).item() == pytest.approx(0.0, abs=1e-12)
    assert soft_target_loss(s, t, T).item() >= -1e-12


@SETTINGS
@given(pairs(), st.floats(0.5, 10.0), st.floats(-50, 50), st.floats(-50, 50))
def test_soft_target_loss_invariant_to_constant_shift(pair, T, cs, ct):
    s, t = pair
    base = soft_target_loss(s, t, T)
    assert soft_target_loss(s + cs, t + ct, T).item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)
    # a different constant per row (position) too
    row = torch.linspace(-7, 7, s.shape[0], dtype=s.dtype)[:, None]
    assert soft_target_loss(s + row, t - row, T).item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)


@SETTINGS
@given(pairs(), st.floats(0.5, 10.0))
def test_soft_target_gradient_is_T_times_prob_difference(pair, T):
    """d L_ce / d s = T · (softmax(s/T) − softmax(t/T)) / N, the formula behind Hinton's T² argument."""
    s, t = pair
    x = s.clone().requires_grad_(True)
    soft_target_loss(x, t, T).backward()
    expected = T * (F.softmax(s / T, -1) - F.softmax(t / T, -1)) / s.shape[0]
    torch.testing.assert_close(x.grad, expected, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(pairs(low=-2.0, high=2.0), st.sampled_from([32.0, 64.0, 128.0]))   # T ≫ |logits|: the limit holds
def test_soft_target_gradient_magnitude_stable_across_temperature(pair, T):
    """With T², the gradient tends to (s − t)/V (zero-mean logits) as T grows: its size does not fade with T.
    Without T² it would be 1/T² of that (Hinton et al. 2015 §2)."""
    s, t = pair
    s, t = s - s.mean(-1, keepdim=True), t - t.mean(-1, keepdim=True)
    if (s - t).norm() < 1e-3:
        return
    limit = ((s - t) / (s.shape[-1] * s.shape[0])).norm()
    x = s.clone().requires_grad_(True)
    soft_target_loss(x, t, T).backward()
    assert 0.9 < (x.grad.norm() / limit).item() < 1.1
    y = s.clone().requires_grad_(True)
    (soft_target_loss(y, t, T) / T**2).backward()      # the plain KL: its gradient shrinks as 1/T²
    assert (y.grad.norm() * T**2 / limit).item() == pytest.approx((x.grad.norm() / limit).item(), rel=1e-9)


def test_soft_target_loss_detaches_teacher_and_checks_input():
    s, t = torch.randn(4, 5, requires_grad=True), torch.randn(4, 5, requires_grad=True)
    soft_target_loss(s, t).backward()
    assert t.grad is None and s.grad is not None
    with pytest.raises(ValueError, match="temperature"):
        soft_target_loss(s, t, temperature=0.0)
    with pytest.raises(ValueError, match="same shape"):
        soft_target_loss(s, t[:, :3])
    with pytest.raises(TypeError, match="mask"):
        soft_target_loss(s, t, mask=torch.ones(4))
    with pytest.raises(ValueError, match="mask"):
        soft_target_loss(s, t, mask=torch.ones(5, dtype=torch.bool))
    empty = soft_target_loss(s, t, mask=torch.zeros(4, dtype=torch.bool))
    assert empty.item() == 0.0 and empty.requires_grad


# ---------------------------------------------------------------- cosine (Sanh et al. 2019 §3)
def test_cosine_loss_by_hand():
    s = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [5.0, 5.0]]])
    t = torch.tensor([[[0.0, 2.0], [2.0, 2.0], [-1.0, 0.0]]])
    mask = torch.tensor([[True, True, False]])
    # position 0: orthogonal, 1 − 0 = 1; position 1: parallel, 1 − 1 = 0; position 2 not counted
    assert cosine_loss(s, t, mask).item() == pytest.approx(0.5, abs=1e-7)
    assert cosine_loss(s, t).item() == pytest.approx((1 + 0 + (1 + 1 / math.sqrt(2))) / 3, abs=1e-6)


@SETTINGS
@given(pairs(), st.floats(0.01, 100.0), st.floats(0.01, 100.0))
def test_cosine_loss_properties(pair, a, b):
    s, t = pair
    assert cosine_loss(s, s.clone()).item() == pytest.approx(0.0, abs=1e-12)
    base = cosine_loss(s, t).item()
    assert -1e-12 <= base <= 2 + 1e-12
    assert cosine_loss(a * s, b * t).item() == pytest.approx(base, rel=1e-9, abs=1e-12)
    assert cosine_loss(s, -s).item() == pytest.approx(2.0, abs=1e-9)


# ---------------------------------------------------------------- patient distillation (Sun et al. 2019 §3.2)
def test_patient_loss_by_hand():
    # layer pair 1: (3, 4) vs (4, 3): unit vectors (0.6, 0.8), (0.8, 0.6), ‖Δ‖² = 0.04 + 0.04 = 0.08;
    #               (1, 0) vs (2, 0): the same direction, 0.   Pair 2: (0, 1) vs (0, -5): opposite, ‖Δ‖² = 4; 0.
    s = [torch.tensor([[3.0, 4.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [1.0, 1.0]])]
    t = [torch.tensor([[4.0, 3.0], [2.0, 0.0]]), torch.tensor([[0.0, -5.0], [3.0, 3.0]])]
    assert patient_loss(s, t).item() == pytest.approx(((0.08 + 0) / 2 + (4 + 0) / 2) / 2, abs=1e-6)
    with pytest.raises(ValueError, match="same length"):
        patient_loss(s, t[:1])
    with pytest.raises(ValueError, match="non-empty"):
        patient_loss([], [])
    with pytest.raises(ValueError, match="same shape"):
        patient_loss([s[0]], [t[0][:1]])


@SETTINGS
@given(pairs(), st.floats(0.01, 100.0), st.floats(0.01, 100.0))
def test_patient_loss_is_twice_the_cosine_loss_and_ignores_lengths(pair, a, b):
    s, t = (x.reshape(-1, x.shape[-1]) for x in pair)                          # (N, C) rows
    got = patient_loss([s, a * s], [t, b * t]).item()
    assert got == pytest.approx(2 * cosine_loss(s, t).item(), rel=1e-6, abs=1e-9)
    assert patient_loss([s], [s.clone()]).item() == pytest.approx(0.0, abs=1e-9)
    grad = torch.zeros_like(t, requires_grad=True)
    patient_loss([s.clone().requires_grad_()], [t + grad]).backward()
    assert grad.grad is None or not grad.grad.any()                             # the teacher's side is detached
