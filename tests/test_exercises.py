"""The exercises (tests/exercises.py, `make exercise`, `make check EX=…`): each exercise's checks pass with our own
implementation plugged in and fail — naming the property, in Chinese and English — with a deliberately wrong
one (an edit of a student-style solution); the stubs match our signatures; copying never overwrites a student's file.

The checks run in-process (pytest.main), exactly as `make check` runs them: the project's own tests, with the
student's file loaded by path and put in place of our function."""

from __future__ import annotations

import contextlib
import inspect
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import Phase, settings

import tests.exercises as ex
from tests.exercises import EXERCISES, REPO, STUBS, copy_stubs, load_student_function, main, parse_option

pytest.importorskip("transformers")  # the parity checks compare with it

# Our implementations, plugged in through a file exactly as a student's would be (bound before anything is patched).
OURS = {
    "attention": "from bert.attention import scaled_dot_product_attention\n",
    "multi_head": "from bert.attention import MultiHeadAttention\nmulti_head_attention = MultiHeadAttention.forward\n",
    "position": "from bert.position import sinusoidal_table\n",
    "post_ln": "from bert.layers import EncoderBlock\nencoder_block = EncoderBlock.forward\n",
    "mlm_loss": "from bert.losses import mlm_loss\n",
    "masking": "from bert.pretraining.masking import mask_tokens\n",
    "soft_target": "from distil.losses import soft_target_loss\n",
}

# What a student might write: plain, without our argument checks. The wrong versions below are edits of these.
SOLUTIONS = {
    "attention": """
import math
import torch
import torch.nn.functional as F

def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, scale=None):
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    if attn_mask is not None:
        weights = weights.masked_fill(~attn_mask, 0.0)
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ value, weights
""",
    "multi_head": """
from bert.attention import scaled_dot_product_attention

def multi_head_attention(mha, hidden_states, attn_mask=None, output_attentions=False):
    B, T, C = hidden_states.shape
    H, D = mha.num_heads, mha.head_dim
    q, k, v = (lin(hidden_states).view(B, T, H, D).transpose(1, 2) for lin in (mha.query, mha.key, mha.value))
    out, weights = scaled_dot_product_attention(q, k, v, attn_mask, mha.dropout if mha.training else 0.0)
    out = out.transpose(1, 2).reshape(B, T, C)
    return mha.output(out), (weights if output_attentions else None)
""",
    "position": """
import torch

def sinusoidal_table(max_len, dim, base=10000.0):
    table = torch.zeros(max_len, dim, dtype=torch.float64)
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    for col in range(dim):
        two_i = col - col % 2
        angle = pos[:, 0] / base ** (two_i / dim)
        table[:, col] = torch.sin(angle) if col % 2 == 0 else torch.cos(angle)
    return table.float()
""",
    "post_ln": """
def encoder_block(block, x, attn_mask=None, output_attentions=False):
    a, weights = block.attention(x, attn_mask, output_attentions)
    x = block.attention_layer_norm(x + block.dropout(a))
    x = block.output_layer_norm(x + block.dropout(block.feed_forward(x)))
    return x, weights
""",
    "mlm_loss": """
import torch
import torch.nn.functional as F

def mlm_loss(logits, labels):
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    keep = labels != -100
    nll = F.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")
    return nll / keep.sum().clamp(min=1)
""",
    "masking": """
from bert.pretraining.masking import IGNORE_INDEX, KEEP, MASK, RANDOM, MaskedExample, candidate_groups, num_to_predict

def mask_tokens(ids, spec, rng, word_continues=None):
    groups = candidate_groups(ids, spec, word_continues)
    n_predict = num_to_predict(sum(len(g) for g in groups), spec)
    rng.shuffle(groups)
    inputs, labels, chosen = list(ids), [IGNORE_INDEX] * len(ids), {}
    for group in groups:
        if len(chosen) >= n_predict:
            break
        if len(chosen) + len(group) > n_predict:
            continue
        for i in group:
            r = rng.random()
            if r < spec.mask_token_prob:
                inputs[i], chosen[i] = spec.mask_id, MASK
            elif r < spec.mask_token_prob + spec.random_token_prob:
                inputs[i], chosen[i] = rng.choice(spec.random_ids), RANDOM
            else:
                chosen[i] = KEEP
            labels[i] = ids[i]
    positions = sorted(chosen)
    return MaskedExample(inputs, labels, positions, [chosen[i] for i in positions])
""",
    "soft_target": """
import torch.nn.functional as F

def soft_target_loss(student_logits, teacher_logits, temperature=2.0, mask=None):
    s, t = student_logits, teacher_logits.detach()
    if mask is not None:
        s, t = s[mask], t[mask]
    s, t = s.reshape(-1, s.shape[-1]), t.reshape(-1, t.shape[-1])
    log_p_s = F.log_softmax(s / temperature, dim=-1)
    log_p_t = F.log_softmax(t / temperature, dim=-1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1)
    return temperature ** 2 * kl.mean()
""",
}

