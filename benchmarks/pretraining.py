"""Pre-training that learns, measured: the tiny preset on the stdlib docstrings and on WikiText-2 (raw test split).

For each corpus, one `python -m bert.pretrain` run (the same code, called in-process) with a wall-clock budget —
10 minutes each (`--quick`: 1 minute) — evaluated on held-out documents every EVAL_EVERY steps: MLM accuracy on
the masked positions and NSP accuracy, against wall time. The learning curves go to docs/pretraining_curve.png
(a quick run: docs/pretraining_curve-quick.png, beside docs/benchmarks-quick.md).
Floors for the stdlib corpus within 10 minutes on the 2-core CPU: MLM ≥ 22%, NSP ≥ 62% (goal: 30% / 75%).

Then training throughput on identical batches (stdlib, the run's vocabulary, sequences ≤ 128): one optimizer step
(forward, backward, AdamW) of our BertForPreTraining with the MLM decoder at the masked positions only, ours with
the decoder at every position, and transformers' BertForPreTraining (same weights, loaded from our save) —
interleaved, the table gives median real (non-pad) tokens per second and the median per-round ratio to transformers.

    python -m benchmarks --only pretraining            # 2 × 10 minutes + throughput
    python -m benchmarks --only pretraining --quick    # 2 × 1 minute (floors not checked)
"""

from __future__ import annotations

import os
import tempfile

from bert.pretraining.cli import pretrain
from bert.timing import interleaved, medians, ratios, synchronizer
from bert.training.metrics import plot_metrics, read_metrics

from .report import DOCS, command, doc_path, machine, write_section

FLOORS = {"mlm_acc": 0.22, "nsp_acc": 0.62}
GOALS = {"mlm_acc": 0.30, "nsp_acc": 0.75}
# the recipe (bert/pretraining/cli.py defaults, written out so the report says what ran)
RECIPE = ["--preset", "tiny", "--seq-len", "128", "--batch-size", "32", "--lr", "1e-3", "--warmup", "0.05",
          "--vocab-size", "4096", "--dropout", "0"]
EVAL_EVERY = 250


def _learn(corpus: str, minutes: float, out: str, device: str) -> dict:
    args = [*RECIPE, "--corpus", corpus, "--minutes", str(minutes), "--out", out, "--eval-every", str(EVAL_EVERY),
            "--save-every", "0", "--device", device, "--no-progress"]
    summary = pretrain(args)
    evals = read_metrics(os.path.join(out, "metrics.jsonl"), "eval")
    return {"summary": summary, "evals": evals, "args": args}


def _at(evals: list[dict], minute: float) -> dict | None:
    """The last evaluation at or before `minute` minutes."""
    before = [r for r in evals if r["time"] <= minute * 60 + 1e-9]
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


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    minutes = 1.0 if quick else 10.0
    corpora = {"stdlib docstrings": "stdlib"}
    wiki = os.path.join(data, "wikitext-2-raw", "wiki.test.raw") if data else None
    if wiki and os.path.isfile(wiki):
        corpora["WikiText-2 raw test"] = wiki
    else:
        print(f"pretraining: WikiText-2 raw not found under {data!r}; only the stdlib corpus is run")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, corpus in corpora.items():
            print(f"pretraining: {label}, {minutes:g} minutes", flush=True)
            results[label] = _learn(corpus, minutes, os.path.join(tmp, label.split()[0]), device)
        os.makedirs(DOCS, exist_ok=True)
        plot = doc_path("pretraining_curve.png", quick)                   # docs/pretraining_curve-quick.png if quick
        plot_metrics({label: os.path.join(tmp, label.split()[0], "metrics.jsonl") for label in results}, plot,
                     title=f"tiny preset (2 layers, width 128), 4,096-token vocabulary, {minutes:g} min per corpus")
        print("pretraining: throughput", flush=True)
        speed = _throughput(os.path.join(tmp, "stdlib"), device, repeats=6 if quick else 20)

    lines = [f"### Pre-training (MLM + NSP): the tiny preset learns in {minutes:g} minutes",
             "",
             f"`{command()}`{' (quick)' if quick else ''} on {machine()}. Recipe: `python -m bert.pretrain "
             f"{' '.join(RECIPE)} --minutes {minutes:g}` (+ `--corpus`); a WordPiece vocabulary trained on the "
             f"training documents; 5% of the documents held out; evaluation every {EVAL_EVERY} steps on up to 1,000 "
             "held-out examples (the time spent evaluating counts as wall time).",
             "",
             "| corpus | steps | tokens seen | minutes | MLM acc | NSP acc | MLM loss | floors (stdlib, 10 min): "
             "MLM ≥ 22%, NSP ≥ 62% |",
             "|:---|---:|---:|---:|---:|---:|---:|:---|"]
    for label, res in results.items():
        ev, s = res["evals"][-1], res["summary"]
        if label.startswith("stdlib") and not quick:
            ok = all(ev[k] >= v for k, v in FLOORS.items())
            goal = all(ev[k] >= v for k, v in GOALS.items())
            verdict = ("**met**" if ok else "**missed**") + (" (goal 30% / 75% met too)" if goal else "")
        else:
            verdict = "—" if not label.startswith("stdlib") else "not checked (quick run)"
        lines.append(f"| {label} | {s['step']} | {s['tokens']:,} | {s['elapsed'] / 60:.1f} | {ev['mlm_acc']:.1%} | "
                     f"{ev['nsp_acc']:.1%} | {ev['mlm_loss']:.3f} | {verdict} |")
    marks = [m for m in (0.5, 1, 2, 5, 10) if m <= minutes]
    lines += ["", "Held-out accuracy against wall time (the last evaluation at or before each mark, MLM / NSP):", "",
              "| corpus | " + " | ".join(f"{m:g} min" for m in marks) + " |",
              "|:---|" + "---:|" * len(marks)]
    for label, res in results.items():
        cells = [_at(res["evals"], m) for m in marks]
        lines.append(f"| {label} | " + " | ".join(f"{c['mlm_acc']:.1%} / {c['nsp_acc']:.1%}" if c else "—"
                                                  for c in cells) + " |")
    lines += ["", f"![learning curves]({os.path.basename(plot)})", "",
              "Training throughput on the same batches (stdlib, batch 32, sequences ≤ 128 grouped by length; "
              "forward + backward + AdamW; real tokens per second, median of interleaved rounds):", "",
              "| model | tokens/s | time per token vs transformers |", "|:---|---:|---:|"]
    lines += [f"| {name} | {tps:,.0f} | {ratio:.2f}× |" for name, tps, ratio in speed]
    write_section("pretraining", "\n".join(lines), device=device, quick=quick)
    for line in lines:
        print(line)
