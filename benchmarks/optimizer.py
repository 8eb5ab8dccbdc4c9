"""The optimizer step on the CPU: torch's AdamW per tensor (its CPU default), with foreach, and fused.

One "step" is what the training loop does after backward (bert/training/loop.py `_clip_and_step`): clip the global
gradient norm to 1.0, AdamW's step over the model's two parameter groups (`build_optimizer`), and set the gradients
to None. Gradients are fixed random tensors, put back before each step (outside the clock). The models are the two
sizes this project trains: all-MiniLM-L6-v2's shape (the SST-2 and NER teacher, 22.7M parameters) and BERT-base's
(110M), initialised at random (the values do not change the time of an elementwise update).

The three variants start from the same weights and take the same steps; "max |Δw|" is the largest difference of their
weights from the per-tensor variant's after all the steps — the same update, rounded differently. Steps are
interleaved (bert/tools/timing.py) and "×" is the median per-round ratio to the per-tensor time.

    python -m benchmarks --only optimizer [--quick]        # --quick: MiniLM only, 3 rounds
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from bert import BertConfig, BertModel
from bert.tools.timing import interleaved, medians, ratios
from bert.training.schedule import build_optimizer

from .report import command, machine, write_section

VARIANTS = {"per tensor (torch's CPU default)": {"fused": False},
            "foreach": {"fused": False, "foreach": True},
            "fused (build_optimizer's default)": {"fused": True}}
MODELS = {"all-MiniLM-L6-v2 shape": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                         intermediate_size=1536),
          "BERT-base shape": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                  intermediate_size=3072)}


def stepper(model: nn.Module, grads: list[torch.Tensor], fused: bool, foreach: bool = False):
    """The loop's step for `model`: put the gradients back, clip, AdamW, zero."""
    opt = build_optimizer(model, lr=1e-4, fused=fused)
    if foreach:
        for group in opt.param_groups:
            group["foreach"] = True
    params = list(model.parameters())

    def step() -> None:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def measure(shape: dict, repeats: int) -> dict:
    torch.manual_seed(0)
    base = BertModel(BertConfig(**{"vocab_size": 30522, **shape}))
    grads = [torch.randn_like(p) * 1e-3 for p in base.parameters()]
    models = {name: copy.deepcopy(base) for name in VARIANTS}
    fns = {name: stepper(models[name], grads, **kw) for name, kw in VARIANTS.items()}
    times = interleaved(fns, repeats=repeats, warmup=1)
    ref = list(models[next(iter(VARIANTS))].parameters())
    with torch.no_grad():
        diff = {name: max(float((p - q).abs().max()) for p, q in zip(m.parameters(), ref))
                for name, m in models.items()}
    return {"parameters": base.num_parameters(), "ms": {k: 1e3 * v for k, v in medians(times).items()},
            "ratio": ratios(times, next(iter(VARIANTS))), "max_diff": diff, "steps": repeats + 1}


def run(device: str, data: str | None, quick: bool) -> None:
    if device != "cpu":
        print("optimizer: skipped (a CPU benchmark: on CUDA, fused AdamW is torch's usual choice already)")
        return
    models = dict(list(MODELS.items())[:1]) if quick else MODELS
    lines = ["### The optimizer step on the CPU: per-tensor, foreach and fused AdamW", "",
             f"`{command()}` on {machine()}. Clip to norm 1 + AdamW step + zero the gradients, on random gradients; "
             "interleaved rounds, medians; × = median per-round ratio to the per-tensor step; max |Δw| = the largest "
             "weight difference from the per-tensor variant after the same steps.", "",
             "| model | parameters | variant | ms per step | × per tensor | max \\|Δw\\| |",
             "|---|---:|---|---:|---:|---:|"]
    for model_name, shape in models.items():
        r = measure(shape, repeats=3 if quick else 10)
        for name in VARIANTS:
            lines.append(f"| {model_name} | {r['parameters']:,} | {name} | {r['ms'][name]:.1f} | "
                         f"{r['ratio'][name]:.2f} | {r['max_diff'][name]:.1e} |")
        print(f"optimizer: {model_name} done", flush=True)
    lines += ["", "torch's AdamW on the CPU loops over the tensors with several elementwise passes each (it takes "
              "foreach or fused only when asked); the fused kernel makes one pass. `build_optimizer` therefore asks "
              "for `fused=True` where torch has the kernel (CPU and CUDA): on an SST-2 fine-tuning step of the "
              "MiniLM teacher (batch 32, this machine) it is the difference between 0.36 s a step (4,000 steps in "
              "1,433 s, per tensor) and 0.24 s (5,000 in 1,183 s, fused; `--only distil`)."]
    write_section("optimizer", "\n".join(lines), device=device, quick=quick)
    print("\n".join(lines))
