"""Tiny random models for the explorer's tests, saved as from_pretrained folders (not a test module).

A vocabulary with a few English words and the hanzi of one Chinese sentence, so that a pair of an English and a
Chinese text has no [UNK]; a 3-layer, 4-head BERT (head dim 6) and a DistilBERT student of it."""

from __future__ import annotations

from pathlib import Path

import torch

from bert import BertConfig, BertForMaskedLM
from distil import student_from_teacher
from tokenization import BertTokenizer

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "it", "was", "tired", "."]
HANZI = list("猫坐在垫子上。狗跑了")
TEXT, PAIR, CHINESE = "the cat sat on the mat.", "it was tired.", "猫坐在垫子上。"


def tiny_folders(root: Path) -> dict[str, Path]:
    """{"bert": a BertForMaskedLM folder, "distil": a DistilBertForMaskedLM folder}, both with vocab.txt."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + HANZI
    root.mkdir(parents=True, exist_ok=True)
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(root / "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=24, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=30, max_position_embeddings=64, initializer_range=0.5,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    teacher = BertForMaskedLM(config)
    folders = {"bert": root / "bert", "distil": root / "distil"}
    teacher.save_pretrained(folders["bert"])
    student_from_teacher(teacher).save_pretrained(folders["distil"])
    for folder in folders.values():
        tokenizer.save_pretrained(folder)
    return folders
