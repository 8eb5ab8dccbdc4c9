"""bert.bag_of_chars: the features, logistic regression as W·x + b, and two toy tasks learned deterministically."""

import pytest
import torch

from bert.bag_of_chars import (BagOfCharsClassifier, BagOfCharsTagger, FeatureVocab, LogisticRegression, char_ngrams,
                               flat, logistic_gradient, scores, train_logistic, window_features)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_char_ngrams_are_unigrams_and_bigrams():
    assert char_ngrams("很好吃") == ["U:很", "U:好", "U:吃", "B:很好", "B:好吃"]
    assert char_ngrams("") == [] and char_ngrams("好") == ["U:好"]


def test_window_features_carry_their_offsets_and_pad_the_ends():
    f = window_features(list("北京市"), 0, width=1)
    assert f == ["U-1:<s>", "U0:北", "U1:京", "B-1:<s>北", "B0:北京"]
    assert window_features(list("北京市"), 2, width=1)[-1] == "B0:市</s>"
    assert len(window_features(list("一二三四五"), 2)) == 5 + 4


def test_feature_vocab_keeps_features_seen_often_enough_in_a_fixed_order():
    v = FeatureVocab([["b", "a"], ["a", "c"], ["a", "b"]], min_count=2)
    assert v.index == {"a": 0, "b": 1} and sorted(v.encode(["b", "z", "a"])) == [0, 1]
    with pytest.raises(ValueError, match="min_count: expected an int ≥ 1"):
        FeatureVocab([], 0)


def test_logistic_regression_is_w_x_plus_b():
    torch.manual_seed(0)
    m = LogisticRegression(5, 3)
    with torch.no_grad():
        m.weight.weight.normal_()
        m.bias.normal_()
    rows = [[0, 3], [], [4]]
    x = torch.zeros(3, 5)
    for r, ids in enumerate(rows):
        x[r, ids] = 1
    expected = x @ m.weight.weight + m.bias                                   # z = W·x + b
    assert torch.allclose(scores(m, rows), expected, atol=1e-6)
    ids, offsets = flat(rows)
    assert ids.tolist() == [0, 3, 4] and offsets.tolist() == [0, 2, 2]
    with pytest.raises(ValueError, match="equal, non-zero lengths"):
        train_logistic([[0]], [0, 1], 1, 2)


POSITIVE = ["很好", "非常好", "好用", "喜欢", "很喜欢", "满意", "很满意", "不错", "真不错", "好看"]
NEGATIVE = ["很差", "非常差", "难用", "讨厌", "很讨厌", "失望", "很失望", "太差", "真差", "难看"]


def test_the_classifier_learns_a_toy_task_and_is_deterministic():
    texts = [f"{t}{suffix}" for t in POSITIVE + NEGATIVE for suffix in ("", "。", "！")]
    labels = [1] * 30 + [0] * 30
    a = BagOfCharsClassifier(min_count=1, epochs=20, lr=0.1, batch_size=8).fit(texts, labels)
    b = BagOfCharsClassifier(min_count=1, epochs=20, lr=0.1, batch_size=8).fit(texts, labels)
    assert a.predict(["非常满意", "非常失望"]) == [1, 0]
    p = a.probabilities(["好"])
    assert torch.allclose(p.sum(-1), torch.ones(1)) and torch.equal(a.model.weight.weight, b.model.weight.weight)


def test_the_tagger_learns_names_from_their_context():
    sentences, tags = [], []
    for name in ("张三", "李四", "王五", "赵六"):
        for city in ("北京", "上海", "广州"):
            sentences.append(list(f"{name}去{city}了"))
            tags.append(["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"])
    tagger = BagOfCharsTagger(width=1, min_count=1, epochs=30, lr=0.1, batch_size=16).fit(sentences, tags)
    assert tagger.labels == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    assert tagger.predict([list("张三去上海了")]) == [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]]
    assert tagger.predict([list("张三去上海了")], decode="bio") == [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]]
    assert tagger.predict([]) == []


def test_logistic_gradient_is_autograds_gradient_of_the_mean_cross_entropy():
    """The formula (softmax(z) − onehot(y)) / B, summed into W's rows of each row's features (a feature twice in a row
    counts twice), against torch's own gradient of F.cross_entropy on a dense copy of the same model."""
    torch.manual_seed(0)
    model = LogisticRegression(6, 3)
    torch.nn.init.normal_(model.weight.weight)
    torch.nn.init.normal_(model.bias)
    rows, y = [[0, 2], [2, 2, 5], [], [1]], torch.tensor([2, 0, 1, 1])
    grad_w, grad_b = logistic_gradient(model, rows, y)
    w = model.weight.weight.detach().clone().requires_grad_(True)
    b = model.bias.detach().clone().requires_grad_(True)
    z = torch.stack([w[r].sum(0) if r else torch.zeros(3) for r in rows]) + b
    ref_w, ref_b = torch.autograd.grad(torch.nn.functional.cross_entropy(z, y), (w, b))
    torch.testing.assert_close(grad_w.to_dense(), ref_w)
    torch.testing.assert_close(grad_b, ref_b)
    assert grad_w.to_dense()[[3, 4]].abs().sum() == 0            # features in no row: no gradient
