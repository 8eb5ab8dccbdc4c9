"""benchmarks/zh.py without training: the floors, the report, the full-length timing batches."""

from types import SimpleNamespace

import pytest

from benchmarks.zh import QUICK, floors, full_length_batches, markdown, section


def task(a: float, b: float, c: float, d: float, ratio: float) -> dict:
    row = {"seconds": 1.0, "cpu_seconds": 1.0}
    return {"pretrained": {"test": a, "dev": a, **row, "layers": 2, "parameters": 1000},
            "random_init": {"test": b, "dev": b, **row}, "bag_of_chars": {"test": c, "dev": c, "seconds": 1.0},
            "student": {"test": d, "dev": d, **row, "layers": 1, "teacher_layers": [0], "parameters": 800,
                        "share_of_pretrained_test": d / a},
            "student_time_ratio": ratio, "train_sentences": 10, "dev_sentences": 2, "test_sentences": 2,
            "timing": {"batch_size": 32, "max_length": 128, "batches": 2, "rounds": 2, "pretrained_ms": 40.0,
                       "student_ms": 20.0}}


def test_floors_follow_the_issue():
    r = {"sentiment": task(0.90, 0.80, 0.85, 0.88, 0.5), "ner": task(0.85, 0.60, 0.60, 0.80, 0.5)}
    f = floors(r)                                                             # NER student: 0.80 / 0.85 = 0.94
    assert f["sentiment: pretrained ≥ bag_of_chars (test)"] and f["ner: pretrained test F1 ≥ 0.80"]
    assert not f["ner: pretrained test F1 ≥ 0.88 (goal)"] and not f["ner: student ≥ 95% of pretrained (test)"]
    assert f["sentiment: student ≥ 95% of pretrained (test)"]                 # 0.88 / 0.90 = 0.978
    r["sentiment"]["student_time_ratio"] = 0.56
    assert not floors(r)["sentiment: student time ≤ 0.55×"]


def test_the_section_shows_the_table_and_what_was_tried_when_a_floor_fails():
    r = {"sentiment": task(0.90, 0.80, 0.85, 0.88, 0.5), "ner": task(0.85, 0.60, 0.60, 0.80, 0.5),
         "model": "runs/zh-bert", "budget": {**QUICK.__dict__}}
    r["floors"] = floors(r)
    table = markdown(r)
    assert "| sentiment (accuracy) | 90.00 / 90.00 | 80.00 / 80.00 | 85.00 / 85.00 | 88.00 / 88.00 | 97.8% | 0.500 |" \
        in table
    text = "\n".join(section(r, "how"))
    assert "what was tried (a floor that fails" in text and "bert-base-chinese" in text     # NER student: 94%
    r["floors"] = {"a floor": True, "ner: pretrained test F1 ≥ 0.88 (goal)": False}       # the goal is no floor
    assert "How the budget was found (pilot runs)." in "\n".join(section(r, "how"))
    assert "arg-max" not in table                                             # no arg-max scores: no such line
    for k, (t, d) in zip(("pretrained", "random_init", "bag_of_chars", "student"), ((.7, .75), (.6, .65), (.5, .55),
                                                                                  (.65, .7))):
        r["ner"][k].update(test_argmax=t, dev_argmax=d)
        r["ner"][k].update(test_bio=t + .05, dev_bio=d + .05)
    assert ("Read instead as BIO from the same logits, test / dev F1: pretrained 75.00 / 80.00, random_init 65.00 / "
            "70.00") in markdown(r)
    assert ("each character's arg-max (transformers' pipeline): pretrained 70.00 / 75.00, random_init "
            "60.00 / 65.00, bag_of_chars 50.00 / 55.00, student 65.00 / 70.00.") in markdown(r)


def test_timing_batches_are_full_length():
    data = SimpleNamespace(ids=[[2] + list(range(5, 5 + n)) + [3] for n in (50, 90, 120, 30)] * 40)
    batches = full_length_batches(data, QUICK, 128, pad_id=0, cls_id=2, sep_id=3)
    assert batches and all(b["input_ids"].shape == (32, 128) for b in batches)
    assert (batches[0]["input_ids"][:, 0] == 2).all() and (batches[0]["input_ids"][:, -1] == 3).all()
    assert batches[0]["attention_mask"].all()
    with pytest.raises(ValueError, match="too short"):
        full_length_batches(SimpleNamespace(ids=[[2, 5, 3]]), QUICK, 128, 0, 2, 3)