# (exercise, what is wrong, the edit (old → new) of the solution, the check that must fail: its English text)
WRONG = [
    ("attention", "no 1/√d_k scale", ("1.0 / math.sqrt(query.shape[-1])", "1.0"),
     "output and weights equal the formula computed in float64 numpy"),
    ("attention", "a flipped mask", ("scores = scores.masked_fill(~attn_mask", "scores = scores.masked_fill(attn_mask"),
     "output and weights equal the formula computed in float64 numpy"),
    ("multi_head", "heads merged without transposing back", ("out.transpose(1, 2).reshape", "out.reshape"),
     "MultiHead = Concat(head_1 … head_H) · Wᴼ, each head on its own"),
    ("position", "sin and cos swapped", ("torch.sin(angle) if col % 2 == 0 else torch.cos(angle)",
                                         "torch.cos(angle) if col % 2 == 0 else torch.sin(angle)"),
     "entry by entry PE(pos,2i) = sin(pos/10000^(2i/d)), PE(pos,2i+1) = cos(…)"),
    ("position", "exponent i/d instead of 2i/d", ("two_i / dim", "(two_i // 2) / dim"),
     "entry by entry PE(pos,2i) = sin(pos/10000^(2i/d)), PE(pos,2i+1) = cos(…)"),
    ("post_ln", "pre-LN instead of post-LN",
     ("""    a, weights = block.attention(x, attn_mask, output_attentions)
    x = block.attention_layer_norm(x + block.dropout(a))
    x = block.output_layer_norm(x + block.dropout(block.feed_forward(x)))""",
      """    a, weights = block.attention(block.attention_layer_norm(x), attn_mask, output_attentions)
    x = x + block.dropout(a)
    x = x + block.dropout(block.feed_forward(block.output_layer_norm(x)))"""),
     "x = LN(x + MHA(x)), then x = LN(x + FFN(x))"),
    ("mlm_loss", "the loss over all positions", ("labels, ignore_index=-100", "labels.clamp(min=0), ignore_index=-100"),
     "a hand-computed example: the mean over the positions whose label is not −100"),
    ("mlm_loss", "a plain mean: 0/0 = NaN when nothing is masked", ("keep.sum().clamp(min=1)", "keep.sum()"),
     "nothing masked gives exactly 0 (not 0/0 = NaN) and a zero gradient"),
    ("masking", "labels at every position", ("[IGNORE_INDEX] * len(ids)", "list(ids)"),
     "the label is always the original token; unchosen positions get −100 and keep their input; "
     "special tokens are never chosen"),
    ("masking", "10% [MASK] / 80% random", ("if r < spec.mask_token_prob:", "if r < spec.random_token_prob:"),
     "of the chosen positions 80% become [MASK], 10% a random token, 10% stay unchanged"),
    ("soft_target", "no T² factor", ("temperature ** 2 * kl.mean()", "kl.mean()"),
     "a hand-computed example: T²·KL(softmax(t/T) ‖ softmax(s/T))"),
    ("soft_target", "KL the wrong way round", ("(log_p_t.exp() * (log_p_t - log_p_s))",
                                               "(log_p_s.exp() * (log_p_s - log_p_t))"),
     "a hand-computed example: T²·KL(softmax(t/T) ‖ softmax(s/T))"),
]


