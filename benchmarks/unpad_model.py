"""The unpadded encoder on real batches: ours unpadded vs ours padded vs transformers' BertModel (sdpa).

`python -m benchmarks --only unpad-model` (this module; `padding` and `unpad` are the attention-only benchmarks).
A padded batch spends every projection, feed-forward layer and LayerNorm on its [PAD] positions; the unpadded path
(bert/unpad.py) gathers the real tokens into (N, C) after the embeddings and pays for those only. Timed here on

  - SST-2 dev in file order, batch 32, max length 128, padded to the longest row (what `pad_batch` gives);
  - CoNLL-2003 dev (valid.txt; test.txt where valid.txt is absent, said in the table), batch 32, file order;
  - a sweep of the padding share, 0 / 25 / 50 / 75% of a (B, T = 128) batch: one full row, the others equally long.

Each on MiniLM's shape (6 layers, 384 wide, 12 heads, 1536) and BERT-base's (12 layers, 768, 12, 3072), randomly
initialised, transformers' twin holding the same weights (`benchmarks.model.transformers_twin`; the real tokens'
outputs checked equal before timing). Two passes: forward in eval mode under no_grad, and forward + backward in
train mode (dropout on) — the training step without the optimizer. The three run interleaved, round after round,
each round on the next batch (bert/tools/timing.py `interleaved`); medians and per-round ratios are reported.
"ours unpadded" is `unpad="always"` (so at 0% padding it is the forced unpadded path), "ours padded" `unpad="never"`.

Floors (issue 29): on the SST-2 dev batches, inference ≤ 0.60× transformers' time and a training step ≤ 0.70×; at 0%
padding the forced unpadded path ≤ 1.02× the padded path. The raw results go to docs/unpad_model.json (notebook 06
plots the speed-up against the padding share from it).

    python -m benchmarks --only unpad-model              # MiniLM: the first 12 SST-2 / 12 CoNLL batches, sweep B=16
                                                         # (6 rounds); BERT-base: 4 / 4 batches, sweep B=4 (4 rounds)
    python -m benchmarks --only unpad-model --quick      # MiniLM's shape only, 2 batches a set (a smoke run)
"""

from __future__ import annotations

import os

import torch

from bert import BertConfig, BertModel
from bert.finetune import read_tsv
from bert.ner import TokenClassificationData, label_list, read_conll
from bert.tools.timing import interleaved, medians, ratios, synchronizer
from bert.training import pad_batch
from bert.unpad import Unpadding
from distil.sentiment import default_teacher_dir
from tokenization import BertTokenizer
from tokenization.files import write_json

from .model import transformers_twin
from .report import command, doc_path, machine, write_section

SHAPES = {"MiniLM": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
          "BERT-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072)}
SHARES = (0.0, 0.25, 0.5, 0.75)
PATHS = ("unpadded", "padded", "transformers")


def sst2_batches(data: str, tok, count: int, batch: int = 32) -> list[dict]:
    """The first `count` batches of SST-2 dev in file order, tokenized (max 128) and padded to the longest row."""
    texts = read_tsv(os.path.join(data, "sst2", "dev.tsv")).sentences
    return [dict(tok(texts[i:i + batch], padding=True, truncation=True, max_length=128, return_tensors="pt"))
            for i in range(0, min(len(texts), count * batch), batch)]


def conll_batches(data: str, tok, count: int, batch: int = 32) -> tuple[list[dict], str]:
    """The first `count` batches of CoNLL-2003 dev (valid.txt, or test.txt where it is absent), file order."""
    root = os.path.join(data, "conll2003")
    split = "valid" if os.path.isfile(os.path.join(root, "valid.txt")) else "test"
    table = read_conll(os.path.join(root, f"{split}.txt"), limit=count * batch)
    ids = TokenClassificationData(table, tok, label_list(table.tags), 128).ids
    batches = [pad_batch([{"input_ids": row} for row in ids[i:i + batch]], tok.pad_token_id)
               for i in range(0, len(ids), batch)]
    return batches, split


def swept_batch(share: float, B: int, T: int = 128, seed: int = 0) -> dict:
    """(B, T) random ids with `share` of the positions padding: row 0 full, the others equally long."""
    g = torch.Generator().manual_seed(seed)
    others = max(1, round(((1 - share) * B * T - T) / (B - 1)))
    lengths = torch.tensor([T] + [min(T, others)] * (B - 1))
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    return dict(input_ids=torch.randint(1000, 30522, (B, T), generator=g) * mask, attention_mask=mask)


def padding_share(batches: list[dict]) -> float:
    masks = [b["attention_mask"] for b in batches]
    return 1 - sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks)


def contenders(ours: BertModel, theirs, train: bool) -> dict:
    """{path: fn(batch)}: ours with the unpadded path forced or the padded one, and transformers'."""
    def call(model, batch, mode=None):
        if mode is not None:
            ours.unpadding = Unpadding(mode)
        if not train:
            with torch.no_grad():
                return model(**batch)
        model.zero_grad(set_to_none=True)
        out = model(**batch)
        (out.last_hidden_state.square().mean() + out.pooler_output.sum()).backward()

    return {"unpadded": lambda b: call(ours, b, "always"), "padded": lambda b: call(ours, b, "never"),
            "transformers": lambda b: call(theirs, b)}


def check_same(ours: BertModel, theirs, batch: dict) -> float:
    """Largest |ours unpadded − transformers| over the real tokens (eval, forward)."""
    ours.eval(), theirs.eval()
    ours.unpadding = Unpadding("always")
    with torch.no_grad():
        a, b = ours(**batch).last_hidden_state, theirs(**batch).last_hidden_state
    diff = (a - b)[batch["attention_mask"].bool()].abs().max().item()
    assert diff < 1e-4, f"unpadded and transformers disagree by {diff}"
    return diff


