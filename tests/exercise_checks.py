"""The exercises (练习) and the tests of the project that grade each one: data for the plugin tests/exercises.py.

Each `Exercise` names the function the student writes, how it is put in place of ours (`install`), and its
`Check`s: a test of the project (file::function, optionally some of its parametrized cases) with the property it
checks, in Chinese and English, and a hint. The checks run in the order listed, so the first failure a student
sees is the most basic one.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parent.parent
STUBS = REPO / "notebooks" / "exercises"
WORK = STUBS / "work"                        # git-ignored: the student's copies
PATCHED_PACKAGES = ("bert", "distil", "tokenization", "tests", "benchmarks")


@dataclass(frozen=True)
class Check:
    """One test of the project that grades the exercise: `test` is 'file::function', `params` picks parametrized
    cases by their parameter values; zh / en say which property it checks; hint says where to look."""
    test: str
    zh: str
    en: str
    hint: str
    params: dict = field(default_factory=dict)   # name -> value or tuple of values (a class by its __name__)

    @property
    def file(self) -> str:
        return self.test.split("::")[0]

    def matches(self, item: pytest.Item) -> bool:
        """By file and function (not by node id, which depends on the rootdir), then by parameter values."""
        if item.path != REPO / self.file or getattr(item, "originalname", item.name) != self.test.split("::")[1]:
            return False
        given = getattr(item, "callspec", None)
        for name, wanted in self.params.items():
            if given is None or name not in given.params:
                return False
            value = given.params[name]
            value = getattr(value, "__name__", value)           # a class parameter is matched by its name
            if value not in (wanted if isinstance(wanted, tuple) else (wanted,)):
                return False
        return True


@dataclass(frozen=True)
class Exercise:
    name: str
    function: str                              # what the student's file must define
    zh: str
    en: str
    install: Callable                          # install(student_function, patcher)
    checks: tuple[Check, ...]


class Patcher:
    """Replace attributes and put every one back (in reverse order) on `undo()`."""

    def __init__(self) -> None:
        self._undo: list[tuple[object, str, object]] = []

    def set(self, owner: object, name: str, value: object) -> None:
        self._undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def everywhere(self, original: object, replacement: object) -> int:
        """Rebind every module-level name in the project's packages that is bound to `original`; how many."""
        n = 0
        for mod_name, mod in list(sys.modules.items()):
            if mod is None or mod_name.split(".")[0] not in PATCHED_PACKAGES:
                continue
            for attr, value in list(vars(mod).items()):
                if value is original:
                    self.set(mod, attr, replacement)
                    n += 1
        return n

    def undo(self) -> None:
        while self._undo:
            owner, name, value = self._undo.pop()
            setattr(owner, name, value)


# ---------------------------------------------------------------- how each student function is plugged in
def _install_attention(fn, p: Patcher) -> None:
    import bert.attention as A
    core, busy = A.attention, []

    def reference_path(q, k, v, mask=None, dropout_p=0.0, scale=None):
        if busy:                                # the student's function called ours, which calls this: no loop
            return core(q, k, v, mask, dropout_p, scale)
        busy.append(True)
        try:
            return fn(q, k, v, mask, dropout_p, scale)
        finally:
            busy.pop()
    p.everywhere(A.scaled_dot_product_attention, fn)
    p.everywhere(core, reference_path)          # MultiHeadAttention looks `attention` up when it runs
    resolve = A.resolve_implementation          # "auto" → the reference path, so models run the student's formula
    p.everywhere(resolve, lambda requested: "reference" if requested == "auto" else resolve(requested))


def _install_multi_head(fn, p: Patcher) -> None:
    from bert.attention import MultiHeadAttention
    ours = MultiHeadAttention.forward

    def forward(mha, hidden_states, attn_mask=None, output_attentions=False, tokens=None):
        if tokens is not None:                  # the unpadded path (bert/unpad.py) is not the exercise: ours runs
            return ours(mha, hidden_states, attn_mask, output_attentions, tokens)
        return fn(mha, hidden_states, attn_mask, output_attentions)
    p.set(MultiHeadAttention, "forward", forward)


