"""CUDA tests (marked `gpu`; `make test-gpu` runs them, and they skip without CUDA): the three attention paths of
bert/attention.py and the unpadded path of benchmarks/unpad.py give one answer in fp32 / fp16 / bf16, the fused
path really runs PyTorch's fused kernels, fully padded rows stay finite, and BertForPreTraining under bf16
autocast stays close to fp32.

The truth for every comparison is the reference formula evaluated in float64, on the same device, from the *same
rounded inputs* (q, k, v and the upstream gradient are drawn, rounded to the dtype under test, then widened), so
what is measured is the error of the computation, not of the rounding of the inputs. Errors are relative in
the Frobenius norm over the real (unpadded) query rows, ‖x − truth‖ / ‖truth‖, which does not blow up on entries
that happen to be near 0. Tolerances (u = unit roundoff: fp32 2⁻²⁴ ≈ 6e-8, fp16 2⁻¹¹ ≈ 4.9e-4, bf16 2⁻⁸ ≈ 3.9e-3):

    dtype   outputs            gradients (dq, dk, dv)
    fp32    5e-5               2e-4      sums over up to 4096 keys; TF32 is switched off for the test
    fp16    4e-3   (≈ 8 u)     8e-3      (≈ 16 u)
    bf16    3e-2   (≈ 8 u)     6e-2      (≈ 16 u)

(A CPU dry run, T ≤ 256, measured at most: fp32 4e-7 / 5e-7, fp16 8e-4 / 1.3e-3, bf16 6e-3 / 1e-2.)

The gradient tolerances are wider because the softmax backward, dS = P ∘ (dP − rowsum(dO ∘ O)), subtracts two
nearly equal numbers; for the same reason dq and dk can vanish altogether (a query that sees one key: T = 1), so
gradient errors are taken relative to the larger of their own norm and that of dv = Pᵀ dO (weights ≥ 0, no
cancellation, the same order of size).

BertForPreTraining under bf16 autocast vs fp32 (same weights, eval mode, 4 layers, C = 256, T = 128, padded):

    loss  relative difference ≤ 5e-3        final hidden states, MLM logits (real tokens)  ≤ 2e-2
    NSP logits                ≤ 3e-2        gradient of the first layer's W^Q              ≤ 5e-2

(A CPU dry run measured 3e-5, 1e-3, 5e-3, 3e-3 and 7e-3: the bounds leave room for a GPU's other bf16 kernels.)

Dry run of the test bodies on a CPU (smaller T, no CUDA-only kernel checks), to check the tests themselves:
    BERT_TEST_DEVICE=cpu python -m pytest -q tests/bert/test_gpu.py
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.unpad import unpadded_attention
from bert import BertConfig, BertForPreTraining, BertModel
from bert.attention import MultiHeadAttention, fused_attention, scaled_dot_product_attention, tiled_attention

DEVICE = os.environ.get("BERT_TEST_DEVICE", "cuda")
ON_CUDA = DEVICE == "cuda"
pytestmark = [pytest.mark.gpu] if ON_CUDA else []       # the dry run on a CPU is not a `gpu` test
MAX_T = 4096 if ON_CUDA else 256                         # a CPU dry run keeps the float64 truth small
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
OUT_TOL = {torch.float32: 5e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}
GRAD_TOL = {torch.float32: 2e-4, torch.float16: 8e-3, torch.bfloat16: 6e-2}
FUSED_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]


def needs_cuda_kernels():
    if not ON_CUDA:
        pytest.skip("checks which CUDA kernel runs; not part of a CPU dry run")


@pytest.fixture(autouse=True)
def no_tf32():
    """fp32 must mean fp32: TF32 matmuls (10-bit mantissa) would need bf16-like tolerances."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