@dataclass
class Run:
    ret: int
    out: str

    def has(self, text: str) -> bool:
        return text in self.out


# A wrong version only has to fail: no shrinking of hypothesis' failing example, and nothing saved to its database.
settings.register_profile("exercise-wrong", phases=[Phase.explicit, Phase.generate], database=None)


def _check(tmp_path: Path, name: str, source: str, *args: str) -> Run:
    """`make check EX=name` on a file holding `source`, in this process: pytest.main with the same options.
    (Not pytester: it would unload the modules the nested run imported, and torch cannot import some twice.)
    Hypothesis' profile, which a nested `--hypothesis-profile` changes for the whole process, is put back."""
    path = tmp_path / f"{name}_student.py"
    path.write_text(source, encoding="utf-8")
    out, profile = io.StringIO(), settings.get_current_profile_name()
    try:
        with contextlib.redirect_stdout(out):
            ret = pytest.main([str(REPO / "tests"), f"--exercise={name}={path}", "-q", "-p", "no:cacheprovider",
                               "--capture=sys", f"--basetemp={tmp_path / 'basetemp'}", *args])
    finally:
        settings.load_profile(profile)
    return Run(int(ret), out.getvalue())


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_check_passes_with_our_implementation_plugged_in(tmp_path, name):
    result = _check(tmp_path, name, OURS[name])
    n = len(EXERCISES[name].checks)
    assert result.ret == 0, result.out[-3000:]
    assert result.has(f"{n} / {n} 项通过 / checks passed — 全部通过！/ all passed!") and not result.has("✗")


@pytest.mark.parametrize("name, what, edit, property_en", WRONG, ids=[f"{w[0]}: {w[1]}" for w in WRONG])
def test_a_deliberately_wrong_version_fails_and_the_message_names_the_property(tmp_path, name, what, edit,
                                                                                 property_en):
    old, new = edit
    assert SOLUTIONS[name].count(old) == 1, f"the edit for {what!r} does not apply"
    result = _check(tmp_path, name, SOLUTIONS[name].replace(old, new), "-x", "--hypothesis-profile=exercise-wrong")
    assert result.ret == 1, result.out[-3000:]
    check = next(c for c in EXERCISES[name].checks if c.en == property_en)
    assert result.has(f"✗ {check.zh} / {check.en}\n      提示 / hint: {check.hint}"), result.out[-3000:]
    assert result.has(f"没有通过的性质 / property that failed: {check.zh} / {check.en}")


def test_the_stub_itself_fails_saying_it_is_still_the_stub(tmp_path):
    result = _check(tmp_path, "soft_target", (STUBS / "soft_target.py").read_text(encoding="utf-8"), "-x")
    assert result.ret == 1 and result.has("your function is still the stub"), result.out[-3000:]


# ---------------------------------------------------------------- the stubs, the option, `make exercise`
OUR_FUNCTIONS = {"attention": "bert.attention:scaled_dot_product_attention",
                 "multi_head": "bert.attention:MultiHeadAttention.forward", "position": "bert.position:sinusoidal_table",
                 "post_ln": "bert.layers:EncoderBlock.forward", "mlm_loss": "bert.losses:mlm_loss",
                 "masking": "bert.pretraining.masking:mask_tokens", "soft_target": "distil.losses:soft_target_loss"}


def _ours(name: str):
    import importlib
    module, _, attr = OUR_FUNCTIONS[name].partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("name", list(EXERCISES))
