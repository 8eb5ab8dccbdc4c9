"""Fill in the blank: a masked language model's guesses for each [MASK] of a text — pre-training's Task #1, the
masked LM (Devlin et al. 2019 §3.1), asked of a trained model.

    p_i = softmax(logits_i)        at each [MASK] position i; logits_i (V,): the MLM head's scores for every token
    top-k of p_i                   the k most probable tokens at that position, with their probabilities

Each [MASK] gets its own distribution, read from one forward pass with every [MASK] in place: with two masks the
probabilities are the two marginals, not a joint guess (as transformers' pipeline says of its own multi-mask
results). The output is that of transformers' fill-mask pipeline (`pipeline("fill-mask")`, transformers 5.24
`FillMaskPipeline`), so code written for it reads ours unchanged:

    fill_mask(model, tokenizer, "The capital of France is [MASK].")      # the shape (the numbers are made up):
    [{"score": 0.41, "token": 3000, "token_str": "paris", "sequence": "the capital of france is paris."}, ...]

    python -m bert.tools.fill_mask --model runs/zh-bert "中国的首都是[MASK]京。" [more texts] [--top-k 5]

`top_k(model, tokenizer, text, k)` is the short form the demos print: (token, probability) at the first [MASK].
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import unicodedata
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from bert.heads import MaskedLMHead
from bert.training.evaluate import model_inputs
from bert.training.runs import run_cli
from tokenization import BertTokenizer

# config.json's model_type -> (module, class) of the model the CLI loads. Looked up by name at run time: `bert`
# never imports `distil` (dependencies point one way), yet the CLI reads a distilled student's folder too.
MLM_CLASSES = {"bert": ("bert", "BertForMaskedLM"), "distilbert": ("distil", "DistilBertForMaskedLM")}


def mask_probabilities(model: nn.Module, tokenizer, text: str) -> tuple[list[int], list[int], Tensor]:
    """(input ids, the [MASK] positions in order, p (M, V)): p[j] = softmax(logits) at the j-th [MASK] of `text`,
    from one forward pass in eval mode without gradients. The model's training mode and `masked_only` attribute
    are restored afterwards. Checks the model (an MLM head), the text (a str with a [MASK], within the model's
    positions) and raises TypeError / ValueError naming what it expected."""
    check_mlm_model(model)
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str or a list of str, got {type(text).__name__}")
    enc = tokenizer(text, return_tensors="pt")
    ids = enc["input_ids"][0].tolist()
    positions = [i for i, t in enumerate(ids) if t == tokenizer.mask_token_id]
    if not positions:
        raise ValueError(f"text: expected at least one {tokenizer.mask_token} to fill in, got {text!r}")
    most = model.config.max_position_embeddings
    if len(ids) > most:
        raise ValueError(f"text: {len(ids)} tokens ({tokenizer.cls_token} and {tokenizer.sep_token} included), "
                         f"longer than the model's {most} positions (config.max_position_embeddings); shorten it")
    was_training, masked_only = model.training, getattr(model, "masked_only", False)
    device = next(model.parameters()).device
    try:
        model.eval()
        model.masked_only = False                          # no labels are passed, but a caller may rely on it
        with torch.no_grad():
            out = model(**model_inputs(model, dict(enc), device), return_dict=True)
    finally:
        model.train(was_training)
        model.masked_only = masked_only
    logits = out.prediction_logits if hasattr(out, "prediction_logits") else out.logits   # (1, T, V)
    return ids, positions, logits[0, positions].float().softmax(-1)                       # (M, V)  p = softmax


def check_mlm_model(model: Any) -> None:
    """`model` must have our MLM head (`mlm_head`, a MaskedLMHead)."""
    if not isinstance(getattr(model, "mlm_head", None), MaskedLMHead):
        raise TypeError(f"model: expected a model with an MLM head (BertForMaskedLM, BertForPreTraining or "
                        f"DistilBertForMaskedLM), got {type(model).__name__}")


def check_top_k(top_k: Any, vocab_size: int, name: str = "top_k") -> None:
    """`top_k` must be an int in [1, vocab_size]."""
    if not isinstance(top_k, int) or isinstance(top_k, bool):
        raise TypeError(f"{name}: expected an int ≥ 1, got {type(top_k).__name__} {top_k!r}")
    if not 1 <= top_k <= vocab_size:
        raise ValueError(f"{name}: expected an int from 1 to the vocabulary size {vocab_size}, got {top_k}")


def fill_mask(model: nn.Module, tokenizer, text: str | Sequence[str], top_k: int = 5) -> list:
    """The `top_k` most probable tokens at each [MASK] of `text`, shaped as transformers' fill-mask pipeline:

    - one [MASK]: a list of `top_k` dicts {"score": p (float), "token": id (int), "token_str": str, "sequence": str},
      most probable first;
    - several [MASK]s: a list of such lists, one per [MASK] in the order they appear;
    - a list of texts: a list of those results, one per text (a list of one text gives that text's result alone,
      as the pipeline does).

    score = p_i[token] with p_i = softmax(logits_i) at that [MASK] (module docstring). token_str =
    `tokenizer.decode([token])` (a "##" piece keeps its "##"). sequence = the input ids with this [MASK] replaced by
    the token ([PAD] ids dropped), decoded: without special tokens for one [MASK]; with them ([CLS], [SEP] and the
    other [MASK]s kept) when there are several, exactly as the pipeline decodes. Our decode, like transformers' for
    a bert-base-chinese-style vocabulary, puts a space between tokens, so Chinese reads "中 国 的 首 都 是 北 京 。".
    Works with BertForMaskedLM, BertForPreTraining (its MLM logits) and DistilBertForMaskedLM; each text runs
    alone (no padding), as the pipeline runs them. Errors (TypeError / ValueError): no [MASK], top_k not an int in
    [1, vocab size], a text longer than the model's positions, a model without an MLM head."""
    check_mlm_model(model)
    check_top_k(top_k, model.config.vocab_size)
    if not isinstance(text, str):
        if not isinstance(text, Sequence):
            raise TypeError(f"text: expected a str or a list of str, got {type(text).__name__}")
        results = [fill_mask(model, tokenizer, t, top_k) for t in text]
        return results[0] if len(results) == 1 else results
    ids, positions, p = mask_probabilities(model, tokenizer, text)
    scores, tokens = p.topk(top_k)                                          # (M, k) each, most probable first
    single = len(positions) == 1
    result = []
    for where, row_scores, row_tokens in zip(positions, scores.tolist(), tokens.tolist()):
        row = []
        for score, token in zip(row_scores, row_tokens):
            filled = [token if i == where else t for i, t in enumerate(ids)]
            filled = [t for t in filled if t != tokenizer.pad_token_id]
            row.append({"score": score, "token": token, "token_str": tokenizer.decode([token]),
                        "sequence": tokenizer.decode(filled, skip_special_tokens=single)})
        result.append(row)
    return result[0] if single else result