# ------------------------------------------------------------------ random problems and the float64 truth
def make_case(seed: int, dtype: torch.dtype) -> dict:
    """A random attention problem: B, H, T ≤ MAX_T, D ∈ {32, 64, 128}, and a key-padding pattern.

    Seeds cycle through the kinds of padding: none (mask None), right padding with one row fully padded, right
    padding, scattered padding (any pattern). B·H shrinks as T grows so the float64 truth stays ≤ 2²⁶ scores."""
    rng = random.Random(seed)
    lengths = [MAX_T, MAX_T // 2, 1000, 513, 129, 64, 7, 1]
    T = min(lengths[seed % len(lengths)], MAX_T)
    D = (32, 64, 128)[seed % 3]
    B = rng.randint(1, 3)
    H = max(1, min(rng.randint(1, 4), 2**26 // (B * T * T)))
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    q, k, v, grad = (torch.randn(B, H, T, D, generator=g, device=DEVICE).to(dtype) for _ in range(4))
    kind = seed % 4
    keep = torch.ones(B, T, dtype=torch.bool, device=DEVICE)
    if kind in (1, 2):                                                   # right padding
        lens = torch.randint(1, T + 1, (B,), generator=g, device=DEVICE)
        if kind == 1:
            lens[-1] = 0                                                 # a fully padded row
        keep = torch.arange(T, device=DEVICE)[None, :] < lens[:, None]
    elif kind == 3:                                                      # scattered
        keep = torch.rand(B, T, generator=g, device=DEVICE) < 0.7
    mask = None if kind == 0 else keep[:, None, None, :]                 # (B, T) -> (B, 1, 1, T)
    return dict(q=q, k=k, v=v, grad=grad, keep=keep, mask=mask, shape=(B, H, T, D))


def truth(case: dict) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """The reference formula in float64 from the rounded inputs: output and (dq, dk, dv)."""
    q, k, v = (case[n].double().requires_grad_() for n in "qkv")
    out, _ = scaled_dot_product_attention(q, k, v, case["mask"])
    grads = torch.autograd.grad(out, (q, k, v), case["grad"].double())
    return out.detach(), grads


def rel_err(x: torch.Tensor, ref: torch.Tensor, rows: torch.Tensor | None = None,
            scale: torch.Tensor | None = None) -> float:
    """‖x − ref‖ / max(‖ref‖, ‖scale‖) over the query rows where `rows` (broadcastable) is True."""
    x, ref = x.double(), ref.double()
    if rows is not None:
        x, ref = x * rows, ref * rows
    denominator = ref.norm() if scale is None else torch.maximum(ref.norm(), scale.double().norm())
    return ((x - ref).norm() / denominator.clamp_min(1e-30)).item()


def run_path(name: str, case: dict) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    q, k, v = (case[n].clone().requires_grad_() for n in "qkv")
    if name == "reference":
        out, _ = scaled_dot_product_attention(q, k, v, case["mask"])
    elif name == "tiled":
        out = tiled_attention(q, k, v, case["mask"])
    elif name == "fused":
        with restrict(FUSED_BACKENDS if ON_CUDA else None):             # a fused kernel, never the math fallback
            out = fused_attention(q, k, v, case["mask"])
    else:                                                                # unpadded (benchmarks/unpad.py)
        with restrict(FUSED_BACKENDS if ON_CUDA else None):
            out = unpadded_attention(q, k, v, case["keep"])
    grads = torch.autograd.grad(out, (q, k, v), case["grad"], allow_unused=True)
    return out, tuple(torch.zeros_like(case["q"]) if g is None else g for g in grads)


@contextmanager
def restrict(backends):
    if backends is None:
        yield
    else:
        with sdpa_kernel(backends):
            yield


# ------------------------------------------------------------------ 1. reference = tiled = fused = unpadded
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("path", ["reference", "tiled", "fused", "unpadded"])
def test_paths_agree_with_float64_truth(path, seed, dtype):
    case = make_case(seed, dtype)
    rows = None
    if path == "unpadded":
        # Compare real query tokens only: a padding query gets 0 on the unpadded path and the key-masked average
        # on the others (benchmarks/unpad.py); the upstream gradient at padding queries is zeroed for the same reason.
        rows = case["keep"][:, None, :, None]                            # (B, T) -> (B, 1, T, 1)
        case["grad"] = case["grad"] * rows
    out_true, grads_true = truth(case)
    out, grads = run_path(path, case)
    assert out.dtype == dtype and out.shape == case["q"].shape[:-1] + (case["v"].shape[-1],)
    assert bool(torch.isfinite(out).all()) and all(bool(torch.isfinite(g).all()) for g in grads)
    err = rel_err(out, out_true, rows)
    assert err <= OUT_TOL[dtype], f"{path} {dtype} shape {case['shape']}: output error {err:.2e}"
    for name, g, g_true in zip(("dq", "dk", "dv"), grads, grads_true):
        err = rel_err(g, g_true, scale=grads_true[2])
        assert err <= GRAD_TOL[dtype], f"{path} {dtype} shape {case['shape']}: {name} error {err:.2e}"


def test_cases_cover_the_brief():
    """The parametrized cases above reach T = MAX_T, every head dim, and every kind of padding."""
    cases = [make_case(seed, torch.float32) for seed in range(8)]
    assert max(c["shape"][2] for c in cases) == MAX_T
    assert {c["shape"][3] for c in cases} == {32, 64, 128}
    assert any(c["mask"] is None for c in cases)
    assert any(not bool(c["keep"].any(dim=1).all()) for c in cases)           # some fully padded row


# ------------------------------------------------------------------ 2. which kernel runs
class KernelRecorder(TorchDispatchMode):
    """Names the SDPA backends that ran, from the aten ops dispatched below F.scaled_dot_product_attention."""

    KERNELS = {"flash": ("_scaled_dot_product_flash_attention", "_flash_attention_forward"),
               "efficient": ("_scaled_dot_product_efficient_attention", "_efficient_attention_forward"),
               "cudnn": ("_scaled_dot_product_cudnn_attention", "_cudnn_attention_forward"),
               "math": ("_scaled_dot_product_attention_math", "_safe_softmax")}

    def __init__(self):
        super().__init__()
        self.kernels: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        self.kernels |= {k for k, ops in self.KERNELS.items() if any(op in name for op in ops)}
        return func(*args, **(kwargs or {}))


def _mha(dtype=torch.bfloat16):
    torch.manual_seed(0)
    return MultiHeadAttention(hidden_size=256, num_heads=4, attn_implementation="auto").to(DEVICE, dtype).eval()


def test_auto_is_fused_and_runs_a_fused_kernel():
    needs_cuda_kernels()
    mha = _mha()
    assert mha.implementation == "fused"
    x = torch.randn(2, 100, 256, device=DEVICE, dtype=torch.bfloat16)
    keep = torch.ones(2, 1, 1, 100, dtype=torch.bool, device=DEVICE)
    keep[1, ..., 60:] = False
    for mask in (None, keep):
        with torch.no_grad(), KernelRecorder() as rec:
            mha(x, mask)
        assert rec.kernels and rec.kernels <= {"flash", "efficient", "cudnn"}, (mask is None, rec.kernels)
        assert mha.fallback_reason is None


def test_flash_runs_without_a_mask_and_rejects_one():
    needs_cuda_kernels()
    mha = _mha()
    x = torch.randn(3, 128, 256, device=DEVICE, dtype=torch.bfloat16)
    with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION), KernelRecorder() as rec:
        out, _ = mha(x, None)
    assert rec.kernels == {"flash"} and bool(torch.isfinite(out).all())
    keep = torch.ones(3, 1, 1, 128, dtype=torch.bool, device=DEVICE)
    keep[0, ..., 100:] = False
    with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION), pytest.raises(RuntimeError):
        mha(x, keep)                                       # flash takes no arbitrary mask
    with torch.no_grad(), sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION), KernelRecorder() as rec:
        masked, _ = mha(x, keep)
    assert rec.kernels == {"efficient"}
    torch.testing.assert_close(masked[1:], out[1:], rtol=2e-2, atol=2e-2)   # unpadded rows: same answer


