"""The model stages the assets call: `run_training` (`lora_adapter`) and `run_merge`
(`merged_model`), each returning its typed report.

Training runs in this process, or data-parallel in `job.settings.processes` processes under
torchrun (distributed.py); both take the same job and give the same results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmft_assets.modeling.distributed import train_distributed
from llmft_assets.modeling.evaluation import EvalSequences, hf_perplexity
from llmft_assets.modeling.merge import MergeParity, merge_adapter
from llmft_assets.modeling.plots import loss_curves_png
from llmft_assets.modeling.settings import Quantization
from llmft_assets.modeling.training import (
    CheckpointSync,
    Log,
    TrainingJob,
    TrainingReport,
    train_lora,
)
from llmft_assets.reports import Report

LOSS_CURVES = "loss_curves.png"  # beside the adapter's weights


def run_training(
    job: TrainingJob, work_dir: Path, checkpoints: CheckpointSync, log: Log = print
) -> tuple[Path, TrainingReport, EvalSequences]:
    """Train the job's LoRA adapter; return the adapter folder (with its tokenizer and loss
    curves), the report and the exact validation sequences that were scored."""
    if job.settings.processes > 1:
        adapter_dir, report, sequences = train_distributed(job, work_dir, checkpoints, log)
    else:
        from datasets import load_from_disk

        dataset = load_from_disk(str(job.dataset_dir))
        adapter_dir, report, sequences = train_lora(
            job.base_dir, dataset, job.format, job.settings, work_dir, checkpoints, log
        )
    title = f"LoRA on {job.format.value} data"
    (adapter_dir / LOSS_CURVES).write_bytes(
        loss_curves_png(report.train_loss, report.eval_loss, title)
    )
    return adapter_dir, report, sequences


@dataclass(frozen=True)
class MergeReport(Report):
    """What `merged_model` did: how closely the merge matches base + adapter, the merged
    model's validation perplexity, and that of base + adapter as they trained (the base in
    nf4 under QLoRA), on the same tokens."""

    parity: MergeParity
    perplexity: float
    trained_quantization: Quantization
    trained_perplexity: float

    @property
    def quantization_gap(self) -> float:
        """The merged model's perplexity against the trained one's, less 1: what moving the
        adapter from the base it trained on to the 16-bit weights cost (negative: gained).
        Zero up to rounding when the base trained unquantized."""
        return self.perplexity / self.trained_perplexity - 1


def run_merge(
    base_dir: Path,
    adapter_dir: Path,
    sequences: EvalSequences,
    training: TrainingReport,
    out_dir: Path,
) -> MergeReport:
    """Merge the adapter into the 16-bit base, saved to `out_dir`; score the saved weights on
    the validation sequences training scored."""
    import torch
    from transformers import AutoModelForCausalLM

    parity = merge_adapter(base_dir, adapter_dir, out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)
    return MergeReport(
        parity=parity,
        perplexity=hf_perplexity(model, sequences),
        trained_quantization=training.hardware.quantization,
        trained_perplexity=training.fine_tuned_perplexity,
    )
