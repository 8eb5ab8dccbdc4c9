"""Text → ids for BERT, written from scratch: basic tokenization, WordPiece, and the HF-compatible BertTokenizer.

    from tokenization import BertTokenizer
    tok = BertTokenizer.from_pretrained("path/to/checkpoint")     # or BertTokenizer("vocab.txt", do_lower_case=True)
    enc = tok(["a sentence"], padding=True, truncation=True, max_length=128, return_tensors="pt")   # or "np"
    DistilBertTokenizer.from_pretrained(...)    # the same, without token_type_ids (DistilBERT has no segments)

`python -m tokenization "some text"` prints every stage.
"""

from .basic import BasicTokenizer
from .distilbert import DistilBertTokenizer
from .encoding import BatchEncoding
from .tokenizer import BertTokenizer
from .vocab import load_vocab, save_vocab, train_wordpiece_vocab
from .wordpiece import WordpieceTokenizer

__all__ = ["BasicTokenizer", "BatchEncoding", "BertTokenizer", "DistilBertTokenizer", "WordpieceTokenizer",
           "load_vocab", "save_vocab", "train_wordpiece_vocab"]