def _install_position(fn, p: Patcher) -> None:
    import bert.position
    p.everywhere(bert.position.sinusoidal_table, fn)


def _install_post_ln(fn, p: Patcher) -> None:
    from bert.layers import EncoderBlock
    ours = EncoderBlock.forward

    def forward(block, x, attn_mask=None, output_attentions=False, tokens=None):
        if block.pre_layer_norm or tokens is not None:  # pre-LN and the unpadded path are not the exercise: ours
            return ours(block, x, attn_mask, output_attentions, tokens)
        return fn(block, x, attn_mask, output_attentions)
    p.set(EncoderBlock, "forward", forward)


def _install_everywhere(module: str, name: str):
    def install(fn, p: Patcher) -> None:
        p.everywhere(getattr(importlib.import_module(module), name), fn)
    return install


# ---------------------------------------------------------------- the exercises and the tests that grade them
A, M, H = "tests/bert/test_attention.py", "tests/bert/test_model.py", "tests/bert/test_heads.py"
P, POS = "tests/bert/test_parity.py", "tests/bert/test_position.py"
MASKING, LOSSES = "tests/bert/pretraining/test_masking.py", "tests/distil/test_losses.py"
PARITY = {"hf_impl": "eager", "direction": "hf_to_ours", "cls": "BertForPreTraining"}  # all of BERT, MLM + NSP
PARITY_ZH, PARITY_EN = "整个 BERT 与 transformers 的输出和梯度一致", "a whole BERT gives transformers' outputs and gradients"

