"""Pre-training BERT with MLM + NSP — what the articles teach: corpora, example pairs, 80/10/10 masking, the CLI.

    corpus.py      documents from plain text, WikiText raw, or the standard library's docstrings (the default)
    examples.py    [CLS] A [SEP] B [SEP] pairs, 50% IsNext / 50% NotNext (google-research/bert's procedure)
    masking.py     15% of the tokens chosen; 80% [MASK], 10% random token, 10% unchanged
    data.py        the pipeline per epoch (static or dynamic masking), held-out split, tokenization; the held-out
                   evaluation batches and the data of general distillation (`mlm_data`, for distil.train)
    cli.py         `python -m bert.pretrain`: the data above into the training loop (bert/training/)
"""

from .corpus import iter_documents, load_documents, read_plain_text, read_wikitext, split_sentences, stdlib_docstrings
from .data import PretrainingData, heldout_batches, mlm_data, split_heldout, tokenize_documents
from .examples import PretrainingExample, create_examples, create_examples_from_document, truncate_seq_pair
from .masking import MaskedExample, MaskingSpec, mask_tokens

__all__ = ["iter_documents", "load_documents", "read_plain_text", "read_wikitext", "split_sentences",
           "stdlib_docstrings", "PretrainingData", "heldout_batches", "mlm_data", "split_heldout", "tokenize_documents",
           "PretrainingExample", "create_examples", "create_examples_from_document", "truncate_seq_pair",
           "MaskedExample", "MaskingSpec", "mask_tokens"]