def test_model_passes_no_mask_without_padding_so_flash_runs():
    """BertModel turns an all-ones attention_mask into no mask at all (bert/model.py `padding_mask`) where reading
    the mask back is allowed — `validation(True)` on CUDA — so a batch without padding runs the flash kernel; by
    default on CUDA the mask is kept (no device sync) and the memory-efficient kernel runs; a padded batch always
    runs the memory-efficient kernel."""
    needs_cuda_kernels()
    from bert.validation import validation
    cfg = BertConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=512)
    model = BertModel(cfg).to(DEVICE).eval()
    ids = torch.randint(0, 1000, (4, 128), device=DEVICE)
    ones = torch.ones_like(ids)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        with validation(True), sdpa_kernel(SDPBackend.FLASH_ATTENTION), KernelRecorder() as rec:
            model(ids, attention_mask=ones)
        assert rec.kernels == {"flash"}
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION), KernelRecorder() as rec:
            model(ids)                                                   # no mask given: flash, no read
        assert rec.kernels == {"flash"}
        padded = ones.clone()
        padded[1, 64:] = 0
        with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION), KernelRecorder() as rec:
            model(ids, attention_mask=padded)
        assert rec.kernels == {"efficient"}


def test_unpadded_attention_runs_flash_in_half_precision():
    needs_cuda_kernels()
    case = make_case(2, torch.bfloat16)                              # right padding
    with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION), KernelRecorder() as rec:
        unpadded_attention(case["q"], case["k"], case["v"], case["keep"])
    assert rec.kernels == {"flash"}