EXERCISES = {e.name: e for e in [
    Exercise("attention", "scaled_dot_product_attention", "缩放点积注意力（含掩码）",
             "scaled dot-product attention, with a mask", _install_attention, (
        Check(f"{A}::test_formula_matches_float64_numpy", "输出和权重等于 float64 numpy 按公式算出的值",
              "output and weights equal the formula computed in float64 numpy",
              "先算 scores = Q Kᵀ · scale，再 softmax(dim=-1)，最后乘 V / scores, then softmax over the last dim "
              "(the keys), then @ V; attn_mask 里 True 表示“可以看” / True in attn_mask means 'may attend'"),
        Check(f"{A}::test_weights_sum_to_one_over_unmasked_keys_and_masked_keys_get_exactly_zero",
              "每行权重之和为 1，被遮掩的键权重恰好为 0", "each row of weights sums to 1; masked keys get exactly 0",
              "用 masked_fill(~attn_mask, torch.finfo(dtype).min) 再 softmax，之后把被遮掩的位置置 0；掩码别取反了 "
              "/ fill where the mask is False (not True), then zero those weights after the softmax"),
        Check(f"{A}::test_scale_is_one_over_sqrt_d_k", "缩放因子是 1/√d_k（给了 scale 就用 scale）",
              "the scale is 1/√d_k (or `scale` when it is given)",
              "d_k = query.shape[-1]；是除以 √d_k，不是 d_k，也不能省略 / divide by sqrt(d_k), not d_k, and honour "
              "the `scale` argument", params={"path": "reference"}),
        Check(f"{A}::test_permuting_keys_and_values_together_leaves_output_unchanged",
              "把键和值一起重新排列，输出不变（注意力对位置无感）",
              "permuting keys and values together leaves the output unchanged",
              "权重必须只依赖 q·k，不能依赖键的位置 / the weights may depend on q·k only, not on where a key is"),
        Check(f"{A}::test_fully_masked_rows_are_finite_zero_in_low_precision",
              "全被遮掩的行在 fp16/bf16 下也是有限的 0，不是 NaN",
              "a fully masked row is a finite 0 in fp16/bf16 too, not NaN",
              "用 -inf 填充会让整行 softmax 变成 NaN；用 torch.finfo(scores.dtype).min，softmax 之后再把被遮掩的权重置 0 "
              "/ -inf gives NaN for such a row: fill with the dtype's most negative finite value, zero the weights after"),
        Check(f"{A}::test_reference_dropout_zeroes_or_rescales_each_weight",
              "dropout 作用在权重上：每个权重要么为 0，要么除以 (1-p)；输出用的就是返回的权重",
              "dropout acts on the weights (each zeroed or divided by 1-p), and the output uses the returned weights",
              "在 softmax 之后 weights = F.dropout(weights, p=dropout_p)，再 weights @ value / dropout after softmax"),
        Check(f"{A}::test_every_implementation_gives_the_same_mha_output_and_gradients",
              "多头注意力里你的公式与 tiled、fused 两条路径一致（输出和梯度）",
              "inside multi-head attention your formula agrees with the tiled and fused paths (outputs, gradients)",
              "形状是 (B, H, T, D)，掩码形状 (B, 1, 1, T) 要能广播 / shapes (B, H, T, D); the mask broadcasts"),
        Check(f"{M}::test_mask_forms_agree_and_a_fully_padded_row_stays_finite",
              "整个模型里，全是 [PAD] 的一行仍是有限值，填充位置不影响真实词元",
              "in a whole model a fully padded row stays finite and padding never changes the real tokens",
              "被遮掩的键不能有任何权重 / masked keys must get no weight at all"),
        Check(f"{P}::test_outputs_losses_and_gradients_match_transformers", PARITY_ZH, PARITY_EN,
              "先让上面的性质测试通过 / make the property checks above pass first",
              params=PARITY),
    )),
    Exercise("multi_head", "multi_head_attention", "多头注意力", "multi-head attention", _install_multi_head, (
        Check(f"{A}::test_multi_head_equals_concatenated_single_heads",
              "多头 = 各个头分别计算后拼接，再乘 Wᴼ", "MultiHead = Concat(head_1 … head_H) · Wᴼ, each head on its own",
              "(B, T, C) → view(B, T, H, D) → transpose(1, 2) 得 (B, H, T, D)；合并时先 transpose 回来再 reshape "
              "/ split with view + transpose, merge with transpose back + reshape (not reshape alone)"),
        Check(f"{M}::test_post_ln_block_is_ln_x_plus_mha_then_ln_x_plus_ffn",
              "放进一个 BERT 层里，结果与按公式逐头计算一致", "inside a BERT layer it equals the formula, head by head",
              "记得最后乘输出投影 mha.output / finish with the output projection mha.output"),
        Check(f"{M}::test_block_is_permutation_equivariant_over_tokens", "打乱词元顺序，输出按同样方式打乱",
              "permuting the tokens permutes the outputs the same way",
              "每个头只能在同一个样本的词元之间做注意力 / attend only among the tokens of one example"),
        Check(f"{P}::test_outputs_losses_and_gradients_match_transformers", PARITY_ZH, PARITY_EN,
              "output_attentions=True 时要返回 (B, H, T, T) 的权重 / return the (B, H, T, T) weights when asked",
              params=PARITY),
    )),
    Exercise("position", "sinusoidal_table", "正弦位置编码", "sinusoidal position encoding", _install_position, (
        Check(f"{POS}::test_sinusoidal_formula_by_hand", "逐项等于 PE(pos,2i)=sin(pos/10000^(2i/d))、PE(pos,2i+1)=cos(…)",
              "entry by entry PE(pos,2i) = sin(pos/10000^(2i/d)), PE(pos,2i+1) = cos(…)",
              "偶数列放 sin、奇数列放 cos，同一对列共用 2i；d 为奇数时最后一列是 sin；返回 float32 "
              "/ sin in even columns, cos in odd ones, a pair shares 2i; odd d ends with a sine; return float32"),
        Check(f"{POS}::test_sinusoidal_values_lie_in_minus_one_one", "形状为 (max_len, dim)，所有值在 [-1, 1]",
              "shape (max_len, dim), every value in [-1, 1]", "返回 (max_len, dim) 的表 / return a (max_len, dim) table"),
        Check(f"{POS}::test_shift_by_k_is_one_fixed_linear_map", "PE(p+k) = M_k·PE(p)：平移是一个固定的旋转",
              "PE(p+k) = M_k·PE(p): a shift is one fixed rotation",
              "频率是 1/10000^(2i/d)，指数里是 2i/d 不是 i/d / the exponent is 2i/d, not i/d"),
        Check(f"{POS}::test_dot_product_depends_only_on_the_offset", "⟨PE(p), PE(q)⟩ 只取决于 p − q",
              "⟨PE(p), PE(q)⟩ depends on p − q only", "sin 和 cos 必须成对使用同一个频率 / each sin/cos pair shares one "
              "frequency"),
        Check(f"{POS}::test_odd_dim_keeps_an_unpaired_sine_and_has_no_rotation", "d 为奇数时最后一列是单独的 sin",
              "for an odd d the last column is an unpaired sine", "cos 的列数是 d // 2 / there are d // 2 cosine "
              "columns"),
        Check(f"{POS}::test_siblings_share_one_call_interface",
              "SinusoidalPositionEncoding 用你的表，和可学习的位置嵌入用法一样",
              "SinusoidalPositionEncoding uses your table and is called like the learned one",
              "表的第 p 行就是位置 p 的编码 / row p of the table is the encoding of position p"),
    )),
    Exercise("post_ln", "encoder_block", "Post-LN 编码器层（BERT 的残差连接 + LayerNorm）",
             "the post-LN encoder block (BERT's residuals + LayerNorm)", _install_post_ln, (
        Check(f"{M}::test_post_ln_block_is_ln_x_plus_mha_then_ln_x_plus_ffn",
              "x = LN(x + MHA(x))，再 x = LN(x + FFN(x))", "x = LN(x + MHA(x)), then x = LN(x + FFN(x))",
              "BERT 是 post-LN：先残差相加，再 LayerNorm；不是 pre-LN 的 x + MHA(LN(x)) "
              "/ add the residual first, then normalise — not the pre-LN x + MHA(LN(x))"),
        Check(f"{M}::test_pre_ln_block_is_x_plus_mha_ln_x_then_x_plus_ffn_ln_x",
              "你的 post-LN 层与 pre-LN 接法确实不同", "your post-LN block really differs from the pre-LN wiring",
              "LayerNorm 应在残差相加之后 / LayerNorm comes after the residual sum"),
        Check(f"{M}::test_block_is_permutation_equivariant_over_tokens", "打乱词元顺序，输出按同样方式打乱",
              "permuting the tokens permutes the outputs the same way", "把 attn_mask 传给 block.attention "
              "/ pass attn_mask on to block.attention"),
        Check(f"{M}::test_encoder_returns_every_hidden_state_and_attention_map",
              "需要时返回注意力权重（每行和为 1，填充位置为 0）",
              "returns the attention weights when asked (rows sum to 1, padding gets 0)",
              "返回 (x, weights)，weights 来自 block.attention(x, attn_mask, output_attentions) "
              "/ return the weights that block.attention gave you"),
        Check(f"{M}::test_dropout_is_active_in_training_only", "dropout 只在训练时起作用",
              "dropout acts in training mode only", "两个子层的输出都要经过 block.dropout "
              "/ apply block.dropout to both sub-layers' outputs"),
        Check(f"{P}::test_outputs_losses_and_gradients_match_transformers", PARITY_ZH, PARITY_EN,
              "顺序：attention → dropout → 加残差 → attention_layer_norm → feed_forward → dropout → 加残差 → "
              "output_layer_norm / the order of the steps", params=PARITY),
        Check(f"{P}::test_real_minilm_checkpoint_matches_transformers",
              "真实的 all-MiniLM-L6-v2 在真实句子上与 transformers 一致",
              "the real all-MiniLM-L6-v2 checkpoint matches transformers on real sentences",
              "先让上面的检查通过 / make the checks above pass first", params={"hf_impl": "eager"}),
    )),
    Exercise("mlm_loss", "mlm_loss", "掩码语言模型的损失（只在被遮掩的位置）", "the MLM loss, at the masked positions only",
             _install_everywhere("bert.losses", "mlm_loss"), (
        Check(f"{H}::test_mlm_loss_by_hand_only_masked_positions", "手算的例子：只在标签不是 −100 的位置取平均",
              "a hand-computed example: the mean over the positions whose label is not −100",
              "标签为 −100 的位置不参与 / positions labelled −100 do not count (勘误 8 / erratum 8)"),
        Check(f"{H}::test_mlm_loss_nothing_masked_is_exactly_zero_with_a_zero_gradient",
              "一个位置都没遮掩时损失恰好是 0（不是 0/0 = NaN），梯度为 0",
              "nothing masked gives exactly 0 (not 0/0 = NaN) and a zero gradient",
              "求和后除以 max(|M|, 1)，而不是直接求平均 / divide the sum by max(|M|, 1)"),
        Check(f"{H}::test_mlm_loss_is_cross_entropys_mean_when_something_is_masked",
              "有遮掩时等于 cross_entropy 在被遮掩位置上的平均；fp16/bf16 先转成 fp32",
              "equals cross_entropy's mean over the masked positions; fp16/bf16 are upcast to fp32",
              "只把 fp16/bf16 用 logits.float() 转成 fp32，再算 log_softmax / upcast half precision only"),
        Check(f"{H}::test_mlm_loss_invariant_to_constant_shift", "logits 整体加一个常数，损失不变",
              "adding a constant to the logits leaves the loss unchanged", "用 log_softmax，不要自己写 exp/sum；"
              "float64 不要转成 float32 / use log_softmax; keep float64 logits in float64"),
        Check(f"{H}::test_mlm_loss_is_mean_negative_log_likelihood_over_masked_positions_only",
              "在 BertForMaskedLM 里：损失是被遮掩位置上 −log p(原词) 的平均",
              "in BertForMaskedLM: the loss is the mean −log p(original token) over the masked positions",
              "logits (…, V) 和 labels (…) 要先展平 / flatten logits to (N, V) and labels to (N,)"),
        Check(f"{H}::test_masked_only_gives_the_same_loss_logits_and_gradients",
              "只在被遮掩位置解码（masked_only）得到同样的损失和梯度",
              "decoding at the masked positions only gives the same loss and gradients",
              "损失不能依赖没被遮掩的位置 / the loss must not depend on unmasked positions"),
        Check(f"{P}::test_masked_only_loss_matches_transformers_full_loss", "预训练损失与 transformers 一致",
              "the pre-training loss matches transformers'", "先让上面的检查通过 / make the checks above pass first"),
    )),
    Exercise("masking", "mask_tokens", "80/10/10 掩码", "80/10/10 masking", _install_everywhere(
        "bert.pretraining.masking", "mask_tokens"), (
        Check(f"{MASKING}::test_number_predicted_is_15_percent_of_maskable_tokens_rounded_half_up",
              "每个序列预测的词元数 = min(max_predictions, max(1, round(0.15·n)))",
              "per sequence, min(max_predictions, max(1, round(0.15·n))) positions are predicted",
              "用 num_to_predict(n, spec)，n 只数可选的（非特殊）词元 / use num_to_predict; n counts non-special tokens"),
        Check(f"{MASKING}::test_masked_share_is_15_percent_overall", "总体上约 15% 的词元被选中",
              "about 15% of the tokens are chosen overall", "同上 / as above"),
        Check(f"{MASKING}::test_80_10_10_within_binomial_tolerance",
              "被选中的位置：80% 换成 [MASK]，10% 换成随机词，10% 不变",
              "of the chosen positions 80% become [MASK], 10% a random token, 10% stay unchanged",
              "r = rng.random()：r < 0.8 → [MASK]；r < 0.9 → 随机词；否则不变 / one draw per chosen position"),
        Check(f"{MASKING}::test_inputs_and_labels_follow_the_actions_and_specials_are_never_chosen",
              "标签总是原词；未选中的位置标签为 −100、输入不变；特殊词元从不被选中",
              "the label is always the original token; unchosen positions get −100 and keep their input; "
              "special tokens are never chosen",
              "labels[i] = ids[i] 只在选中的位置；随机词从 spec.random_ids 里取 / label = original id, random ids "
              "from spec.random_ids"),
        Check(f"{MASKING}::test_max_predictions_caps_the_count", "最多预测 max_predictions 个位置",
              "at most max_predictions positions", "num_to_predict 已经考虑了上限 / num_to_predict applies the cap"),
        Check(f"{MASKING}::test_a_sequence_without_maskable_tokens_is_left_alone", "没有可选词元的序列原样返回",
              "a sequence with nothing to choose is left alone", "n_predict 为 0 时什么也不做 / nothing to do"),
        Check(f"{MASKING}::test_whole_word_masking_takes_every_piece_of_a_word",
              "整词掩码：一个词的 ## 片段和它一起被选中", "whole-word masking: a word's ## pieces are chosen with it",
              "按 candidate_groups 的分组来选，超出名额的整词跳过 / choose whole groups; skip one that overshoots"),
        Check(f"{MASKING}::test_same_seed_same_masks", "同一个随机种子给出同样的结果",
              "the same seed gives the same result", "只用传进来的 rng，不要用全局 random / use only the rng argument"),
        Check(f"{MASKING}::test_any_sequence_masks_only_ordinary_tokens_and_labels_match",
              "任意序列：只遮掩普通词元，标签个数等于选中的位置数",
              "any sequence: only ordinary tokens are masked, one label per chosen position",
              "positions 要排序，actions 与 positions 一一对应 / positions sorted, one action each"),
    )),
    Exercise("soft_target", "soft_target_loss", "知识蒸馏的软目标损失", "the distillation soft-target loss",
             _install_everywhere("distil.losses", "soft_target_loss"), (
        Check(f"{LOSSES}::test_soft_target_loss_by_hand", "手算的例子：T²·KL(softmax(t/T) ‖ softmax(s/T))",
              "a hand-computed example: T²·KL(softmax(t/T) ‖ softmax(s/T))",
              "KL 的方向：p_t·(log p_t − log p_s)，教师在前 / the teacher's distribution comes first"),
        Check(f"{LOSSES}::test_soft_target_loss_mean_over_counted_positions_only",
              "有 mask 时只在被计入的位置上取平均，其他位置没有梯度",
              "with a mask, the mean over the counted positions only, and no gradient elsewhere",
              "先 s = student_logits[mask]，再算 / select the rows first: student_logits[mask]"),
        Check(f"{LOSSES}::test_soft_target_loss_zero_iff_logits_match_and_nonnegative",
              "学生与教师相同时为 0，且永远 ≥ 0", "0 when the student equals the teacher, never negative",
              "用 KL，而不是交叉熵（两者差一个教师的熵）/ KL, not cross-entropy (they differ by the teacher's entropy)"),
        Check(f"{LOSSES}::test_soft_target_loss_invariant_to_constant_shift", "logits 加常数不改变损失",
              "adding a constant to either logits changes nothing", "用 log_softmax / use log_softmax"),
        Check(f"{LOSSES}::test_soft_target_gradient_is_T_times_prob_difference",
              "对学生 logits 的梯度 = T·(p_s − p_t)/N", "the gradient w.r.t. the student's logits is T·(p_s − p_t)/N",
              "温度要同时除到学生和教师的 logits 上，最后乘 T² / divide both by T, multiply the loss by T²"),
        Check(f"{LOSSES}::test_soft_target_gradient_magnitude_stable_across_temperature",
              "乘了 T² 之后，梯度大小不随温度衰减（Hinton 等 2015 §2）",
              "with the T² factor the gradient does not fade as T grows (Hinton et al. 2015 §2)",
              "别忘了乘 T² / do not forget the factor T²"),
    )),
]}


