"""Tests for bert/training/schedule.py: the warmup/decay factor against transformers' schedule, and AdamW's
parameter groups against google-research/bert's exclusion rule."""

from __future__ import annotations

import os

import pytest
import torch

from bert import BertForPreTraining
from bert.checkpoint import to_hf_name
from bert.training.schedule import (build_optimizer, parameter_groups, progress_factor, step_factor,
                                       warmup_steps)
from tests.bert.pretraining.helpers import tiny_bert_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("total,warm", [(100, 10), (37, 0), (5, 4), (1000, 60)])
def test_step_factor_matches_transformers_linear_schedule(total, warm):
    from transformers import get_linear_schedule_with_warmup
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_linear_schedule_with_warmup(opt, warm, total)
    for s in range(total + 3):
        assert opt.param_groups[0]["lr"] == pytest.approx(step_factor(s, total, warm), abs=1e-12)
        opt.step()
        sched.step()


def test_progress_factor_is_the_same_shape_over_time():
    for s in range(0, 101):
        assert progress_factor(s / 100, 0.1) == pytest.approx(step_factor(s, 100, warmup_steps(100, 0.1)))
    assert progress_factor(0.05, 0.1) == pytest.approx(0.5) and progress_factor(1.0, 0.1) == 0.0
    with pytest.raises(ValueError, match="warmup"):
        warmup_steps(100, 1.0)


def test_no_decay_exactly_on_biases_and_layer_norms():
    model = BertForPreTraining(tiny_bert_config())
    decay, plain = parameter_groups(model, 0.01)
    ids = {id(p): name for name, p in model.named_parameters()}
    names = lambda group: {to_hf_name(ids[id(p)]) for p in group["params"]}
    # google-research/bert optimization.py excludes names containing "LayerNorm" or "bias" (HF names = google's)
    assert names(plain) == {to_hf_name(n) for n, _ in model.named_parameters()
                            if "LayerNorm" in to_hf_name(n) or "bias" in to_hf_name(n)}
    assert names(decay) and not any("LayerNorm" in n or "bias" in n for n in names(decay))
    assert decay["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
    assert len(decay["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_adamw_decay_is_decoupled_and_skips_biases():
    """With a zero gradient Adam's update is 0, so one step is the decay alone: w ← w − lr·λ·w (Loshchilov &
    Hutter 2019, Algorithm 2, line 12); a bias does not move."""
    lin = torch.nn.Linear(3, 2)
    w, b = lin.weight.detach().clone(), lin.bias.detach().clone()
    opt = build_optimizer(lin, lr=0.1, weight_decay=0.5)
    lin.weight.grad, lin.bias.grad = torch.zeros_like(w), torch.zeros_like(b)
    opt.step()
    assert torch.allclose(lin.weight, w * (1 - 0.1 * 0.5)) and torch.equal(lin.bias, b)
    with pytest.raises(ValueError, match="lr must be > 0"):
        build_optimizer(lin, lr=0.0)


def adamw_by_hand(w, grads, lr, wd, betas=(0.9, 0.999), eps=1e-6):
    """Loshchilov & Hutter 2019, Algorithm 2 (as torch writes it: decay first, bias-corrected moments), float64."""
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        w = w * (1 - lr * wd)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        w = w - lr * m_hat / (v_hat.sqrt() + eps)
    return w


@pytest.mark.parametrize("fused", [None, False, True])
def test_adamw_steps_follow_algorithm_2_fused_or_not(fused):
    """Five steps with random gradients: the weights equal Algorithm 2 written out above, with or without the
    fused kernel (None: the default, fused on the CPU); the bias (no decay) too, with wd = 0."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3).double()
    w0, b0 = lin.weight.detach().clone(), lin.bias.detach().clone()
    opt = build_optimizer(lin, lr=0.01, weight_decay=0.1, fused=fused)
    assert bool(opt.param_groups[0]["fused"]) == (fused is not False)
    gw, gb = [torch.randn_like(w0) for _ in range(5)], [torch.randn_like(b0) for _ in range(5)]
    for g1, g2 in zip(gw, gb):
        lin.weight.grad, lin.bias.grad = g1.clone(), g2.clone()
        opt.step()
    torch.testing.assert_close(lin.weight.detach(), adamw_by_hand(w0, gw, 0.01, 0.1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lin.bias.detach(), adamw_by_hand(b0, gb, 0.01, 0.0), rtol=1e-12, atol=1e-12)


def test_fused_only_where_torch_has_the_kernel():
    from bert.training.schedule import can_fuse
    assert can_fuse(torch.nn.Linear(2, 2))
    frozen = torch.nn.Linear(2, 2).requires_grad_(False)
    assert not can_fuse(frozen)                                   # nothing to train: AdamW's own error, unchanged
    assert not can_fuse(torch.nn.Linear(2, 2, device="meta"))
