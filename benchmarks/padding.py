"""Padding and the flash kernel: a padded batch with a mask (memory-efficient kernel) vs unpadding (varlen, flash).

FlashAttention takes no arbitrary mask, so on CUDA a padded batch with a key-padding mask runs PyTorch's
memory-efficient kernel, over all B·T positions. Unpadding (benchmarks/unpad.py) packs the real tokens and runs the
flash kernel per sequence, with no mask and no work on [PAD]. (A batch with no padding at all runs flash directly
when it is given no mask, or when BertModel may read the mask back — bert/model.py `padding_mask`, on the CPU or
with `bert.validation.validation(True)`.) This benchmark times forward + backward of the
attention alone, on the same q, k, v, for:

  - masked     fused_attention with the (B, 1, 1, T) mask                     (memory-efficient kernel on CUDA)
  - unpadded   packing + unpad q/k/v + varlen_attention + pad                 (a layer that unpads by itself)
  - packed     varlen_attention on q/k/v already packed                       (a model that unpads once, at the
               embeddings, and keeps every layer packed: the per-layer cost)
  - dense      fused_attention on a batch of the same shape with no padding and no mask (flash on CUDA): the
               cost of attending over B·T real tokens, for scale

Sequence lengths are drawn uniformly from [T/4, T] (one row full), about 5/8 of the positions real — what
fine-tuning batches padded to the longest sequence look like. Repeats are interleaved; medians and ratios to
"masked" are reported, with the peak memory beyond the inputs (bert/tools/timing.py `peak_memory`, as in
benchmarks/attention.py).

    python -m benchmarks --only padding --device cuda     # bf16, B=32, T = 128, 512, 1024
    python -m benchmarks --only padding                   # CPU: fp32, B=4, T = 128 (the CPU runs math paths)
"""

from __future__ import annotations

import torch

from bert.attention import fused_attention
from bert.tools.timing import interleaved, medians, peak_memory, ratios, synchronizer

from .report import command, machine, write_section
from .unpad import pad, packing, unpad, unpadded_attention, varlen_attention

H, D = 12, 64
PATHS = ("masked", "unpadded", "packed", "dense")


def problem(B: int, T: int, device: str, dtype: torch.dtype, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(T // 4, T + 1, (B,), generator=g)
    lengths[0] = T
    keep = (torch.arange(T)[None, :] < lengths[:, None]).to(device)                    # (B, T)
    q, k, v, grad = (torch.randn(B, H, T, D, generator=g).to(device, dtype) for _ in range(4))
    p = packing(keep)
    packed = {n: unpad(t.transpose(1, 2), p).contiguous() for n, t in (("q", q), ("k", k), ("v", v), ("g", grad))}
    return dict(q=q, k=k, v=v, grad=grad, keep=keep, p=p, packed=packed, real=int(keep.sum()))


def step_fns(x: dict) -> dict:
    """One forward + backward per path (fresh leaf tensors each call, as a layer sees them)."""
    def leaves(*ts):
        return [t.detach().requires_grad_() for t in ts]

    def masked():
        q, k, v = leaves(x["q"], x["k"], x["v"])
        fused_attention(q, k, v, x["keep"][:, None, None, :]).backward(x["grad"])

    def unpadded():
        q, k, v = leaves(x["q"], x["k"], x["v"])
        unpadded_attention(q, k, v, x["keep"], p=packing(x["keep"])).backward(x["grad"])

    def packed():
        q, k, v = leaves(x["packed"]["q"], x["packed"]["k"], x["packed"]["v"])
        varlen_attention(q, k, v, x["p"]).backward(x["packed"]["g"])

    def dense():
        q, k, v = leaves(x["q"], x["k"], x["v"])
        fused_attention(q, k, v).backward(x["grad"])

    return dict(masked=masked, unpadded=unpadded, packed=packed, dense=dense)


def check_same_answer(x: dict) -> float:
    """Largest |masked − unpadded| over the real query tokens (forward), to show both compute the same thing."""
    with torch.no_grad():
        a = fused_attention(x["q"], x["k"], x["v"], x["keep"][:, None, None, :])
        b = unpadded_attention(x["q"], x["k"], x["v"], x["keep"])
        c = pad(varlen_attention(x["packed"]["q"], x["packed"]["k"], x["packed"]["v"], x["p"]), x["p"])
    real = x["keep"][:, None, :, None]
    torch.testing.assert_close(b, c.transpose(1, 2))                                    # (B, T, H, D) -> (B, H, T, D)
    return ((a - b) * real).abs().max().item()


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    """Measure and write the "padding" section of docs/benchmarks.md (`data` is not used)."""
    if device == "cuda":
        dtype, B, lengths = torch.bfloat16, 32, (128, 512) if quick else (128, 512, 1024)
    else:
        dtype, B, lengths = torch.float32, 4, (128,)
    repeats = 3 if quick else 15
    rows = []
    for T in lengths:
        x = problem(B, T, device, dtype)
        diff = check_same_answer(x)
        fns = step_fns(x)
        times = interleaved(fns, repeats, warmup=1, sync=synchronizer(device))
        peak = {n: peak_memory(fn, device) for n, fn in fns.items()}
        med, ratio = medians(times), ratios(times, base="masked")
        rows.append(dict(T=T, real=x["real"], diff=diff, med=med, ratio=ratio, peak=peak))
        print(f"T={T}: " + ", ".join(f"{n} {med[n] * 1e3:.2f} ms ({ratio[n]:.2f}×)" for n in PATHS), flush=True)
    header = (f"### Padding: masked (memory-efficient kernel) vs unpadded (varlen) attention, forward + backward\n\n"
              f"`{command()}`{' (quick)' if quick and '--quick' not in command() else ''} on {machine()}; device "
              f"{device}, {dtype}, B={B}, H={H}, D={D}, lengths uniform in [T/4, T]; median of {repeats} interleaved "
              f"repeats; × = median ratio to *masked* (< 1: faster). Paths as in `benchmarks/padding.py`. "
              f"\"max diff\": largest |masked − unpadded| over the real tokens (forward).\n\n"
              "| T | real tokens | masked ms | unpadded ms (×) | packed ms (×) | dense, no padding ms (×) | "
              "masked MiB | unpadded MiB | packed MiB | max diff |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [header]
    for r in rows:
        m, q, pk = r["med"], r["ratio"], r["peak"]
        lines.append(f"| {r['T']} | {r['real']} of {B * r['T']} | {m['masked'] * 1e3:.2f} | "
                     + " | ".join(f"{m[n] * 1e3:.2f} ({q[n]:.2f}×)" for n in ("unpadded", "packed", "dense"))
                     + " | " + " | ".join(f"{pk[n] / 2**20:.1f}" for n in ("masked", "unpadded", "packed"))
                     + f" | {r['diff']:.1e} |")
    faster = ["unpadded" if r["ratio"]["unpadded"] < 1 else "masked" for r in rows]
    lines += ["", f"Faster for padded batches, per T ({', '.join(str(r['T']) for r in rows)}): {', '.join(faster)}."]
    markdown = "\n".join(lines)
    print(markdown)
    write_section("padding", markdown, device=device, quick=quick)
