"""The BERT-base pre-training step (MLM + NSP): ours vs transformers' BertForPreTraining, tokens/s and MFU.

One step = forward (loss = L_MLM + L_NSP) → backward → AdamW step → zero_grad, in train mode (dropout on), on
the same batches and from the same weights: our BertForPreTraining is initialised at random and its state dict is
copied into transformers' BertForPreTraining (attn_implementation="sdpa") through the checkpoint name map; both
losses are checked equal (eval mode, fp32) before timing. Each side has its own AdamW (fused=True).

  - CUDA: bf16 autocast, seq 128 (batch 64) and 512 (batch 16), 12 layers; each with and without torch.compile
    (compile time is reported and excluded from the step times).
  - CPU: fp32, seq 128, batch 4, 12 layers (--quick: 2 layers); no torch.compile (its build is minutes here).
Batches are synthetic: random word pieces with [CLS] A [SEP] B [SEP] and segment ids, exactly 15% of the
positions of every sequence chosen for prediction (so the number of predicted tokens N is the same every step),
random NSP labels, no padding (pre-training packs sequences to full length).

"ours" runs with `model.masked_only = True`: the MLM transform and decoder run only at the N predicted positions
(the loss is the same — checked); "ours, all positions" (the same model and optimizer, the attribute False) decodes
every position as transformers does, to show what that saves.

Model FLOPs per step (2 per multiply-add; backward = 2 × forward, so training = 3 × forward):

    F = 3 · [ 2·B·T·L·(4C² + 2C·I)      Q, K, V, output projections and the FFN   (= 6 · P_enc · tokens)
            + 4·B·L·T²·C                 scores Q Kᵀ and the weighted sum P V
            + 2·N·(C² + C·V)             MLM transform and decoder at the N predicted positions
            + 2·B·(C² + 2C) ]            pooler and NSP classifier

with P_enc = L·(4C² + 2C·I) the encoder's matmul weights. The decoder is counted at the N predicted positions
only, for both sides — the work the task needs; transformers' decoding of every position is extra work that the
formula does not credit. MFU = F / (step time × R), with R the matmul FLOP/s measured in the same run: bf16
8192×8192×8192 on CUDA, fp32 (B·T × C)·(C × I) on the CPU — timed as one more contestant of the interleaved
race (5 matmuls a round), so it meets the same machine noise as the steps; R is the median over the races.

Steps are interleaved (bert/tools/timing.py: ours, ours-all, transformers, matmul probe, then the order rotated by one,
…) so machine noise hits all alike; times are medians, and "× transformers" is the median of the per-round time
ratios (< 1: faster than transformers).

    python -m benchmarks --only step                       # CPU: 12 layers, seq 128, batch 4
    python -m benchmarks --only step --quick               # CPU smoke run: 2 layers
    python -m benchmarks --only step --device cuda         # the numbers of issue 7 (H100/H200)
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from bert import BertConfig, BertForPreTraining
from bert.tools.timing import interleaved, medians, ratios, synchronizer

from .model import transformers_twin
from .report import command, machine, write_section

C, HEADS, I, V = 768, 12, 3072, 30522           # BERT-base widths
CLS, SEP, FIRST_WORD = 101, 102, 1000            # uncased vocab: [CLS], [SEP], first ordinary word piece
MASKED_FRACTION = 0.15


def settings(device: str, quick: bool) -> dict:
    if device == "cuda":
        return dict(layers=2 if quick else 12, shapes=((128, 64), (512, 16)), dtype=torch.bfloat16,
                    compile=(False,) if quick else (False, True), repeats=5 if quick else 20, warmup=3)
    return dict(layers=2 if quick else 12, shapes=((128, 4),), dtype=None, compile=(False,),
                repeats=3 if quick else 7, warmup=1)


def model_flops(B: int, T: int, L: int, N: int, C: int = C, I: int = I, V: int = V) -> int:
    """Training FLOPs of one step (the formula in the module docstring; BERT-base widths by default).
    tests/test_benchmarks_step.py checks it against PyTorch's FlopCounterMode on a tiny model."""
    forward = (2 * B * T * L * (4 * C * C + 2 * C * I)        # projections and FFN
               + 4 * B * L * T * T * C                        # Q Kᵀ and P V
               + 2 * N * (C * C + C * V)                      # MLM transform + decoder at the N predicted positions
               + 2 * B * (C * C + 2 * C))                     # pooler + NSP
    return 3 * forward                                        # forward + backward (2 × forward)


