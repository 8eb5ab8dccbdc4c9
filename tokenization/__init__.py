"""Text → ids for BERT, written from scratch: basic tokenization, WordPiece, and the HF-compatible BertTokenizer."""
