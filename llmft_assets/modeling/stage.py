"""The model stages the assets call: `run_training` (`lora_adapter`) and `run_merge`
(`merged_model`), each returning its typed report.

Training runs in this process, or data-parallel in `settings.processes` processes under
torchrun (distributed.py); both take the same inputs and give the same results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import load_from_disk
from transformers import AutoModelForCausalLM

from llmft_assets.modeling.distributed import train_distributed
from llmft_assets.modeling.evaluation import EvalSequences, hf_perplexity
from llmft_assets.modeling.merge import MergeParity, merge_adapter
from llmft_assets.modeling.plots import loss_curves_png
from llmft_assets.modeling.settings import TrainingSettings
from llmft_assets.modeling.training import CheckpointSync, TrainingReport, train_lora
from llmft_assets.reports import Report
from llmft_assets.training_data.formats import DatasetFormat

LOSS_CURVES = "loss_curves.png"  # beside the adapter's weights


def run_training(
    base_dir: Path,
    dataset_dir: Path,
    fmt: DatasetFormat,
    settings: TrainingSettings,
    work_dir: Path,
    checkpoints: CheckpointSync,
    log: Callable[[str], None] = print,
) -> tuple[Path, TrainingReport, EvalSequences]:
    """Train a LoRA adapter of the base on the saved dataset (of format `fmt`); return the
    adapter folder (with its tokenizer and loss curves), the report and the exact
    validation sequences that were scored."""
    if settings.processes > 1:
        adapter_dir, report, sequences = train_distributed(
            base_dir, dataset_dir, fmt, settings, work_dir, checkpoints, log
        )
    else:
        dataset = load_from_disk(str(dataset_dir))
        adapter_dir, report, sequences = train_lora(
            base_dir, dataset, fmt, settings, work_dir, checkpoints, log
        )
    curves = loss_curves_png(report.train_loss, report.eval_loss, f"LoRA on {fmt.value} data")
    (adapter_dir / LOSS_CURVES).write_bytes(curves)
    return adapter_dir, report, sequences


@dataclass(frozen=True)
class MergeReport(Report):
    """What `merged_model` did: how closely the merge matches base + adapter, and the merged
    model's validation perplexity."""

    parity: MergeParity
    perplexity: float


def run_merge(
    base_dir: Path, adapter_dir: Path, sequences: EvalSequences, out_dir: Path
) -> MergeReport:
    """Merge the adapter into the base, saved to `out_dir`; score the saved weights on the
    validation sequences training scored."""
    parity = merge_adapter(base_dir, adapter_dir, out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)
    return MergeReport(parity=parity, perplexity=hf_perplexity(model, sequences))
