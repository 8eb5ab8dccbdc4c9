"""Named-entity recognition on CoNLL-2003: the MiniLM-L6 checkpoint fine-tuned as a token classifier, a half-depth
DistilBERT student distilled from it, their entity-level F1 on dev and test, and their inference time per batch.

    python -m benchmarks --only ner            # full budget: 800 teacher steps, 1000 student steps (batch 32)
    python -m benchmarks --only ner --quick    # smoke run: 40 / 40 steps on 1,000 sentences (floors not expected)

1. teacher = `BertForTokenClassification` from all-MiniLM-L6-v2 (6 layers, width 384, *uncased*: "Bush" and "bush"
   are one token, which costs on names), fine-tuned on train.txt with its own loss (first piece of each word
   labelled, `bert.ner.align_labels`);
2. student = the teacher's layers [0, 3, 5] (`student_from_teacher` on the token classifier) with the teacher's classifier
   on top: a 3-layer `DistilBertForTokenClassification`, distilled on the same batches (`DistillationStep`: soft
   targets at temperature T on every non-pad piece, the true labels on the labelled pieces, cosine of hidden states);
3. dev and test precision / recall / F1 (`bert.ner.entity_scores`, the CoNLL definition), and inference time on dev
   batches (interleaved, `bert.tools.timing`).

Floors (issue 16): teacher dev F1 ≥ 85% (goal 90%); student time ≤ 0.55× the teacher's. Devlin et al. 2019 Table 3
report 96.4 dev F1 for BERT-base (cased); the uncased 6-layer, 384-wide MiniLM is expected well below that.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from bert import BertForTokenClassification
from bert.finetune import fine_tune
from bert.ner import TokenClassificationData, entity_scores, label_list, predict_tags, read_conll
from bert.tools.timing import interleaved_times
from bert.training import TrainingArguments, pad_batch
from distil import student_from_teacher
from distil.distiller import Distiller
from distil.sentiment import default_teacher_dir, model_name
from distil.step import DistillationStep
from tokenization import BertTokenizer
from tokenization.files import write_json

from .report import DOCS, command, doc_path, machine, write_section

TITLE = "### Named-entity recognition on CoNLL-2003: teacher vs half-depth student"


@dataclass
class NerBudget:
    teacher_steps: int = 800           # fine-tuning steps of the teacher (batch_size sentences each; ~1.8 epochs)
    student_steps: int = 1000          # distillation steps of the student, on the same batch plan
    batch_size: int = 32
    teacher_lr: float = 2e-4           # 800 steps at 2e-4: 90.0 dev F1 (docs/benchmarks.md)
    student_lr: float = 2e-4
    alpha_ce: float = 5.0              # Distiller weights and temperature (as the SST-2 experiment)
    alpha_mlm: float = 2.0             # (here: the weight of the true tags)
    alpha_cos: float = 1.0
    temperature: float = 2.0
    max_length: int = 128              # word pieces per sentence, [CLS] and [SEP] included
    train_limit: int | None = None     # use only the first N training sentences
    eval_limit: int | None = None      # score only the first N dev / test sentences
    timing_batches: int = 14           # dev batches of batch_size timed
    timing_rounds: int = 3
    seed: int = 0
    progress: bool = False


FULL = NerBudget()
QUICK = NerBudget(teacher_steps=40, student_steps=40, train_limit=1000, eval_limit=300, timing_batches=3,
                  timing_rounds=2)


def run_conll(data_dir: str, budget: NerBudget = FULL, device: str = "cpu", log: Callable[[str], None] = print,
              model_dir: str | None = None) -> dict:
    """The experiment on `data_dir`/conll2003/{train,valid,test}.txt; returns the results (see `markdown`)."""
    root = os.path.join(data_dir, "conll2003")
    model_dir = os.fspath(model_dir or default_teacher_dir())
    torch.manual_seed(budget.seed)
    tok = BertTokenizer.from_pretrained(model_dir, backend="fast")
    table = read_conll(os.path.join(root, "train.txt"), budget.train_limit)
    labels = label_list(table.tags)
    train = TokenClassificationData(table, tok, labels, budget.max_length)
    sets = {name: TokenClassificationData.from_conll(os.path.join(root, f"{file}.txt"), tok, labels,
                                                     budget.max_length, budget.eval_limit)
            for name, file in (("dev", "valid"), ("test", "test"))}

    def train_model(model, steps: int, lr: float, name: str, compute_loss=None) -> dict:
        args = TrainingArguments(out=None, max_steps=steps, lr=lr, warmup=0.1, weight_decay=0.01, seed=budget.seed,
                                 eval_every=0, log_every=50, progress=budget.progress, desc=f"CoNLL {name}")
        wall, cpu = time.perf_counter(), time.process_time()
        fine_tune(model, train, args, budget.batch_size, **({"compute_loss": compute_loss} if compute_loss else {}),
                  device=device)
        return {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}

    def score(model) -> dict:
        out = {}
        for name, data in sets.items():
            s = entity_scores(data.table.tags, predict_tags(model, data, device=device))
            out.update({f"{name}_{k}": s[k] for k in ("precision", "recall", "f1")})
            out[f"{name}_per_type_f1"] = {k: v["f1"] for k, v in s["per_type"].items()}
        return out

    results: dict = {"budget": asdict(budget), "teacher_model": model_name(model_dir), "labels": labels,
                     "train_sentences": len(table), "dev_sentences": len(sets["dev"].ids),
                     "test_sentences": len(sets["test"].ids), "cut_words": {n: d.cut_words for n, d in
                                                                            [("train", train), *sets.items()]}}
    log(f"[1/2] fine-tuning the teacher ({budget.teacher_steps} steps)")
    teacher = BertForTokenClassification.from_pretrained(model_dir, num_labels=len(labels)).to(device)
    cost = train_model(teacher, budget.teacher_steps, budget.teacher_lr, "teacher")
    results["teacher"] = {**score(teacher), **cost, "layers": teacher.config.num_hidden_layers,
                          "parameters": teacher.num_parameters()}
    log(f"  teacher dev F1 {results['teacher']['dev_f1']:.4f}, test F1 {results['teacher']['test_f1']:.4f}")
    teacher.eval()

    log(f"[2/2] distilling a half-depth student ({budget.student_steps} steps)")
    student = student_from_teacher(teacher)          # layers [0, 3, 5] and the classifier, as for SST-2
    distiller = Distiller(budget.alpha_ce, budget.alpha_mlm, budget.alpha_cos, budget.temperature)
    cost = train_model(student, budget.student_steps, budget.student_lr, "distilled student",
                       compute_loss=DistillationStep(teacher, distiller))
    results["student"] = {**score(student), **cost, "layers": student.config.n_layers,
                          "teacher_layers": student.teacher_layers,
                          "parameters": student.num_parameters()}
    log(f"  student dev F1 {results['student']['dev_f1']:.4f}, test F1 {results['student']['test_f1']:.4f}")

    dev = sets["dev"]
    n = min(len(dev.ids), budget.timing_batches * budget.batch_size)
    batches = [{k: v.to(device) for k, v in pad_batch([{"input_ids": x} for x in dev.ids[i:i + budget.batch_size]],
                                                      dev.pad_id).items()} for i in range(0, n, budget.batch_size)]
    times = interleaved_times({"teacher": teacher, "student": student}, batches, budget.timing_rounds)
    results["timing"] = {"batch_size": budget.batch_size, "batches": len(batches), "rounds": budget.timing_rounds,
                         "teacher_ms": 1e3 * times["teacher"]["median_s"],
                         "student_ms": 1e3 * times["student"]["median_s"], "ratio": times["student"]["ratio"]}
    t, s = results["teacher"], results["student"]
    results["floors"] = {"teacher_dev_f1>=0.85": t["dev_f1"] >= 0.85, "teacher_dev_f1>=0.90 (goal)": t["dev_f1"] >= 0.9,
                         "time_ratio<=0.55": results["timing"]["ratio"] <= 0.55}
    results["student_of_teacher_dev_f1"] = s["dev_f1"] / t["dev_f1"] if t["dev_f1"] else 0.0
    return results


def markdown(r: dict) -> str:
    """The results as a markdown table, the timing line and the floors."""
    t = r["teacher"]
    lines = ["| model | layers | parameters | dev P | dev R | dev F1 | test F1 | of teacher's dev F1 | "
             "training wall / CPU time |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in (("teacher (fine-tuned MiniLM-L6)", t), ("student, distilled", r["student"])):
        lines.append(f"| {name} | {row['layers']} | {row['parameters']:,} | {100 * row['dev_precision']:.2f} | "
                     f"{100 * row['dev_recall']:.2f} | **{100 * row['dev_f1']:.2f}** | {100 * row['test_f1']:.2f} | "
                     f"{100 * row['dev_f1'] / max(t['dev_f1'], 1e-9):.1f}% | "
                     f"{row['seconds']:.0f} s / {row['cpu_seconds']:.0f} s |")
    types = sorted(t["dev_per_type_f1"])
    lines += ["", "Dev F1 per type: " + "; ".join(
        f"{k} {100 * t['dev_per_type_f1'][k]:.1f} (student {100 * r['student']['dev_per_type_f1'].get(k, 0):.1f})"
        for k in types) + "."]
    tm = r["timing"]
    lines += ["", f"Inference, batch of {tm['batch_size']} dev sentences (median over {tm['batches']} batches × "
              f"{tm['rounds']} interleaved rounds): teacher {tm['teacher_ms']:.1f} ms, "
              f"student {tm['student_ms']:.1f} ms "
              f"— student/teacher time ratio **{tm['ratio']:.3f}** (median of per-batch ratios).",
              "", "Floors: " + ", ".join(f"{k}: {'pass' if v else 'FAIL'}" for k, v in r["floors"].items()) + "."]
    return "\n".join(lines)


def section(r: dict, how: str) -> list[str]:
    b = r["budget"]
    return [TITLE, "", how,
            f"Teacher: our `BertForTokenClassification` from `{r['teacher_model']}` (all-MiniLM-L6-v2, uncased), "
            f"fine-tuned {b['teacher_steps']} steps × {b['batch_size']} sentences of CoNLL-2003 train "
            f"({r['train_sentences']:,} sentences; lr {b['teacher_lr']:g}, AdamW, warmup 10% then linear decay, "
            f"max {b['max_length']} pieces, the first piece of each word labelled). Student: the teacher's layers "
            f"{r['student']['teacher_layers']} and classifier → a {r['student']['layers']}-layer "
            f"`DistilBertForTokenClassification`, distilled {b['student_steps']} steps on the same batches "
            f"(α_ce={b['alpha_ce']:g}, T={b['temperature']:g}, α_mlm={b['alpha_mlm']:g} on the true tags, "
            f"α_cos={b['alpha_cos']:g}). Scores: entity-level, exact span and type (the CoNLL definition, "
            f"`bert.ner.entity_scores`, equal to seqeval's on the same tags), dev = valid.txt "
            f"({r['dev_sentences']:,} sentences), test = test.txt ({r['test_sentences']:,}). Training times: wall "
            "clock / process CPU time, on a shared machine.", "", markdown(r)]


def run(device: str, data: str | None, quick: bool) -> None:
    if data is None or not os.path.isfile(os.path.join(data, "conll2003", "train.txt")):
        print("ner: skipped (no conll2003/ in the data folder)")
        write_section("ner", f"{TITLE}\n\nNot run: no `conll2003/train.txt` in the data folder (`--data`).",
                      device=device, quick=quick)
        return
    r = run_conll(data, QUICK if quick else FULL, device=device, log=lambda s: print(s, flush=True))
    raw = doc_path("ner_conll2003.json", quick)                # the raw results first: a report bug loses nothing
    os.makedirs(DOCS, exist_ok=True)
    write_json(raw, r)
    body = section(r, f"`{command()}`{' (quick: floors not expected)' if quick else ''} on {machine()}; "
                      f"device {device}, fp32; raw results in `docs/{os.path.basename(raw)}`.")
    write_section("ner", "\n".join(body), device=device, quick=quick)
    print("\n".join(body))