def matmul_probe(device: str, dtype: torch.dtype, B: int, T: int, count: int = 5):
    """A callable doing `count` plain matmuls — bf16 8192³ on CUDA, fp32 (B·T × C)·(C × I) on the CPU (the FFN's
    shape) — and its FLOPs. It runs as one more contestant of the race, so it meets the same machine noise."""
    m, k, n = (8192, 8192, 8192) if device == "cuda" else (B * T, C, I)
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)

    def probe(batch=None) -> None:
        for _ in range(count):
            a @ b
    return probe, 2 * m * k * n * count


def make_batches(B: int, T: int, count: int, device: str, seed: int = 0) -> list[dict]:
    """Synthetic pre-training batches: [CLS] A [SEP] B [SEP], segment ids 0/1, round(0.15·T) predicted positions
    per sequence (never [CLS]/[SEP]; labels −100 elsewhere), random NSP labels, all-ones attention_mask."""
    g = torch.Generator().manual_seed(seed)
    n_pick = max(1, round(MASKED_FRACTION * T))
    batches = []
    for _ in range(count):
        ids = torch.randint(FIRST_WORD, V, (B, T), generator=g)
        split = torch.randint(T // 4, 3 * T // 4, (B,), generator=g)            # where sentence A ends
        pos = torch.arange(T)[None, :]
        ids[:, 0] = CLS
        ids[pos == split[:, None]] = SEP
        ids[:, -1] = SEP
        types = (pos > split[:, None]).long()
        special = (ids == CLS) | (ids == SEP)
        score = torch.rand(B, T, generator=g).masked_fill(special, 2.0)         # specials are never picked
        picked = torch.zeros(B, T, dtype=torch.bool).scatter(1, score.argsort(dim=1)[:, :n_pick], True)
        labels = torch.where(picked, ids, torch.full_like(ids, -100))
        ids = torch.where(picked, torch.full_like(ids, 103), ids)               # [MASK] (the 80% case, always)
        batch = dict(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=types, labels=labels,
                     next_sentence_label=torch.randint(0, 2, (B,), generator=g))
        batches.append({k: v.to(device) for k, v in batch.items()})
    return batches


def build_pair(layers: int, device: str, check_batch: dict):
    """Our BertForPreTraining and transformers' (sdpa) with the same weights; losses checked equal in fp32."""
    torch.manual_seed(0)
    cfg = BertConfig(num_hidden_layers=layers, hidden_size=C, num_attention_heads=HEADS, intermediate_size=I,
                     vocab_size=V)
    ours = BertForPreTraining(cfg).to(device)
    theirs = transformers_twin(ours, "BertForPreTraining", allowed_missing=(
        "position_ids", "token_type_ids", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"))
    ours.eval(), theirs.eval()
    with torch.no_grad():
        ours.masked_only = True
        a = ours(**check_batch).loss.item()
        ours.masked_only = False
        b = ours(**check_batch).loss.item()
        c = theirs(**check_batch).loss.item()
    assert abs(a - c) <= 1e-4 * abs(c) and abs(b - c) <= 1e-4 * abs(c), f"losses differ: {a}, {b}, {c}"
    ours.train(), theirs.train()
    return ours, theirs


def make_step(model, opt: torch.optim.Optimizer, device: str, dtype: torch.dtype | None,
              masked_only: bool | None = None):
    """One training step of `model`: forward (under autocast when dtype is set), backward, `opt` step. With
    `masked_only` (ours only) the step first sets `model.masked_only` — "ours" and "ours, all positions" are one
    model, so each sets its own mode; a compiled model keeps one graph per mode."""

    def step(batch: dict) -> None:
        if masked_only is not None:
            model.masked_only = masked_only
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    """Measure and write the "step" section of docs/benchmarks.md (`data` is not used: batches are synthetic)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    s = settings(device, quick)
    L, rows, rates = s["layers"], [], []                      # rates: matmul FLOP/s, one per race
    mm_dtype = torch.bfloat16 if device == "cuda" else torch.float32
    for T, B in s["shapes"]:
        batches = make_batches(B, T, 4, device)
        N = int((batches[0]["labels"] != -100).sum())
        flops = model_flops(B, T, L, N)
        for use_compile in s["compile"]:
            ours, theirs = build_pair(L, device, batches[0])
            models = {"ours": ours, "theirs": theirs}
            compile_s = {}
            if use_compile:
                for name in models:
                    t0 = time.perf_counter()
                    models[name] = torch.compile(models[name])
                    compile_s[name] = time.perf_counter() - t0   # lazy: the real build happens in the warm-up
            opts = {name: torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
                    for name, m in (("ours", ours), ("theirs", theirs))}
            steps = {"ours": make_step(models["ours"], opts["ours"], device, s["dtype"], masked_only=True),
                     "ours, all positions": make_step(models["ours"], opts["ours"], device, s["dtype"],
                                                      masked_only=False),
                     "transformers": make_step(models["theirs"], opts["theirs"], device, s["dtype"])}
            probe, probe_flops = matmul_probe(device, mm_dtype, B, T)
            sync = synchronizer(device)
            if use_compile:                                       # build (and time) the graphs outside the race
                build = {name: (lambda step=step: [step(b) for b in batches[:2]]) for name, step in steps.items()}
                compile_s.update({name: ts[0] for name, ts in interleaved(build, 1, warmup=0, sync=sync).items()})
            times = interleaved({**steps, "matmul": probe}, s["repeats"], s["warmup"], inputs=batches, sync=sync)
            rates.append(probe_flops / medians(times)["matmul"])
            del times["matmul"]
            print("step times (s), round by round:", {n: [round(t, 3) for t in ts] for n, ts in times.items()})
            median_s, ratio_to_hf = medians(times), ratios(times, base="transformers")
            for name in times:
                t, ratio = median_s[name], ratio_to_hf[name]
                rows.append(dict(T=T, B=B, compile=use_compile, name=name, seconds=t, ratio=ratio, flops=flops,
                                 N=N, compile_s=compile_s.get(name)))
                print(f"T={T} B={B} compile={use_compile} {name:20s} {t * 1e3:8.1f} ms  {B * T / t:9.0f} tok/s  "
                      f"{flops / t / 1e9:8.1f} GFLOP/s  × transformers {ratio:.3f}", flush=True)
            del ours, theirs, models, steps, opts
            if device == "cuda":
                torch.cuda.empty_cache()
    peak = statistics.median(rates)
    markdown = to_markdown(rows, peak, device, s, quick, transformers.__version__)
    print(markdown)
    write_section("step", markdown, device=device, quick=quick)


def to_markdown(rows: list[dict], peak: float, device: str, s: dict, quick: bool, hf_version: str) -> str:
    unit, scale = ("TFLOP/s", 1e12) if device == "cuda" else ("GFLOP/s", 1e9)
    precision = "bf16 autocast" if s["dtype"] is not None else "fp32"
    T0, B0 = s["shapes"][0]
    mm = "bf16 8192×8192×8192" if device == "cuda" else f"fp32 ({B0 * T0}×{C})·({C}×{I})"
    lines = [
        "### BERT pre-training step (MLM + NSP): ours vs transformers' BertForPreTraining",
        "",
        f"`{command()}`{' (quick)' if quick and '--quick' not in command() else ''} on {machine()}, transformers "
        f"{hf_version}; device {device}, {precision}, {s['layers']} layers, C={C}, H={HEADS}, I={I}, V={V}; "
        f"fused AdamW; train mode (dropout 0.1); synthetic batches without padding, 15% of positions predicted; "
        f"same initial weights (losses checked equal); median of {s['repeats']} interleaved steps after "
        f"{s['warmup']} warm-up rounds. Model FLOPs and MFU as in `benchmarks/step.py`'s docstring: "
        f"MFU = model FLOPs ÷ (step time × the matmul rate measured in this run, {mm}: "
        f"**{peak / scale:.1f} {unit}**).",
        "",
        f"| seq | batch | compile | model | ms / step | tokens/s | model {unit} | MFU | × transformers' time |",
        "|---:|---:|:---|:---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        achieved = r["flops"] / r["seconds"]
        compile_note = "no" if not r["compile"] else f"yes (build {r['compile_s']:.0f} s)"
        lines.append(f"| {r['T']} | {r['B']} | {compile_note} | {r['name']} | {r['seconds'] * 1e3:.1f} | "
                     f"{r['B'] * r['T'] / r['seconds']:,.0f} | {achieved / scale:.2f} | {achieved / peak:.1%} | "
                     f"**{r['ratio']:.3f}×** |")
    return "\n".join(lines)
