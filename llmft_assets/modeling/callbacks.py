"""The trainer callbacks `train_lora` adds: storing each checkpoint, and measuring throughput.

Apart from training.py because they subclass transformers' `TrainerCallback`, and the code
location must load without importing transformers (see the package docstring).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from llmft_assets.modeling.training import CHECKPOINT_PREFIX, WARMUP_STEPS, CheckpointSync, Log


class SyncCheckpoints(TrainerCallback):
    """Hands each checkpoint the trainer saves to the `CheckpointSync`."""

    def __init__(self, sync: CheckpointSync, log: Log) -> None:
        self.sync = sync
        self.log = log

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:  # in data-parallel runs, one rank stores
            return
        checkpoint = Path(args.output_dir) / f"{CHECKPOINT_PREFIX}{state.global_step}"
        self.sync.save(checkpoint)
        self.log(f"stored {checkpoint.name}")


class Throughput(TrainerCallback):
    """Tokens seen when training (re)starts, so a resumed run counts its own; and tokens/s
    after the first steps, which pay for compilation and allocation."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.tokens_at_start = 0
        self.first_step = 0
        self.mark: tuple[float, int] | None = None
        self.end: tuple[float, int] = (0.0, 0)

    def on_train_begin(self, args, state, control, **kwargs):
        self.tokens_at_start = int(state.num_input_tokens_seen)
        self.first_step = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.first_step + WARMUP_STEPS:
            if self.cuda:
                torch.cuda.synchronize()
            self.mark = (time.perf_counter(), int(state.num_input_tokens_seen))

    def on_train_end(self, args, state, control, **kwargs):
        if self.cuda:
            torch.cuda.synchronize()
        self.end = (time.perf_counter(), int(state.num_input_tokens_seen))

    def steady(self) -> float:
        if self.mark is None:
            return 0.0
        seconds = self.end[0] - self.mark[0]
        return (self.end[1] - self.mark[1]) / seconds if seconds else 0.0
