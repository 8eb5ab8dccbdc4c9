"""Pre-training BERT with MLM + NSP: corpora, example pairs, 80/10/10 masking, batches, a generic trainer, the CLI.

    corpus.py      documents from plain text, WikiText raw, or the standard library's docstrings (the default)
    examples.py    [CLS] A [SEP] B [SEP] pairs, 50% IsNext / 50% NotNext (google-research/bert's procedure)
    masking.py     15% of the tokens chosen; 80% [MASK], 10% random token, 10% unchanged
    collate.py     padding per batch
    data.py        the pipeline per epoch (static or dynamic masking), held-out split, tokenization
    batches.py     the plan of global batches, sharded over processes, with a resumable position
    schedule.py    AdamW without decay on biases/LayerNorm; linear warmup then linear decay
    trainer.py     the loop: accumulation, clipping, autocast, evaluation, metrics, checkpoints, resume, DDP
    evaluate.py    held-out MLM loss/accuracy and NSP accuracy
    checkpoints.py atomic checkpoints;  metrics.py  metrics.jsonl and its plot;  distributed.py  torchrun set-up
    cli.py         `python -m bert.pretrain`
"""

from .batches import Position, ShardedBatches
from .collate import pad_batch
from .corpus import iter_documents, load_documents, read_plain_text, read_wikitext, split_sentences, stdlib_docstrings
from .data import PretrainingData, split_heldout, tokenize_documents
from .evaluate import evaluate_pretraining
from .examples import PretrainingExample, create_examples, create_examples_from_document, truncate_seq_pair
from .masking import MaskedExample, MaskingSpec, mask_tokens
from .metrics import plot_metrics, read_metrics
from .schedule import build_optimizer, parameter_groups
from .trainer import NonFiniteLossError, Trainer, TrainingArguments

__all__ = ["Position", "ShardedBatches", "pad_batch", "iter_documents", "load_documents", "read_plain_text",
           "read_wikitext", "split_sentences", "stdlib_docstrings", "PretrainingData", "split_heldout",
           "tokenize_documents", "evaluate_pretraining", "PretrainingExample", "create_examples",
           "create_examples_from_document", "truncate_seq_pair", "MaskedExample", "MaskingSpec", "mask_tokens",
           "plot_metrics", "read_metrics", "build_optimizer", "parameter_groups", "NonFiniteLossError", "Trainer",
           "TrainingArguments"]
