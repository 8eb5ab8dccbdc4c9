"""The one training loop and what it stands on; pre-training, fine-tuning and distillation all train with it.

    loop.py         Trainer: forward, loss, backward, clip, step, schedule, log, checkpoint — with accumulation,
                    AMP, DDP and resume; a task supplies its data and `compute_loss(model, batch) -> (loss, parts)`
    arguments.py    TrainingArguments: a run's settings, checked when made
    schedule.py     AdamW without decay on biases/LayerNorm; linear warmup then linear decay
    batches.py      the plan of global batches, sharded over processes, with a resumable position
    collate.py      padding per batch
    evaluate.py     the held-out MLM (and NSP) evaluator
    checkpoints.py  atomic checkpoints;  metrics.py  metrics.jsonl and its plot;  distributed.py  torchrun set-up
    interrupt.py    Ctrl-C / SIGTERM: the step finishes, a checkpoint, TrainingInterrupted (exit 130 / 143)
    runs.py         run.json, --resume checks and exit codes shared by the CLIs
    allocator.py    glibc keeps freed memory for the next step (the CLIs ask; 16% off a small CPU step here)
"""

from .allocator import keep_freed_memory
from .arguments import TrainingArguments
from .batches import Position, ShardedBatches
from .collate import pad_batch
from .evaluate import evaluate_mlm, masked_logits, model_inputs
from .interrupt import TrainingInterrupted
from .loop import NonFiniteLossError, Trainer, model_loss, model_step
from .metrics import plot_metrics, read_metrics
from .schedule import build_optimizer, parameter_groups

__all__ = ["Position", "ShardedBatches", "pad_batch", "evaluate_mlm", "masked_logits", "model_inputs",
           "NonFiniteLossError", "TrainingInterrupted", "Trainer", "TrainingArguments", "model_loss", "model_step",
           "plot_metrics", "read_metrics", "build_optimizer", "parameter_groups", "keep_freed_memory"]
