"""Metrics of a run: one JSON object per line in OUT/metrics.jsonl, and a plot of them (OUT/metrics.png).

Records have a `kind`: "train" (step, time, loss, mlm_loss, nsp_loss, lr, grad_norm, tokens_per_s, …) every
`log_every` steps, and "eval" (step, time, mlm_loss, mlm_acc, nsp_acc, …) at each evaluation. `time` is the wall
time of the run in seconds (resumed runs continue from the checkpoint's time). A resumed run first drops the
records written after its checkpoint, so the file reads as if the run had never stopped.

Plots: `plot_metrics` (pre-training: loss and held-out accuracy) and `plot_distillation` (a distillation run: the
parts of the loss and the student's held-out score).
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

from tokenization.files import atomic_path, write_text


class MetricsLog:
    """Append-only JSONL file, flushed after every record. Made when the run is set up, touched from `start` on."""

    def __init__(self, path: str):
        self.path = path

    def start(self, truncate_after_step: int | None = None) -> None:
        """Begin the run's file: a new run (None) empties it; a resumed run keeps the records up to its step."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        path = self.path
        if truncate_after_step is None:
            open(path, "w", encoding="utf-8").close()             # a new run starts a new file
        elif os.path.exists(path):
            kept = [r for r in read_metrics(path) if r.get("step", 0) <= truncate_after_step]
            write_text(path, "".join(json.dumps(r) + "\n" for r in kept))

    def write(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(clean) + "\n")


def read_metrics(path: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl (of one `kind` if given).

    A run killed while writing leaves a torn last line: it is dropped, with a message. A broken line anywhere
    else is an error naming the file and the line (the file was not written by us, or was damaged)."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        lines = [(n, line) for n, line in enumerate(f, start=1) if line.strip()]
    records = []
    for i, (n, line) in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i < len(lines) - 1:
                raise ValueError(f"{path}: line {n} is not a JSON record ({e.msg})") from None
            print(f"{path}: dropping the torn last line {n} (a run stopped while writing it)", file=sys.stderr)
    return [r for r in records if kind is None or r.get("kind") == kind]


def plot_metrics(runs: dict[str, str] | str, png: str, title: str | None = None) -> str:
    """Plot one run (a metrics.jsonl path) or several ({label: path}): training and held-out MLM loss against
    steps, and held-out MLM / NSP accuracy against wall time in minutes. Written atomically; returns `png`."""
    if isinstance(runs, str):
        runs = {"": runs}
    fig, (ax_loss, ax_acc) = figure(1, 2, figsize=(9, 3.4))
    for label, path in runs.items():
        train, evals = read_metrics(path, "train"), read_metrics(path, "eval")
        prefix = f"{label} " if label else ""
        line, = ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1, alpha=0.8,
                             label=f"{prefix}train loss (MLM + NSP)")
        if evals:
            ax_loss.plot([r["step"] for r in evals], [r["mlm_loss"] for r in evals], "o--", ms=3,
                         color=line.get_color(), label=f"{prefix}held-out MLM loss")
            minutes = [r["time"] / 60 for r in evals]
            ax_acc.plot(minutes, [r["mlm_acc"] for r in evals], "o-", ms=3, color=line.get_color(),
                        label=f"{prefix}MLM accuracy")
            ax_acc.plot(minutes, [r["nsp_acc"] for r in evals], "s:", ms=3, color=line.get_color(),
                        label=f"{prefix}NSP accuracy")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=7)
    ax_acc.set_xlabel("wall time (minutes)")
    ax_acc.set_ylabel("held-out accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(fontsize=7)
    return save_figure(fig, png, title)


def plot_distillation(metrics: str, png: str, score: str = "mlm_acc", reference: dict[str, float] | None = None,
                      title: str | None = None) -> str:
    """Two panels from a distillation run's metrics.jsonl: the parts of the loss (unweighted) against steps, and the
    student's held-out `score` against steps, with horizontal lines at `reference` values (e.g. the teacher's).
    Written atomically; returns `png`."""
    parts, evals = read_metrics(metrics, "train"), read_metrics(metrics, "eval")
    fig, (ax_loss, ax_score) = figure(1, 2, figsize=(9, 3.4))
    for key, label in (("ce_loss", "L_ce (soft targets, T²·KL)"), ("mlm_loss", "L_mlm (true labels)"),
                       ("cos_loss", "L_cos (1 − cos of hidden states)")):
        if parts and key in parts[0]:                         # a run without a teacher logs L_mlm only
            ax_loss.plot([r["step"] for r in parts], [r[key] for r in parts], lw=1, label=label)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (unweighted)")
    ax_loss.set_yscale("log")
    ax_loss.legend(fontsize=7)
    ax_score.plot([r["step"] for r in evals], [r.get(score, float("nan")) for r in evals], "o-", ms=3,
                  label=f"student held-out {score}")
    for i, (name, value) in enumerate((reference or {}).items()):
        ax_score.axhline(value, ls="--", lw=1, color=f"C{i + 1}", label=name)
    ax_score.set_xlabel("step")
    ax_score.set_ylabel(score)
    ax_score.grid(alpha=0.3)
    ax_score.legend(fontsize=7)
    return save_figure(fig, png, title)


def figure(rows: int, cols: int, figsize: tuple[float, float], dpi: int = 90, **kwargs):
    """A new `matplotlib.figure.Figure` and its axes. Drawn on a Figure object, not through pyplot: no global
    state, no backend chosen, so a notebook's inline plots keep working (library code never calls
    `matplotlib.use`)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(rows, cols, **kwargs)


def save_figure(fig, png: str, title: str | None = None) -> str:
    """Give the figure its title, lay it out and write it atomically (a temporary file, then rename).
    Returns `png`."""
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp)
    return png
