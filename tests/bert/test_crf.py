"""The linear-chain CRF (bert/crf.py) against brute force over every tag sequence: log Z, −log p(gold), decoding."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.crf import CRF
from bert.viterbi import bio_viterbi

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def valid(tags):
    """BIO by its definition: an I-X only right after B-X or I-X."""
    return all(not t.startswith("I-") or (i > 0 and tags[i - 1][2:] == t[2:] and tags[i - 1] != "O")
               for i, t in enumerate(tags))


def random_crf(seed):
    crf = CRF(LABELS)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in (crf.transitions, crf.start, crf.end):
            p.copy_(torch.randn(p.shape, generator=g))
    return crf


def score(crf, emissions, tags):
    """The sequence score by its definition, term by term."""
    y = [LABELS.index(t) for t in tags]
    A, s, f = (p.detach() for p in (crf.transitions, crf.start, crf.end))
    return (float(s[y[0]]) + sum(float(emissions[t, j]) for t, j in enumerate(y))
            + sum(float(A[i, j]) for i, j in zip(y, y[1:])) + float(f[y[-1]]))


def valid_sequences(length):
    return [seq for seq in itertools.product(LABELS, repeat=length) if valid(seq)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 2**31 - 1))
def test_log_partition_and_nll_equal_brute_force_over_the_valid_sequences(lengths, seed):
    crf = random_crf(seed)
    T = max(lengths)
    emissions = torch.randn(len(lengths), T, len(LABELS), generator=torch.Generator().manual_seed(seed + 1))
    mask = torch.tensor([[t < n for t in range(T)] for n in lengths])
    log_z = crf.log_partition(emissions, mask)
    gold = torch.zeros(len(lengths), T, dtype=torch.long)
    total_nll = 0.0
    for b, n in enumerate(lengths):
        seqs = valid_sequences(n)
        scores = [score(crf, emissions[b], seq) for seq in seqs]
        brute = math.log(sum(math.exp(s) for s in scores))
        assert math.isclose(log_z[b].item(), brute, abs_tol=1e-4)
        pick = seqs[(seed + b) % len(seqs)]                           # any valid sequence as the gold one
        gold[b, :n] = torch.tensor([LABELS.index(t) for t in pick])
        total_nll += brute - score(crf, emissions[b], pick)              # −log p(gold) = log Z − score(gold)
    nll = crf.nll(emissions, gold, mask)
    assert math.isclose(nll.item(), total_nll / sum(lengths), abs_tol=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_decode_is_the_best_valid_sequence_by_brute_force(length, seed):
    crf = random_crf(seed)
    emissions = torch.randn(length, len(LABELS), generator=torch.Generator().manual_seed(seed + 1))
    tags = crf.decode(emissions)
    assert valid(tags) and len(tags) == length
    best = max(score(crf, emissions, seq) for seq in valid_sequences(length))
    assert math.isclose(score(crf, emissions, tags), best, abs_tol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_with_every_learned_score_zero_it_decodes_as_bio_viterbi(length, seed):
    log_probs = torch.randn(length, len(LABELS), generator=torch.Generator().manual_seed(seed)).log_softmax(-1)
    assert CRF(LABELS).decode(log_probs) == bio_viterbi(log_probs, LABELS)


def test_the_probabilities_of_all_valid_sequences_sum_to_one_and_training_learns_a_transition():
    crf = random_crf(0)
    emissions = torch.zeros(1, 3, len(LABELS))                         # the words say nothing: only A, s, f speak
    mask = torch.ones(1, 3, dtype=torch.bool)
    seqs = valid_sequences(3)
    total = sum(math.exp(-crf.nll(emissions, torch.tensor([[LABELS.index(t) for t in s]]), mask).item() * 3)
                for s in seqs)
    assert math.isclose(total, 1.0, rel_tol=1e-4)
    # gold "B-PER I-PER O" every time: after some Adam steps the CRF alone decodes it from empty emissions
    gold = torch.tensor([[3, 4, 0]])
    opt = torch.optim.Adam(crf.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        loss = crf.nll(emissions, gold, mask)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in crf.parameters())   # FORBIDDEN is finite: no NaN
        opt.step()
    assert crf.decode(emissions[0]) == ["B-PER", "I-PER", "O"]
    assert crf.nll(emissions, gold, mask).item() < 0.05


def test_bad_shapes_and_masks_are_named():
    crf = CRF(LABELS)
    with pytest.raises(ValueError, match="emissions: expected"):
        crf.log_partition(torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask: expected a bool tensor"):
        crf.log_partition(torch.zeros(2, 3, 5), torch.ones(2, 3))
    with pytest.raises(ValueError, match="its words first"):
        crf.log_partition(torch.zeros(1, 3, 5), torch.tensor([[True, False, True]]))


def test_a_bert_crf_tagger_trains_on_whole_sentences_and_decode_crf_needs_one():
    """BertCrfForTokenClassification: its loss is the CRF's on the words (labels ≠ −100, here [CLS]/[SEP] and a
    later piece), equal to `nll` on the packed emissions; decode="crf" reads with it, and refuses a plain tagger."""
    from bert import BertConfig, BertCrfForTokenClassification, BertForTokenClassification
    from bert.crf import word_emissions
    from bert.ner import decode_tags

    config = BertConfig.preset("tiny", vocab_size=50, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)))
    torch.manual_seed(0)
    model = BertCrfForTokenClassification(config)
    ids = torch.randint(5, 50, (2, 6))
    labels = torch.tensor([[-100, 1, 2, -100, 0, -100], [-100, 3, -100, -100, -100, -100]])
    out = model(input_ids=ids, labels=labels)
    emissions, tags, mask = word_emissions(out.logits, labels)
    assert tags.tolist() == [[1, 2, 0], [3, 0, 0]] and mask.tolist() == [[True] * 3, [True, False, False]]
    assert torch.equal(emissions[0], out.logits[0, [1, 2, 4]]) and torch.equal(emissions[1, 0], out.logits[1, 1])
    assert torch.allclose(out.loss, model.crf.nll(emissions, tags, mask))
    log_probs = out.logits[0, [1, 2, 4]].log_softmax(-1).detach()
    assert decode_tags(log_probs, LABELS, "crf", model.crf) == model.crf.decode(log_probs)
    with pytest.raises(ValueError, match="needs a BertCrfForTokenClassification"):
        decode_tags(log_probs, LABELS, "crf")
    with pytest.raises(ValueError, match="config.id2label must name BIO tags"):
        BertCrfForTokenClassification(BertConfig.preset("tiny", vocab_size=50, num_labels=3))
    assert isinstance(model, BertForTokenClassification)            # everything a tagger does, it does


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 5), seed=st.integers(0, 10_000), shift=st.floats(-5, 5))
def test_a_per_word_shift_changes_neither_decode_nor_the_nll(length, seed, shift):
    """bert.ner.decode_tags's claim: the per-word log-softmax subtracts one number per word from every tag's score,
    which shifts every sequence's score by the same sum, so p(y | x) — the NLL and the best sequence — is unchanged:
    decoding log-probabilities is decoding the logits."""
    crf = random_crf(seed)
    g = torch.Generator().manual_seed(seed + 1)
    logits = torch.randn(length, len(LABELS), generator=g) * 3
    per_word = torch.randn(length, 1, generator=g) * shift                 # any number per word, as −logsumexp is
    mask = torch.ones(1, length, dtype=torch.bool)
    seqs = valid_sequences(length)                                          # a gold sequence BIO allows
    tags = torch.tensor([[LABELS.index(t) for t in seqs[seed % len(seqs)]]])
    for shifted in (logits.log_softmax(-1), logits + per_word):
        assert crf.decode(shifted) == crf.decode(logits)
        assert crf.nll(shifted[None], tags, mask).item() == pytest.approx(crf.nll(logits[None], tags, mask).item(),
                                                                          abs=1e-4)