def top_k(model: nn.Module, tokenizer, text: str, k: int = 5) -> list[tuple[str, float]]:
    """The k most probable tokens (vocabulary entries, "##" pieces as they are) and their probabilities at the
    first [MASK] of `text`: the short form `make demo` and the classroom benchmark print."""
    check_mlm_model(model)
    check_top_k(k, model.config.vocab_size, "k")
    _, _, p = mask_probabilities(model, tokenizer, text)
    values, ids = p[0].topk(k)
    return [(tokenizer.convert_ids_to_tokens(int(i)), float(v)) for v, i in zip(values, ids)]


# ---------------------------------------------------------------------------------------------------------- CLI
def load(folder: str) -> tuple[nn.Module, BertTokenizer]:
    """The MLM model in `folder` (config.json's model_type picks BertForMaskedLM or DistilBertForMaskedLM; a
    BertForPreTraining checkpoint gives BertForMaskedLM its MLM head) and the tokenizer of its vocab.txt."""
    if not os.path.isdir(folder):
        raise OSError(f"--model: {folder!r} is not a folder (expected one with config.json, model.safetensors and "
                      "vocab.txt, as python -m bert.pretrain writes)")
    for name in ("config.json", "vocab.txt"):
        if not os.path.isfile(os.path.join(folder, name)):
            raise OSError(f"--model: {folder!r} has no {name}; is it a model folder written by save_pretrained?")
    with open(os.path.join(folder, "config.json"), encoding="utf-8-sig") as f:
        model_type = json.load(f).get("model_type")
    if model_type not in MLM_CLASSES:
        raise ValueError(f"--model: config.json's model_type must be one of {sorted(MLM_CLASSES)}, got "
                         f"{model_type!r}")
    module, cls = MLM_CLASSES[model_type]
    model, info = getattr(importlib.import_module(module), cls).from_pretrained(folder, output_loading_info=True)
    if info["newly_initialized"]:
        raise ValueError(f"--model: {folder!r} has no MLM head (missing: {', '.join(info['newly_initialized'])}); "
                         "fill-in-the-blank needs a model pre-trained with masked LM")
    return model, BertTokenizer.from_pretrained(folder)