def test_each_stub_has_our_signature_a_formula_and_raises_not_implemented(name):
    fn = load_student_function(EXERCISES[name], STUBS / f"{name}.py")
    ours = inspect.signature(_ours(name))
    mine = inspect.signature(fn)
    skip = 1 if name in ("multi_head", "post_ln") else 0                  # `self` is called mha / block there
    assert [(p.name, p.default) for p in list(mine.parameters.values())[skip:]] == \
        [(p.name, p.default) for p in list(ours.parameters.values())[skip:]]
    assert fn.__doc__ and "make check EX=" + name in fn.__globals__["__doc__"]     # the module docstring
    with pytest.raises(NotImplementedError, match=f"练习 {name}"):
        fn(*[None] * len(mine.parameters))


def test_option_names_the_exercise_and_the_file():
    assert parse_option("attention") == (EXERCISES["attention"], ex.WORK / "attention.py")
    assert parse_option("masking=/tmp/x.py")[1].as_posix() == "/tmp/x.py"
    with pytest.raises(pytest.UsageError, match=r"--exercise must name one of attention, .*got 'atention'"):
        parse_option("atention")


def test_a_missing_or_broken_student_file_is_a_one_line_usage_error(tmp_path):
    with pytest.raises(pytest.UsageError, match=r"no file .*nothing\.py \(run `make exercise`"):
        load_student_function(EXERCISES["position"], tmp_path / "nothing.py")
    (tmp_path / "bad.py").write_text("def sinusoidal_table(:\n")
    with pytest.raises(pytest.UsageError, match=r"bad\.py does not import: SyntaxError"):
        load_student_function(EXERCISES["position"], tmp_path / "bad.py")
    (tmp_path / "other.py").write_text("def table(): pass\n")
    with pytest.raises(pytest.UsageError, match=r"must define a function `sinusoidal_table`, got NoneType"):
        load_student_function(EXERCISES["position"], tmp_path / "other.py")


@pytest.mark.parametrize("call", ["exit()", "import sys; sys.exit(3)", "raise SystemExit"])
def test_a_student_file_that_exits_on_import_is_a_one_line_usage_error(tmp_path, call):
    """Issue 30: `exit()` at the top of the file printed 25 lines of pytest INTERNALERROR."""
    (tmp_path / "quits.py").write_text(f"{call}\ndef sinusoidal_table(max_len, dim, base=10000.0): pass\n")
    with pytest.raises(pytest.UsageError, match=r"quits\.py does not import: it calls exit\(\) or sys\.exit"):
        load_student_function(EXERCISES["position"], tmp_path / "quits.py")


def test_a_student_function_that_exits_fails_its_checks_not_the_session(tmp_path):
    result = _check(tmp_path, "soft_target", "import sys\n\ndef soft_target_loss(*args, **kwargs):\n    sys.exit(0)\n",
                    "-x")
    assert result.ret == 1 and "INTERNALERROR" not in result.out, result.out[-3000:]
    assert result.has("✗") and result.has("SystemExit"), result.out[-3000:]


def test_copying_the_stubs_never_overwrites_a_students_file(tmp_path):
    work = tmp_path / "work"
    assert copy_stubs(work) == [(name, "copied") for name in EXERCISES]
    assert (work / "attention.py").read_text() == (STUBS / "attention.py").read_text()
    (work / "attention.py").write_text("# my work\n")
    (work / "position.py").unlink()
    status = dict(copy_stubs(work))
    assert status["attention"] == "kept" and status["position"] == "copied" and status["masking"] == "kept"
    assert (work / "attention.py").read_text() == "# my work\n"
    assert sorted(p.name for p in work.iterdir()) == sorted(f"{n}.py" for n in EXERCISES)   # no temp file left


def test_make_exercise_lists_every_exercise(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name, e in EXERCISES.items():
        assert name in out and e.zh in out and e.function in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--bogus"])
    assert exit_info.value.code == 2


def test_the_working_folder_is_git_ignored():
    assert "notebooks/exercises/work/" in (REPO / ".gitignore").read_text().splitlines()
