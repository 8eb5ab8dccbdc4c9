"""DistilBertTokenizer: BertTokenizer's WordPiece, returning no token_type_ids (DistilBERT has no segment embeddings).

DistilBERT keeps BERT's vocabulary and tokenization but drops the token-type (segment) embeddings (Sanh et al.
2019 §3: "token-type embeddings and the pooler are removed"). So, as transformers' DistilBertTokenizer does
(its `model_input_names` are input_ids and attention_mask), a call returns no token_type_ids unless asked with
return_token_type_ids=True. Everything else — vocabulary, options, folders read and written — is BertTokenizer's;
a BertTokenizer loaded from a DistilBERT folder still returns token_type_ids, as transformers' does (article 000
§"项目实践" pairs exactly those two).
"""

from __future__ import annotations

from .tokenizer import BertTokenizer


class DistilBertTokenizer(BertTokenizer):
    """BertTokenizer whose calls return input_ids and attention_mask (no token_type_ids) by default."""

    model_input_names = ["input_ids", "attention_mask"]


__all__ = ["DistilBertTokenizer"]