def width(s: str) -> int:
    """Columns `s` takes in a terminal: 2 for a wide (CJK) character, 1 otherwise."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def report(text: str, result: list, mask: str) -> list[str]:
    """The lines printed for one text: the text, then for each [MASK] its top-k, one token a line, aligned."""
    rows = [result] if result and isinstance(result[0], dict) else result
    lines = [text]
    for j, row in enumerate(rows, 1):
        lines.append(f"  {mask} {j} of {len(rows)}:" if len(rows) > 1 else f"  {mask}:")
        wide = max(width(r["token_str"]) for r in row)
        lines += [f"    {rank:>2}. {r['token_str']}{' ' * (wide - width(r['token_str']))}  {r['score']:.4f}"
                  for rank, r in enumerate(row, 1)]
    return lines


def text_parser(module: str, description: str, example: str, texts_help: str,
                model_help: str) -> argparse.ArgumentParser:
    """The parser of a `python -m bert.tools.MODULE --model DIR TEXT…` tool (fill_mask, predict)."""
    parser = argparse.ArgumentParser(prog=f"python -m bert.tools.{module}", description=description,
                                     epilog=f'example: python -m bert.tools.{module} --model {example}')
    parser.add_argument("texts", nargs="+", metavar="TEXT", help=texts_help)
    parser.add_argument("--model", required=True, metavar="DIR", help=model_help)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = text_parser("fill_mask", "Fill in the blank: the model's top-k tokens, with their probabilities, at "
                         "each [MASK].", 'runs/zh-bert "中国的首都是[MASK]京。"', "a text with one or several [MASK]",
                         "a folder with config.json, model.safetensors and vocab.txt (BERT or DistilBERT)")
    parser.add_argument("--top-k", type=int, default=5, metavar="K",
                        help="how many tokens to show per [MASK] (default 5)")
    return parser


def run(argv: list[str] | None = None) -> list[list]:
    """Parse, load, fill in every text and print; returns the results (one per text)."""
    args = build_parser().parse_args(argv)
    model, tokenizer = load(args.model)
    check_top_k(args.top_k, model.config.vocab_size, "--top-k")
    results = [fill_mask(model, tokenizer, text, args.top_k) for text in args.texts]   # all checked before printing
    for text, result in zip(args.texts, results):
        print("\n".join(report(text, result, tokenizer.mask_token)))
    return results


def main(argv: list[str] | None = None) -> list[list]:
    """The CLI: a bad argument, folder or text exits with status 2 and a one-line message (`run_cli`)."""
    return run_cli("bert.tools.fill_mask", run, argv, resumable=False)


if __name__ == "__main__":
    main()
