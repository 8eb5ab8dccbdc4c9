"""Attention paths side by side: time and peak memory of reference vs tiled vs fused, forward only.

For each sequence length T the three paths of `bert/attention.py` run on the same (B, H, T, D) inputs, without a
mask and with a padding mask (B, 1, 1, T) whose second sequence is half padding (what BERT passes). Repeats are
interleaved, the order rotating each round (reference, tiled, fused, then tiled, fused, reference, …), so machine
noise hits all three alike; the table gives the median time and the ratio of medians to the reference.

Time and peak memory come from `bert.tools.timing.measure` (notebook 06 runs the same measurement live): the median
of interleaved repeats, and the most bytes held at once *beyond what existed before the call*, counting the
output — CPU: PyTorch's allocator events from `torch.profiler`; CUDA: `torch.cuda.max_memory_allocated()`.

    python -m benchmarks --only attention             # CPU: fp32, T = 128, 512, 2048
    python -m benchmarks --only attention --device cuda   # CUDA: bf16, T = 128 … 8192
"""

from __future__ import annotations

import torch

from bert.attention import fused_attention, scaled_dot_product_attention, tiled_attention
from bert.tools.timing import measure as measure_fns

from .report import command, machine, write_section

PATHS = {
    "reference": lambda q, k, v, m: scaled_dot_product_attention(q, k, v, m)[0],
    "tiled": lambda q, k, v, m: tiled_attention(q, k, v, m),   # default block_size=128
    "fused": lambda q, k, v, m: fused_attention(q, k, v, m),
}
B, H, D = 2, 12, 64  # batch, heads, head dim (BERT-base heads)


def measure(T: int, masked: bool, device: str, dtype: torch.dtype, repeats: int) -> dict:
    """One row: the three paths on the same (B, H, T, D) inputs, with the padding mask if `masked` ->
    {"T", "masked", "seconds": {path: median s}, "peak": {path: bytes}}."""
    g = torch.Generator(device=device).manual_seed(T)
    q, k, v = (torch.randn(B, H, T, D, generator=g, device=device, dtype=dtype) for _ in range(3))
    mask = None
    if masked:
        mask = torch.ones(B, 1, 1, T, dtype=torch.bool, device=device)   # (B, 1, 1, T) padding mask
        mask[1, ..., T // 2:] = False
    fns = {name: (lambda f=f: f(q, k, v, mask)) for name, f in PATHS.items()}
    with torch.no_grad():
        r = measure_fns(fns, device, repeats)
    return {"T": T, "masked": masked, **r}


def to_markdown(rows: list[dict], header: str) -> str:
    lines = [header, "",
             "| T | mask | reference ms | tiled ms (× ref) | fused ms (× ref) | reference MiB | tiled MiB (× ref) "
             "| fused MiB (× ref) |",
             "|---:|:---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        s, p = r["seconds"], r["peak"]
        cells = [str(r["T"]), "padding" if r["masked"] else "none", f"{s['reference'] * 1e3:.2f}"]
        cells += [f"{s[n] * 1e3:.2f} ({s[n] / s['reference']:.2f}×)" for n in ("tiled", "fused")]
        cells += [f"{p['reference'] / 2**20:.1f}"]
        cells += [f"{p[n] / 2**20:.1f} ({p[n] / p['reference']:.2f}×)" for n in ("tiled", "fused")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    """Measure and write the "attention" section of docs/benchmarks.md (`data` is not used)."""
    if device == "cuda":
        dtype, lengths = torch.bfloat16, (128, 512, 2048) if quick else (128, 512, 2048, 4096, 8192)
    else:
        dtype, lengths = torch.float32, (128, 512) if quick else (128, 512, 2048)
    repeats = 3 if quick else 11
    rows = []
    for T in lengths:
        for masked in (False, True):
            rows.append(measure(T, masked, device, dtype, repeats))
            print(to_markdown(rows[-1:], "").splitlines()[-1], flush=True)
    fused_faster = sum(r["seconds"]["fused"] < r["seconds"]["reference"] for r in rows)
    measured_by = "torch.cuda.max_memory_allocated" if device == "cuda" else "CPU allocator events from torch.profiler"
    header = (f"### Attention: reference vs tiled vs fused (forward)\n\n"
              f"`{command()}`{' (quick)' if quick and '--quick' not in command() else ''} on {machine()}; "
              f"device {device}, {dtype}, "
              f"B={B}, H={H}, D={D}, tiled block_size=128; median of {repeats} interleaved repeats. Peak memory: "
              f"bytes held at once beyond those held before the call, output included "
              f"({measured_by}). "
              f"Fused was faster than the reference in {fused_faster} of {len(rows)} rows.")
    markdown = to_markdown(rows, header)
    print(markdown)
    write_section("attention", markdown, device=device, quick=quick)
