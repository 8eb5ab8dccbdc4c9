"""Our BertModel vs transformers' BertModel on the same weights: forward and forward+backward time.

A BERT-base-shaped model (hidden 768, 12 heads, intermediate 3072, vocab 30,522) with 2 and 12 layers, batch 8,
sequence 128, a padding mask (rows hold 64…128 real tokens), fp32. Our model is randomly initialised and its
weights are copied into transformers' BertModel (attn_implementation="sdpa") through the checkpoint name map,
and the outputs are checked equal before timing. Runs are interleaved (ours, theirs, theirs, ours, …) so machine
noise hits both alike; the table gives each side's median time and the median of the per-pair ratios
(ours / transformers', < 1 = ours faster).

Achieved GFLOP/s counts the matmul work: per layer 8·B·T·C² (Q, K, V, O projections) + 4·B·T²·C (scores and
weighted sum) + 4·B·T·C·I (FFN), plus the pooler; forward+backward counted as 3× forward. Next to it, this
machine's plain fp32 matmul rate measured in the same run on a (B·T × C) · (C × I) product — the most a
matmul-bound model could reach here.

Batch-1 latency (what one request costs, where per-call Python overhead shows): the 12-layer model, B = 1,
T = 16 and 128, eval mode, no_grad, with what a tokenizer returns for one sentence (input_ids, token_type_ids,
an all-ones attention_mask), median of 60 interleaved runs.

    python -m benchmarks --only model           # 2 and 12 layers, 12 interleaved repeats
    python -m benchmarks --only model --quick   # 2 layers, 4 repeats (a smoke run)
"""

from __future__ import annotations

import os

import torch

from bert import BertConfig, BertModel
from bert.checkpoint import to_hf_name
from bert.tools.timing import interleaved, medians, ratios, synchronizer

from .report import command, machine, write_section

B, T, C, HEADS, I, V = 8, 128, 768, 12, 3072, 30522


def model_flops(layers: int) -> float:
    """Multiply-add work of one forward pass, counted as 2 FLOPs per multiply-add (see the module docstring)."""
    per_layer = 8 * B * T * C * C + 4 * B * T * T * C + 4 * B * T * C * I
    return layers * per_layer + 2 * B * C * C


def matmul_gflops(device: str, repeats: int) -> float:
    a, b = torch.randn(B * T, C, device=device), torch.randn(C, I, device=device)
    times = interleaved({"matmul": lambda: a @ b}, repeats, sync=synchronizer(device))
    return 2 * B * T * C * I / medians(times)["matmul"] / 1e9


def transformers_twin(ours, hf_class: str, allowed_missing: tuple[str, ...]):
    """transformers' `hf_class` (sdpa attention) with our model's config and weights (through the checkpoint name
    map), on the same device. Missing keys must end with one of `allowed_missing` (buffers, tied weights)."""
    import transformers

    hf_cfg = transformers.BertConfig(**{k: v for k, v in ours.config.to_dict().items() if k != "architectures"})
    hf_cfg._attn_implementation = "sdpa"
    theirs = getattr(transformers, hf_class)(hf_cfg).to(next(ours.parameters()).device)
    missing, unexpected = theirs.load_state_dict({to_hf_name(k): v for k, v in ours.state_dict().items()},
                                                 strict=False)
    assert not unexpected and all(k.endswith(allowed_missing) for k in missing), (missing, unexpected)
    return theirs


def build_pair(layers: int, device: str):
    """Our BertModel and transformers' (sdpa) with the same weights, and a padded batch."""
    torch.manual_seed(0)
    cfg = BertConfig(num_hidden_layers=layers, hidden_size=C, num_attention_heads=HEADS, intermediate_size=I)
    ours = BertModel(cfg).to(device)
    theirs = transformers_twin(ours, "BertModel", allowed_missing=("position_ids", "token_type_ids"))
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, V, (B, T), generator=g)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    lengths[0] = T
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    batch = dict(input_ids=ids.to(device), attention_mask=mask.to(device))
    ours.eval(), theirs.eval()
    with torch.no_grad():
        diff = (ours(**batch).last_hidden_state - theirs(**batch).last_hidden_state).abs().max().item()
    assert diff < 1e-4, f"the two models disagree by {diff}"
    return ours, theirs, batch


