"""The classroom's small model: the first build of `small_model()` (issue 13's goal: at most 60 s on 2 cores),
this recipe against the one before it, side by side.

Each round builds both recipes from scratch into new temporary folders, the way `small_model()`'s first call does
(`bert.pretraining.classroom.train_recipe`: vocabulary, examples, masks, the training loop, evaluations), the order
alternating from round to round (bert/tools/timing.py `interleaved`). The table gives every round's seconds, the medians
and the median per-round ratio, each recipe's held-out MLM accuracy, and the top three guesses of each model for
notebook 04's `[MASK]` sentences (the builds are deterministic: every round gives the same model).

    python -m benchmarks --only classroom [--quick]       # --quick: 40 steps each, 1 round (a smoke run)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from bert import BertForMaskedLM
from bert.pretraining.classroom import RECIPE, VERSION, train_recipe
from bert.tools.fill_mask import top_k
from bert.tools.timing import interleaved, medians, ratios
from tokenization import BertTokenizer

from .report import command, machine, write_section

# The recipe of VERSION 3 (until issue 13's last change): a vocabulary of 4,096, a 256-wide feed-forward layer,
# 2,500 steps. Everything else as RECIPE.
PREVIOUS: dict[str, Any] = {**RECIPE, "vocab_size": 4096, "intermediate_size": 256, "max_steps": 2500}
SENTENCES = ("Return the [MASK] of the file.", "If the argument is [MASK], raise a ValueError.",
             "This function is [MASK] by the module.", "Return true if the object is a [MASK].")
GOAL_S = 60.0


def guesses(folder: str, sentences: Sequence[str] = SENTENCES, k: int = 3) -> list[list[str]]:
    """The model in `folder`'s `k` most likely tokens at the [MASK] of each sentence (`bert.tools.fill_mask.top_k`)."""
    model = BertForMaskedLM.from_pretrained(folder).eval()
    tokenizer = BertTokenizer.from_pretrained(folder)
    return [[token for token, _ in top_k(model, tokenizer, text, k)] for text in sentences]


def measure(recipes: Mapping[str, Mapping[str, Any]], rounds: int) -> dict[str, Any]:
    """Build every recipe `rounds` times, interleaved (only the builds are timed); {"seconds": {name: [per
    round]}, "median_s", "ratio" (to the first recipe), "steps", "eval" and "guesses" (of each recipe's last
    build)}."""
    root = tempfile.mkdtemp(prefix="classroom-bench-")
    last: dict[str, tuple[str, dict[str, Any]]] = {}

    def builder(name: str):
        def build() -> None:
            folder = tempfile.mkdtemp(dir=root)
            last[name] = (folder, train_recipe(folder, recipes[name]))
        return build

    try:
        times = interleaved({name: builder(name) for name in recipes}, repeats=rounds, warmup=0)
        first = next(iter(recipes))
        return {"seconds": times, "median_s": medians(times), "ratio": ratios(times, first),
                "steps": {name: info["steps"] for name, (_, info) in last.items()},
                "eval": {name: info["eval"] for name, (_, info) in last.items()},
                "guesses": {name: guesses(folder) for name, (folder, _) in last.items()}}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(device: str, data: str | None, quick: bool) -> None:
    if device != "cpu":
        print("classroom: skipped (the goal is the first build on a student's CPU)")
        return
    recipes = {"before (VERSION 3)": PREVIOUS, f"now (VERSION {VERSION})": RECIPE}
    if quick:
        recipes = {name: {**r, "max_steps": 40, "eval_every": 20, "eval_examples": 64} for name, r in recipes.items()}
    r = measure(recipes, rounds=1 if quick else 3)
    names = list(recipes)
    n_rounds = len(r["seconds"][names[0]])
    lines = ["### The classroom model's first build: this recipe and the one before it", "",
             f"`{command()}` on {machine()}. Each round builds both recipes from scratch "
             "(`bert.pretraining.classroom.train_recipe`, what `small_model()`'s first call runs), the order "
             "alternating; × = median per-round ratio to the recipe before. Held-out MLM accuracy at 15% masking "
             "(the two vocabularies differ, so the accuracies are not comparable one to one).", "",
             "| recipe | vocabulary | feed-forward | steps | "
             + " | ".join(f"round {i + 1} (s)" for i in range(n_rounds))
             + " | median (s) | × before | held-out MLM accuracy |",
             "|---|---:|---:|---:|" + "---:|" * n_rounds + "---:|---:|---:|"]
    for name in names:
        rec = recipes[name]
        lines.append(f"| {name} | {rec['vocab_size']:,} | {rec['intermediate_size']} | {r['steps'][name]:,} | "
                     + " | ".join(f"{s:.1f}" for s in r["seconds"][name])
                     + f" | {r['median_s'][name]:.1f} | {r['ratio'][name]:.2f} | {r['eval'][name]['mlm_acc']:.1%} |")
    now = names[-1]
    if not quick:
        slowest = max(r["seconds"][now])
        lines += ["", f"Goal: the first build in at most {GOAL_S:.0f} s on 2 cores — "
                      f"{'met' if slowest <= GOAL_S else 'NOT met'} (slowest round {slowest:.1f} s)."]
    lines += ["", "Top three guesses at the `[MASK]` (the same model in every round):", "",
              "| sentence | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for i, text in enumerate(SENTENCES):
        cells = [" ".join(f"`{t}`" for t in r["guesses"][name][i]) for name in names]
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    write_section("classroom", "\n".join(lines), device=device, quick=quick)
    print("\n".join(lines))
