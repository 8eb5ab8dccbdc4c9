"""Pre-training that learns, measured: the tiny preset on the stdlib docstrings and on WikiText-2 (raw test split).

For each corpus, one `python -m bert.pretrain` run (the same code, called in-process) with a fixed budget of
optimizer steps — STEPS on stdlib, the steps that fit in 10 minutes of a quiet 2-core CPU (`--quick`: a tenth) —
evaluated on held-out documents EVALS times: MLM accuracy at 15% masking and NSP accuracy. A budget of steps, not
of minutes, so that a busy machine gives the same model as a quiet one, only later; the report gives both the wall
time and the process CPU time. The learning curves go to docs/pretraining_curve.png (a quick run:
docs/pretraining_curve-quick.png, beside docs/benchmarks-quick.md).
Floors for the stdlib corpus (FLOORS): held-out MLM ≥ 30%, NSP ≥ 80% at the last evaluation within the first
10 minutes of training (TIME_BUDGET_S, the trainer's clock) — on a slower machine than the one STEPS was measured on,
the budget runs past 10 minutes and the floors are read at the evaluation before. The raw results (every
evaluation with its time) go to docs/pretraining.json.

Then training throughput on identical batches (stdlib, the run's vocabulary, sequences ≤ 128): one optimizer step
(forward, backward, AdamW) of our BertForPreTraining with the MLM decoder at the masked positions only, ours with
the decoder at every position, and transformers' BertForPreTraining (same weights, loaded from our save) —
interleaved, the table gives median real (non-pad) tokens per second and the median per-round ratio to transformers.

    python -m benchmarks --only pretraining            # 2 runs of the full budget + throughput
    python -m benchmarks --only pretraining --quick    # a tenth of the steps (floors not checked)
    python -m benchmarks.pretraining --ablation        # the recipe's ablation at a reduced budget (its own section)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

from bert.pretraining.cli import pretrain
from bert.tools.timing import interleaved, medians, ratios, synchronizer
from bert.training.metrics import plot_metrics, read_metrics

from tokenization.files import write_json

from .report import DOCS, command, doc_path, machine, write_section

FLOORS = {"mlm_acc": 0.30, "nsp_acc": 0.80}
TIME_BUDGET_S = 600      # the floors hold within the first 10 minutes of training
# The recipe: what budget pre-training recipes (Cramming, Geiping & Goldstein 2022 §4; Izsak et al. 2021 §3) find
# matters at small budgets — dropout off, a short warm-up, the learning rate decayed linearly to 0 at the last step
# of the budget (bert/training/schedule.py), the MLM decoder at the masked positions only (bert.pretrain's default),
# examples grouped by length (2% of a batch is padding) — and the peak learning rate of the ablation below. Written
# out so the report says what ran.
RECIPE = ["--preset", "tiny", "--seq-len", "128", "--batch-size", "32", "--lr", "2e-3", "--warmup", "0.05",
          "--mask-prob", "0.4", "--vocab-size", "4096", "--dropout", "0"]
# Steps of the budget, from the earlier time-budgeted runs on the quiet 2-core AMD EPYC machine of
# docs/benchmarks.md: stdlib reached step 8,513 in 600 s of training with 34 evaluations (so 8,500 steps with EVALS
# evaluations fit in 10 minutes there); WikiText-2, whose examples are longer, step 5,284.
STEPS = {"stdlib": 8500, "wikitext": 5300}
EVALS = 8
# The ablation (`--ablation`): the recipe with each row's options, at ABLATION_STEPS (a reduced budget, so that a
# busy machine can run it; the differences to the first row are compared, not the levels).
ABLATION_STEPS = 1000
# The masking rows train at a higher rate (Wettig et al. 2023, "Should You Mask 15% in Masked Language Modeling?":
# more predictions per sequence for the same forward pass) and are scored, like every row, at 15% (--eval-mask-prob).
ABLATION = {"before: lr 1e-3, masking 15%": ["--lr", "1e-3", "--mask-prob", "0.15"],
            "lr 2e-3": ["--lr", "2e-3", "--mask-prob", "0.15"],
            "lr 2e-3, warm-up 2%": ["--lr", "2e-3", "--warmup", "0.02", "--mask-prob", "0.15"],
            "lr 3e-3, warm-up 2%": ["--lr", "3e-3", "--warmup", "0.02", "--mask-prob", "0.15"],
            "lr 2e-3, train masking 25%": ["--lr", "2e-3", "--mask-prob", "0.25"],
            "lr 2e-3, train masking 40% (the recipe)": ["--lr", "2e-3", "--mask-prob", "0.4"]}


def _learn(corpus: str, steps: int, out: str, device: str, extra: list[str] = (), evals: int = EVALS) -> dict:
    args = [*RECIPE, *extra, "--corpus", corpus, "--max-steps", str(steps), "--out", out, "--eval-every",
            str(max(1, steps // evals)), "--save-every", "0", "--device", device, "--no-progress"]
    wall, cpu = time.perf_counter(), time.process_time()
    summary = pretrain(args)
    evals_ = read_metrics(os.path.join(out, "metrics.jsonl"), "eval")
    return {"summary": summary, "evals": evals_, "args": args, "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu}


def _at(evals: list[dict], step: int) -> dict | None:
    """The last evaluation at or before `step`."""
    before = [r for r in evals if r["step"] <= step]
    return before[-1] if before else None


def _throughput(out: str, device: str, repeats: int) -> list[tuple[str, float, float]]:
    """(name, median tokens/s, median ratio to transformers) for the three models on the same batches."""
    from transformers import BertForPreTraining as HFBertForPreTraining

    from bert import BertForPreTraining
    from bert.pretraining import MaskingSpec, PretrainingData, load_documents, split_heldout, tokenize_documents
    from bert.training import ShardedBatches, build_optimizer
    from tokenization import BertTokenizer

    tok = BertTokenizer.from_pretrained(out, backend="fast")
    train_docs, _ = split_heldout(load_documents("stdlib"))
    data = PretrainingData(tokenize_documents(train_docs, tok), MaskingSpec.from_tokenizer(tok, max_predictions=20),
                           pad_id=tok.pad_token_id, cls_id=tok.cls_token_id, sep_id=tok.sep_token_id, seq_len=128)
    steps = ShardedBatches(data, batch_size=32, group_by_length=50).steps()
    batches = [next(steps)[1][0] for _ in range(repeats)]
    ours = BertForPreTraining.from_pretrained(out).to(device).train()
    ours_full = BertForPreTraining.from_pretrained(out).to(device).train()
    theirs = HFBertForPreTraining.from_pretrained(out).to(device).train()
    ours.masked_only = True                                              # set once, as pre-training does
    models = {"ours, MLM decoder at masked positions": ours, "ours, MLM decoder at every position": ours_full,
              "transformers BertForPreTraining": theirs}
    optims = {name: build_optimizer(m, 1e-4) for name, m in models.items()}

    def step(name: str):
        def run_step(batch: dict) -> None:
            models[name](**batch).loss.backward()
            optims[name].step()
            optims[name].zero_grad(set_to_none=True)
        return run_step

    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    times = interleaved({name: step(name) for name in models}, len(batches), warmup=1,
                        inputs=[batches[0]] + batches, sync=synchronizer(device))   # the first round is a warm-up
    real_tokens = [int(b["attention_mask"].sum()) for b in batches]
    per_token = {name: [t / n for t, n in zip(ts, real_tokens)] for name, ts in times.items()}
    ratio = ratios(per_token, base="transformers BertForPreTraining")
    return [(name, 1 / median_s, ratio[name]) for name, median_s in medians(per_token).items()]


def _budget(res: dict) -> str:
    return f"{res['wall_s'] / 60:.1f} min wall, {res['cpu_s'] / 60:.1f} min CPU"


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    scale = 10 if quick else 1
    corpora = {"stdlib docstrings": ("stdlib", STEPS["stdlib"] // scale)}
    wiki = os.path.join(data, "wikitext-2-raw", "wiki.test.raw") if data else None
    if wiki and os.path.isfile(wiki):
        corpora["WikiText-2 raw test"] = (wiki, STEPS["wikitext"] // scale)
    else:
        print(f"pretraining: WikiText-2 raw not found under {data!r}; only the stdlib corpus is run")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (corpus, steps) in corpora.items():
            print(f"pretraining: {label}, {steps} steps", flush=True)
            res = _learn(corpus, steps, os.path.join(tmp, label.split()[0]), device)
            results[label] = {k: res[k] for k in ("summary", "evals", "args", "wall_s", "cpu_s")}
        os.makedirs(DOCS, exist_ok=True)
        plot = doc_path("pretraining_curve.png", quick)                   # docs/pretraining_curve-quick.png if quick
        plot_metrics({label: os.path.join(tmp, label.split()[0], "metrics.jsonl") for label in results}, plot,
                     title="tiny preset (2 layers, width 128), 4,096-token vocabulary, a fixed budget of steps")
        print("pretraining: throughput", flush=True)
        speed = _throughput(os.path.join(tmp, "stdlib"), device, repeats=6 if quick else 20)
    raw = {"command": command(), "machine": machine(), "quick": quick, "results": results,
           "throughput": [{"model": n, "tokens_per_s": t, "ratio": r} for n, t, r in speed]}
    write_json(doc_path("pretraining.json", quick), raw)       # the raw results first: a report bug loses nothing
    lines = section(raw, os.path.basename(plot))
    write_section("pretraining", "\n".join(lines), device=device, quick=quick)
    for line in lines:
        print(line)


def section(raw: dict, plot: str) -> list[str]:
    """The docs section from the raw results that `run` writes to docs/pretraining.json."""
    results, quick = raw["results"], raw["quick"]
    steps = results["stdlib docstrings"]["summary"]["step"]
    minutes = TIME_BUDGET_S / 60
    lines = [f"### Pre-training (MLM + NSP): the tiny preset in a budget of {steps:,} steps",
             "",
             f"`{raw['command']}`{' (quick)' if quick else ''} on {raw['machine']}. Recipe: `python -m bert.pretrain "
             f"{' '.join(RECIPE)} --max-steps N` (+ `--corpus`): training masks 40% of the tokens, every evaluation "
             "masks 15% (`--eval-mask-prob`, BERT's rate); a WordPiece vocabulary trained on the training "
             f"documents; 5% of the documents held out; {EVALS} evaluations on up to 1,000 held-out examples. The "
             "budget is a number of steps (the same model on a busy machine, only later); the column "
             f"\"at {minutes:g} min\" gives the last evaluation within the first {minutes:g} minutes of training (the "
             "trainer's clock, evaluations included; the schedule is still the full budget's there). Time: wall "
             "clock and process CPU time (threads × wall on a quiet machine) of the whole run.",
             "",
             f"| corpus | steps | tokens seen | time | MLM acc | NSP acc | MLM loss | at {minutes:g} min: step, MLM / NSP "
             f"| floors (stdlib, {minutes:g} min): MLM ≥ 30%, NSP ≥ 80% |",
             "|:---|---:|---:|:---|---:|---:|---:|:---|:---|"]
    for label, res in results.items():
        ev, s = res["evals"][-1], res["summary"]
        early = [r for r in res["evals"] if r["time"] <= TIME_BUDGET_S]
        at = early[-1] if early else None
        cell = f"{at['step']:,}, {at['mlm_acc']:.1%} / {at['nsp_acc']:.1%}" if at else "—"
        if label.startswith("stdlib") and not quick:
            verdict = "**met**" if at and all(at[k] >= v for k, v in FLOORS.items()) else "**missed**"
        else:
            verdict = "—" if not label.startswith("stdlib") else "not checked (quick run)"
        lines.append(f"| {label} | {s['step']:,} | {s['tokens']:,} | {_budget(res)} | {ev['mlm_acc']:.1%} | "
                     f"{ev['nsp_acc']:.1%} | {ev['mlm_loss']:.3f} | {cell} | {verdict} |")
    fractions = (0.125, 0.25, 0.5, 1.0)
    lines += ["", "Held-out accuracy along the budget (the last evaluation at or before each share of the steps, "
              "MLM / NSP):", "", "| corpus | " + " | ".join(f"{f:g} of the steps" for f in fractions) + " |",
              "|:---|" + "---:|" * len(fractions)]
    for label, res in results.items():
        cells = [_at(res["evals"], round(f * res["summary"]["step"])) for f in fractions]
        lines.append(f"| {label} | " + " | ".join(f"{c['mlm_acc']:.1%} / {c['nsp_acc']:.1%}" if c else "—"
                                                  for c in cells) + " |")
    lines += ["", f"![learning curves]({plot})", "",
              "Training throughput on the same batches (stdlib, batch 32, sequences ≤ 128 grouped by length; "
              "forward + backward + AdamW; real tokens per second, median of interleaved rounds):", "",
              "| model | tokens/s | time per token vs transformers |", "|:---|---:|---:|"]
    lines += [f"| {t['model']} | {t['tokens_per_s']:,.0f} | {t['ratio']:.2f}× |" for t in raw["throughput"]]
    return lines


def ablation(steps: int = ABLATION_STEPS, device: str = "cpu", names: list[str] | None = None) -> list[dict]:
    """Each change of ABLATION alone, `steps` steps on stdlib; writes the "pretraining-ablation" section."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra) in enumerate(ABLATION.items()):
            if names and name not in names and i > 0:             # the first row is the base of the Δ columns
                continue
            print(f"pretraining ablation: {name}", flush=True)
            res = _learn("stdlib", steps, os.path.join(tmp, str(i)), device, extra, evals=1)
            rows.append({"name": name, "extra": extra, "eval": res["evals"][-1], "wall_s": res["wall_s"],
                         "cpu_s": res["cpu_s"]})
    base = rows[0]["eval"]
    lines = [f"### Pre-training recipe: ablation at {steps:,} steps (stdlib, tiny preset)", "",
             f"`{command()}` on {machine()}. Each row is the recipe of the pre-training section "
             f"(`{' '.join(RECIPE)}`) with the row's options, {steps:,} steps (a reduced budget: compare the "
             "differences to the first row, not the levels). CPU time = process time of the run.", "",
             "| change | options | MLM acc | Δ MLM | NSP acc | Δ NSP | MLM loss | CPU min |",
             "|:---|:---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ev = r["eval"]
        lines.append(f"| {r['name']} | `{' '.join(r['extra'])}` | {ev['mlm_acc']:.1%} | "
                     f"{100 * (ev['mlm_acc'] - base['mlm_acc']):+.1f} | {ev['nsp_acc']:.1%} | "
                     f"{100 * (ev['nsp_acc'] - base['nsp_acc']):+.1f} | {ev['mlm_loss']:.3f} | {r['cpu_s'] / 60:.1f} |")
    write_section("pretraining-ablation", "\n".join(lines), device=device)
    print("\n".join(lines))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m benchmarks.pretraining", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ablation", action="store_true", help="run the ablation (else: the benchmark, as --only)")
    ap.add_argument("--steps", type=int, default=ABLATION_STEPS, help=f"ablation steps ({ABLATION_STEPS})")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(sys.argv[1:])
    torch.set_num_threads(a.threads)
    if a.ablation:
        ablation(a.steps, a.device)
    else:
        run(a.device)