def measure(ours, theirs, batches: list[dict], repeats: int, device: str) -> dict:
    """Both passes on `batches` (round r uses batch r mod len): medians (s) and ratios."""
    out = {"share": padding_share(batches), "batches": len(batches)}
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    out["max_diff"] = check_same(ours, theirs, batches[0])
    for name, train in (("forward", False), ("train", True)):
        ours.train(train), theirs.train(train)
        t = interleaved(contenders(ours, theirs, train), repeats, warmup=1, inputs=batches,
                        sync=synchronizer(device))
        to_hf, to_padded = ratios(t, base="transformers"), ratios(t, base="padded")
        out[name] = {"ms": {k: v * 1e3 for k, v in medians(t).items()}, "vs_transformers": to_hf,
                     "unpadded_vs_padded": to_padded["unpadded"]}
        print(f"    {name}: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in medians(t).items())
              + f"; unpadded/transformers {to_hf['unpadded']:.3f}×, unpadded/padded {to_padded['unpadded']:.3f}×",
              flush=True)
    return out


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    """Measure and write the "unpad-model" section of docs/benchmarks.md and docs/unpad_model.json."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = BertTokenizer.from_pretrained(default_teacher_dir(), backend="fast")
    shapes = ("MiniLM",) if quick else tuple(SHAPES)
    plan = {"MiniLM": (2, 2, 16, 2) if quick else (12, 12, 16, 6),   # SST-2 and CoNLL rounds; sweep B and rounds
            "BERT-base": (4, 4, 4, 4)}
    results = {"machine": machine(), "command": command(), "device": device, "quick": quick, "shapes": {}}
    for shape in shapes:
        torch.manual_seed(0)
        ours = BertModel(BertConfig(**SHAPES[shape])).to(device)
        theirs = transformers_twin(ours, "BertModel", allowed_missing=("position_ids", "token_type_ids"))
        rounds, conll_rounds, sweep_batch, sweep_rounds = plan[shape]
        sets = {}
        if data is not None:
            print(f"  {shape}: SST-2 dev", flush=True)
            sets["SST-2 dev"] = measure(ours, theirs, sst2_batches(data, tok, rounds), rounds, device)
            conll, split = conll_batches(data, tok, conll_rounds)
            print(f"  {shape}: CoNLL-2003 {split}", flush=True)
            sets[f"CoNLL-2003 {'dev' if split == 'valid' else 'test (valid.txt absent)'}"] = measure(
                ours, theirs, conll, conll_rounds, device)
        for share in SHARES:
            print(f"  {shape}: {share:.0%} padding, B={sweep_batch}, T=128", flush=True)
            sets[f"sweep {share:.0%}"] = measure(ours, theirs, [swept_batch(share, sweep_batch)], sweep_rounds,
                                                 device)
        results["shapes"][shape] = sets
        del ours, theirs
    write_json(doc_path("unpad_model.json", quick), results)     # the raw results first: a report bug loses nothing
    markdown = report(results)
    print(markdown)
    write_section("unpad-model", markdown, device=device, quick=quick)


def report(r: dict) -> str:
    """The docs/benchmarks.md section: one row per shape, set and pass, then the floors."""
    lines = [f"### Unpadded encoder on real batches: ours unpadded vs ours padded vs transformers (sdpa)\n\n"
             f"`{r['command']}`{' (quick)' if r['quick'] and '--quick' not in r['command'] else ''} on "
             f"{r['machine']}; device {r['device']}, fp32; paths, sets and passes as in `benchmarks/unpad_model.py`; "
             "median ms over interleaved rounds (round r on batch r), × = median per-round ratio. Forward: eval, "
             "no_grad; train: forward + backward, dropout on. Max diff: |unpadded − transformers| over real tokens.\n",
             "| shape | set | padding | pass | unpadded ms | padded ms | transformers ms | unpadded / transformers "
             "| padded / transformers | unpadded / padded | max diff |",
             "|:---|:---|---:|:---|---:|---:|---:|---:|---:|---:|---:|"]
    for shape, sets in r["shapes"].items():
        for name, s in sets.items():
            for p in ("forward", "train"):
                ms, x = s[p]["ms"], s[p]["vs_transformers"]
                lines.append(f"| {shape} | {name} ({s['batches']} batch{'es' if s['batches'] > 1 else ''}) | "
                             f"{s['share']:.0%} | {p} | {ms['unpadded']:.1f} | {ms['padded']:.1f} | "
                             f"{ms['transformers']:.1f} | **{x['unpadded']:.3f}×** | {x['padded']:.3f}× | "
                             f"{s[p]['unpadded_vs_padded']:.3f}× | {s['max_diff']:.1e} |")
    lines += ["", "Floors (issue 29): " + "; ".join(floors(r)) + "."]
    return "\n".join(lines)


def floors(r: dict) -> list[str]:
    """Each floor with its measured value and whether it holds."""
    out = []
    for shape, sets in r["shapes"].items():
        checks = []
        if "SST-2 dev" in sets:
            s = sets["SST-2 dev"]
            checks += [("SST-2 dev inference vs transformers", s["forward"]["vs_transformers"]["unpadded"], 0.60),
                       ("SST-2 dev training step vs transformers", s["train"]["vs_transformers"]["unpadded"], 0.70)]
        zero = sets["sweep 0%"]
        checks += [(f"0% padding, forced unpadded vs padded ({p})", zero[p]["unpadded_vs_padded"], 1.02)
                   for p in ("forward", "train")]
        out += [f"{shape} {what} {v:.3f}× ≤ {most:.2f}× {'holds' if v <= most else 'MISSED'}"
                for what, v, most in checks]
    return out