# ------------------------------------------------------------------ 3. fully padded rows
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("path", ["reference", "tiled", "fused", "unpadded"])
def test_fully_padded_rows_are_finite_and_zero(path, dtype):
    g = torch.Generator(device=DEVICE).manual_seed(1)
    q, k, v = (torch.randn(3, 2, 40, 64, generator=g, device=DEVICE).to(dtype) * 4 for _ in range(3))
    keep = torch.ones(3, 40, dtype=torch.bool, device=DEVICE)
    keep[0] = False                                                  # row 0: nothing to attend to
    keep[2, 17:] = False
    case = dict(q=q, k=k, v=v, keep=keep, mask=keep[:, None, None, :], grad=torch.ones_like(q))
    out, grads = run_path(path, case)
    assert bool(torch.isfinite(out).all()), f"{path} {dtype}: non-finite output"
    assert bool((out[0] == 0).all()), f"{path} {dtype}: a query with no key must give 0"
    for name, gr in zip(("dq", "dk", "dv"), grads):
        assert bool(torch.isfinite(gr).all()), f"{path} {dtype}: non-finite {name}"
        assert bool((gr[0] == 0).all()), f"{path} {dtype}: {name} of the fully padded row must be 0"


# ------------------------------------------------------------------ 4. the whole model under bf16 autocast
def test_pretraining_model_under_bf16_autocast_is_close_to_fp32():
    cfg = BertConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                     intermediate_size=1024, max_position_embeddings=128)
    torch.manual_seed(0)
    model = BertForPreTraining(cfg).to(DEVICE).eval()                # eval: no dropout, both runs comparable
    g = torch.Generator(device=DEVICE).manual_seed(2)
    B, T = 8, 128
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g, device=DEVICE)
    lens = torch.randint(T // 2, T + 1, (B,), generator=g, device=DEVICE)
    lens[0] = T
    mask = (torch.arange(T, device=DEVICE)[None, :] < lens[:, None]).long()
    types = (torch.arange(T, device=DEVICE)[None, :] >= lens[:, None] // 2).long() * mask
    picked = (torch.rand(B, T, generator=g, device=DEVICE) < 0.15) & mask.bool()
    labels = torch.where(picked, ids, torch.full_like(ids, -100))
    nsp = torch.randint(0, 2, (B,), generator=g, device=DEVICE)
    batch = dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels, next_sentence_label=nsp,
                 output_hidden_states=True)

    def run(autocast: bool):
        model.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=autocast):
            out = model(**batch)
        out.loss.backward()
        grad = model.bert.encoder.layers[0].attention.query.weight.grad.clone()
        return out, grad

    ref, grad_ref = run(False)
    low, grad_low = run(True)
    assert low.prediction_logits.dtype == torch.bfloat16               # autocast really ran the matmuls in bf16
    assert ref.loss.dtype == torch.float32
    real = mask.bool()[..., None]
    loss_err = abs(low.loss.item() - ref.loss.item()) / ref.loss.item()
    assert loss_err <= 5e-3, f"loss {low.loss.item():.5f} vs fp32 {ref.loss.item():.5f}"
    assert rel_err(low.hidden_states[-1], ref.hidden_states[-1], real) <= 2e-2
    assert rel_err(low.prediction_logits, ref.prediction_logits, real) <= 2e-2
    assert rel_err(low.seq_relationship_logits, ref.seq_relationship_logits) <= 3e-2
    assert bool(torch.isfinite(grad_low).all()) and rel_err(grad_low, grad_ref) <= 5e-2
