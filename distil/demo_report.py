"""The report of `make demo` (distil/demo.py): accuracies with their standard errors and how to read them, the table,
the [MASK] guesses and the figure — in English, or in Chinese for `make demo-zh`."""

from __future__ import annotations

import math
import os

from bert.training import read_metrics
from bert.training.metrics import figure, save_figure

NAMES = {"teacher": "teacher (BERT)", "student": "student (DistilBERT, half the layers), distilled",
         "student_without_teacher": "control: the same student, MLM loss only"}


def standard_error(p: float, n: int) -> float:
    """sqrt(p(1 − p) / n): the (Wald) standard error of a binomial proportion — an accuracy p on n tokens."""
    return math.sqrt(p * (1 - p) / n) if n else float("nan")


ENGLISH = {"head": "Held-out MLM accuracy on the same {n:,} masked tokens (± one standard error, sqrt(p(1-p)/n)):",
           "baseline": "unigram baseline: always guess {token!r}, the training text's most frequent token",
           "how": "How to read it:", "read": [
               "The baseline ignores the sentence: only what a model scores above {b:.2f}% comes from the context.",
               "Gaps within about 2 standard errors (here {two_se:.2f} points) are not meaningful: another draw of "
               "masked tokens could reverse them.",
               "Teacher > student > control: the half-depth student keeps most of the teacher's accuracy ("
               "{ts:.2f} points behind); its lead over the control (no teacher, {sc:+.2f}) is what distillation "
               "added."]}


CHINESE = {"head": "留出文本上的 MLM 准确率，三个模型用同样的 {n:,} 个被遮盖的字（± 一个标准误 sqrt(p(1-p)/n)）：",
           "baseline": "一元基线：永远猜 {token!r}（训练文本中最常见的字）",
           "how": "怎么读：", "read": [
               "基线不看句子：模型高出 {b:.2f}% 的部分才来自上下文。",
               "相差不到约 2 个标准误（这里 {two_se:.2f} 个百分点）的差距没有意义：换一批被遮盖的字就可能反过来。",
               "教师 > 学生 > 对照：半深度的学生保住了教师的大部分准确率（落后 {ts:.2f} 个百分点）；它领先对照组"
               "（没有教师，{sc:+.2f}）的部分，就是蒸馏带来的。"]}
CORPORA = {"en": "the standard library's docstrings", "zh": "People's Daily, January 1998 (人民日报)"}


def accuracy_block(accuracies: dict[str, tuple[float, int]], baseline: dict, labels: dict[str, str],
                   text: dict = ENGLISH) -> str:
    """{name: (accuracy, masked tokens)} of teacher, student, control (in that order) and the unigram baseline
    ({"mlm_acc", "token"}) with standard errors, and how to read them; `text`: the sentences (English, or another)."""
    (t, n), (s, _), (c, _) = accuracies.values()
    rows = [(text["baseline"].format(token=baseline["token"]), baseline["mlm_acc"], n)] + [
        (labels[name], p, m) for name, (p, m) in accuracies.items()]
    fill = {"b": 100 * baseline["mlm_acc"], "two_se": 200 * max(standard_error(p, m) for _, p, m in rows[1:]),
            "ts": 100 * (t - s), "sc": 100 * (s - c)}
    return "\n".join([text["head"].format(n=n), ""]
                     + [f"- {label}: {100 * p:.2f}% ± {100 * standard_error(p, m):.2f}" for label, p, m in rows]
                     + ["", text["how"]] + [f"{i}. {x.format(**fill)}" for i, x in enumerate(text["read"], 1)])


def plot(runs: dict[str, dict], ratios: dict[str, float], png: str, title: str = "make demo") -> str:
    """Left: held-out MLM accuracy against training steps (the students start where the teacher stopped). Right:
    the student's parameters, encoder time and accuracy as fractions of the teacher's."""
    fig, (ax, ax_bar) = figure(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    offset = {"teacher": 0, "student": runs["teacher"]["steps"], "student_without_teacher": runs["teacher"]["steps"]}
    for i, name in enumerate(NAMES):
        evals = read_metrics(os.path.join(runs[name]["dir"], "metrics.jsonl"), "eval")
        ax.plot([offset[name] + r["step"] for r in evals], [r["mlm_acc"] for r in evals], "os^"[i] + "-", ms=3,
                label=NAMES[name])
    ax.set_xlabel("training step (the students start from the trained teacher)")
    ax.set_ylabel("held-out MLM accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    bars = ax_bar.bar(range(len(ratios)), list(ratios.values()), color=[f"C{i + 3}" for i in range(len(ratios))])
    ax_bar.bar_label(bars, fmt="%.2f", fontsize=8)
    ax_bar.axhline(1.0, ls="--", lw=1, color="gray")
    ax_bar.set_xticks(range(len(ratios)), list(ratios), fontsize=7)
    ax_bar.set_ylabel("student / teacher")
    return save_figure(fig, png, f"{title}: a half-depth DistilBERT student distilled from a small BERT teacher")


def markdown(r: dict, lang: str = "en") -> str:
    """The report of `measure`'s results (`lang` "zh": the reading in Chinese)."""
    held = r["heldout"]
    lines = [f"## Teacher, student and control on {CORPORA[lang]}", "",
             f"Held-out: {held['masked_tokens']:,} masked tokens in {held['examples']} examples from "
             f"{held['documents']} documents none of the models trained on; the same batches for all three.", "",
             "| model | layers | parameters | steps | training minutes | encoder ms / batch | held-out MLM accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, label in NAMES.items():
        m = r[name]
        ms = f"{m['encoder_ms_per_batch']:.1f}" if "encoder_ms_per_batch" in m else "(as the student)"
        lines.append(f"| {label} | {m['layers']} | {m['parameters']:,} | {m['steps']} | {m['train_minutes']:.1f} | "
                     f"{ms} | {100 * m['mlm_acc']:.1f}% |")
    lines += [f"| the student before training (the teacher's layers it starts from) | {r['student']['layers']} | | 0 | | | "
              f"{100 * r['student_before_training']['mlm_acc']:.1f}% |", ""]
    lines += [accuracy_block({k: (r[k]["mlm_acc"], r[k]["masked_tokens"]) for k in NAMES}, r["unigram_baseline"],
                             NAMES, CHINESE if lang == "zh" else ENGLISH), ""]
    t, s, c = (100 * r[k]["mlm_acc"] for k in NAMES)
    holds = all(r["order"].values())
    lines += [f"Teacher {t:.2f}% {'>' if t > s else '≤'} student {s:.2f}% {'>' if s > c else '≤'} control {c:.2f}%: "
              + (f"distillation added {s - c:+.2f} points over the same student trained without its teacher, and the "
                 f"student keeps {s / t:.0%} of the teacher's accuracy with {r['ratios']['parameters']:.0%} of its "
                 f"parameters and {r['ratios']['encoder_time']:.0%} of its encoder time."
                 if holds else "the expected order does NOT hold with this budget (see --teacher-steps, "
                               "--student-steps)."), ""]
    source = "sentences of our own" if lang == "zh" else "held-out sentences"
    lines += [f"Fill in the [MASK] ({source}; top-5 guesses, probabilities; ✓ = the word there):", ""]
    for ex in r["fill_mask"]:
        lines.append(f"- {ex['text']}  → **{ex['answer']}**")
        for name in ("teacher", "student"):
            guesses = ", ".join(f"{tok}{' ✓' if tok == ex['answer'] else ''} {p:.2f}" for tok, p in ex[name])
            lines.append(f"  - {name}: {guesses}")
    return "\n".join(lines)