def _forward(model, batch):
    with torch.no_grad():
        return model(**batch).last_hidden_state


def _forward_backward(model, batch):
    model.zero_grad(set_to_none=True)
    out = model(**batch)
    (out.last_hidden_state.float().square().mean() + out.pooler_output.float().sum()).backward()


def compare(fn, ours, theirs, batch, device: str, repeats: int) -> dict:
    """Median seconds of each side and the median of the per-pair ratios, interleaved, order alternating."""
    t = interleaved({"ours": lambda: fn(ours, batch), "transformers": lambda: fn(theirs, batch)}, repeats,
                    sync=synchronizer(device))
    return {**medians(t), "ratio": ratios(t, base="transformers")["ours"]}


def latency_rows(ours, theirs, device: str, repeats: int) -> list[str]:
    """Batch-1 forward latency at T = 16 and 128 (module docstring), as table rows."""
    rows = []
    ours.eval(), theirs.eval()
    for t in (16, 128):
        g = torch.Generator().manual_seed(t)
        one = {"input_ids": torch.randint(0, V, (1, t), generator=g).to(device),
               "token_type_ids": torch.zeros(1, t, dtype=torch.long, device=device),
               "attention_mask": torch.ones(1, t, dtype=torch.long, device=device)}
        r = compare(_forward, ours, theirs, one, device, repeats)
        rows.append(f"| {t} | {r['ours'] * 1e3:.2f} | {r['transformers'] * 1e3:.2f} | **{r['ratio']:.3f}×** |")
        print(rows[-1], flush=True)
    return rows


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    """Measure and write the "model" section of docs/benchmarks.md (`data` is not used)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    layer_counts, repeats = ((2,), 4) if quick else ((2, 12), 12)  # even: each side goes first equally often
    peak = matmul_gflops(device, 5 if quick else 20)
    rows = []
    for layers in layer_counts:
        ours, theirs, batch = build_pair(layers, device)
        for mode, fn, factor in (("forward", _forward, 1), ("forward+backward", _forward_backward, 3)):
            if mode == "forward":
                ours.eval(), theirs.eval()
            else:  # training mode: dropout on, as in training
                ours.train(), theirs.train()
            r = compare(fn, ours, theirs, batch, device, repeats)
            flops = factor * model_flops(layers)
            row = (f"| {layers} | {mode} | {r['ours'] * 1e3:.1f} | {r['transformers'] * 1e3:.1f} | "
                   f"**{r['ratio']:.3f}×** | {flops / r['ours'] / 1e9:.1f} | {flops / r['transformers'] / 1e9:.1f} |")
            rows.append(row)
            print(row, flush=True)
        if layers == layer_counts[-1]:
            latency = latency_rows(ours, theirs, device, 6 if quick else 60)
        del ours, theirs
    import transformers
    header = (f"### BERT-base-shaped model: ours vs transformers' BertModel (sdpa)\n\n"
              f"`{command()}`{' (quick)' if quick and '--quick' not in command() else ''} on {machine()}, "
              f"transformers {transformers.__version__}; device {device}, fp32, B={B}, T={T} with padding "
              f"(rows of 64–128 tokens), C={C}, H={HEADS}, I={I}; same weights (outputs checked equal); median of "
              f"{repeats} interleaved repeats. Ratio = median of per-pair ours / transformers' (< 1: ours faster). "
              f"Forward under no_grad in eval mode; forward+backward in train mode (dropout on). "
              f"Plain matmul ({B * T}×{C} · {C}×{I}) on this machine in the same run: **{peak:.1f} GFLOP/s**.\n\n"
              "| layers | pass | ours ms | transformers ms | ratio | ours GFLOP/s | transformers GFLOP/s |\n"
              "|---:|:---|---:|---:|---:|---:|---:|")
    markdown = (header + "\n" + "\n".join(rows) + f"\n\nBatch-1 latency, {layer_counts[-1]} layers, B=1 (input_ids, "
                "token_type_ids, all-ones attention_mask; eval, no_grad), median of "
                f"{6 if quick else 60} interleaved runs:\n\n| T | ours ms | transformers ms | ratio |\n|---:|---:|---:|---:|\n"
                + "\n".join(latency))
    print(markdown)
    write_section("model", markdown, device=device, quick=quick)
