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
