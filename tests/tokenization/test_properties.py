"""Properties of BertTokenizer on any input, for both backends, on the real vocabulary:
never raises on a str; ids in range; [CLS]/[SEP] where they belong with the right token types; truncation keeps
max_length; and decoding gives back the normalised text.

"Normalised" is defined exactly: normalised(x) = the BasicTokenizer's words of x (cleaned, CJK split, accents
stripped, lower-cased, punctuation split) joined by single spaces, with the space before each word that is ".",
"?", "!" or "," removed (the WordPiece decoder's clean-up). Then decode(encode(x), skip_special_tokens=True)
== normalised(x) whenever the encoding has no [UNK] and x writes no special token ("[MASK]", ...)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)   # surrogates and Cn included
PRINTABLE = st.text(alphabet=st.characters(max_codepoint=0x3000, exclude_categories=("Cs",)), max_size=40)
SETTINGS = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module", params=["python", "fast"])
def tok(request, ours, ours_fast):
    return ours if request.param == "python" else ours_fast


def normalised(tok, text: str) -> str:
    out = ""
    for word in tok.basic_tokenizer.tokenize(text):
        out += word if not out or word in (".", "?", "!", ",") else " " + word
    return out


@SETTINGS
@given(st.lists(ANY_TEXT, min_size=1, max_size=8), st.lists(ANY_TEXT, min_size=8, max_size=8))
def test_never_raises_and_ids_are_in_range(tok, texts, pairs):
    enc = tok(texts, pairs[:len(texts)], return_offsets_mapping=True)
    for ids, types, mask, offsets, a, b in zip(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"],
                                                enc["offset_mapping"], texts, pairs):
        assert all(0 <= i < tok.vocab_size for i in ids) and len(ids) == len(types) == len(mask) == len(offsets)
        # [CLS] A [SEP] B [SEP]: types 0 up to the first [SEP] after A, then 1
        tokens_a = tok.tokenize(a)
        n_a = len(tokens_a)
        assert ids[0] == tok.cls_token_id and ids[n_a + 1] == tok.sep_token_id and ids[-1] == tok.sep_token_id
        assert tok.convert_ids_to_tokens(ids[1:n_a + 1]) == tokens_a
        assert types == [0] * (n_a + 2) + [1] * (len(ids) - n_a - 2) and mask == [1] * len(ids)
        assert all(0 <= s <= e <= len(a if k <= n_a + 1 else b) for k, (s, e) in enumerate(offsets))


@SETTINGS
@given(ANY_TEXT, ANY_TEXT, st.integers(3, 20), st.sampled_from([True, "longest_first", "only_first",
                                                               "only_second"]))
def test_truncation_respects_max_length(tok, a, b, max_length, truncation):
    try:
        enc = tok(a, b, truncation=truncation, max_length=max_length)
    except ValueError as error:  # only_first/only_second can be impossible; the error says so
        assert truncation in ("only_first", "only_second") and ("must go" in str(error) or b == "" and
                                                                "needs a text_pair" in str(error))
        return
    ids = enc["input_ids"]
    full = tok(a, b)["input_ids"]
    assert len(ids) == min(len(full), max_length)
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert ids.count(tok.sep_token_id) >= (2 if b else 1)          # b == "": no pair, as in BertTokenizerFast


@SETTINGS
@given(PRINTABLE)
def test_decode_encode_gives_the_normalised_text(tok, text):
    assume(not any(s in text for s in tok.all_special_tokens))
    ids = tok.encode(text)
    assume(tok.unk_token_id not in ids)
    assert tok.decode(ids, skip_special_tokens=True) == normalised(tok, text)
    body = normalised(tok, text)
    if not body:
        assert tok.decode(ids) == "[CLS] [SEP]"
    else:  # the decoder's clean-up also glues a first "." "?" "!" "," to [CLS]
        glue = "" if tok.basic_tokenizer.tokenize(text)[0] in (".", "?", "!", ",") else " "
        assert tok.decode(ids) == "[CLS]" + glue + body + " [SEP]"


def test_decode_encode_examples(ours):
    text = "Hello,  WORLD!! Ünïcödé\u200b text... isn't it?"
    assert normalised(ours, text) == "hello, world!! unicode text... isn ' t it?"
    assert ours.decode(ours.encode(text), skip_special_tokens=True) == normalised(ours, text)
