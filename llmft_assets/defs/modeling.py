"""The model half: base model -> LoRA adapter -> merged model -> GGUF, with their reports."""

import base64
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import dagster as dg

from llmft_assets.defs.metadata import markdown_table, stored
from llmft_assets.defs.preparation import training_dataset
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.export.stage import ExportReport, ExportSettings, run_export
from llmft_assets.launching.routing import COMPUTE_TAG, GPU
from llmft_assets.modeling.base import BaseModelSettings, run_base_model
from llmft_assets.modeling.evaluation import EvalSequences
from llmft_assets.modeling.settings import TrainingSettings
from llmft_assets.modeling.stage import LOSS_CURVES, MergeReport, run_merge, run_training
from llmft_assets.modeling.training import TrainingJob, TrainingReport
from llmft_assets.storage import layout
from llmft_assets.storage.checkpoints import StoreCheckpoints
from llmft_assets.training_data.build import DatasetReport

ML_TEAM = "team:ml"


class BaseModelConfig(dg.Config, BaseModelSettings):
    pass


@dg.asset(group_name="model", kinds={"pytorch", "safetensors"}, owners=[ML_TEAM])
def base_model(
    config: BaseModelConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The base model as plain bf16 safetensors with its tokenizer and chat template,
    whatever its source (a GGUF is dequantized)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "base"
        report = run_base_model(config, folder)
        info = artifact_store.store().write_tree(layout.BASE_MODEL, folder)
    return dg.MaterializeResult(metadata={**asdict(report), **stored(info)})


class TrainingConfig(dg.Config, TrainingSettings):
    pass


@dg.asset(
    deps=[base_model, training_dataset],
    tags={COMPUTE_TAG: GPU},  # the GPU run launcher sends runs that include this to a GPU
    group_name="model",
    kinds={"pytorch", "peft"},
    owners=[ML_TEAM],
)
def lora_adapter(
    context: dg.AssetExecutionContext, config: TrainingConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """A LoRA adapter trained with TRL's SFTTrainer (by default QLoRA on CUDA, LoRA on CPU;
    nf4 on CPU when asked).
    Checkpoints go to the artifact store; a re-run after a crash resumes from the latest one."""
    store = artifact_store.store()
    inputs = (layout.BASE_MODEL, layout.DATASET)
    checkpoints = StoreCheckpoints.for_job(store, layout.CHECKPOINTS, config.fingerprint(), inputs)
    dataset_dir = store.read_tree(layout.DATASET)
    fmt = DatasetReport.from_json((dataset_dir / layout.DATASET_INFO).read_text()).format
    job = TrainingJob(store.read_tree(layout.BASE_MODEL), dataset_dir, fmt, config)
    with tempfile.TemporaryDirectory() as tmp:
        adapter_dir, report, sequences = run_training(
            job, Path(tmp), checkpoints, log=context.log.info
        )
        curves = (adapter_dir / LOSS_CURVES).read_bytes()
        info = store.write_tree(layout.ADAPTER, adapter_dir)
    store.write_bytes(layout.EVAL_SEQUENCES, sequences.to_json().encode())
    store.write_bytes(layout.TRAINING_REPORT, report.to_json().encode())
    checkpoints.clear()
    return dg.MaterializeResult(metadata={**_training_metadata(report, curves), **stored(info)})


def _training_metadata(report: TrainingReport, curves: bytes) -> dict[str, object]:
    image = base64.b64encode(curves).decode()
    return {
        "format": report.format.value,
        "device": report.hardware.device.value,
        "quantization": report.hardware.quantization.value,
        "optimizer": report.hardware.optimizer.value,
        "precision": report.hardware.precision.value,
        "steps": report.steps,
        "resumed_from_step": report.resumed_from_step,
        "train_tokens": report.train_tokens,
        "tokens_per_second": dg.MetadataValue.float(round(report.tokens_per_second, 1)),
        "train_seconds": dg.MetadataValue.float(round(report.train_seconds, 1)),
        "peak_memory_mib": dg.MetadataValue.float(round(report.peak_memory_mib, 1)),
        "base_perplexity": dg.MetadataValue.float(round(report.base_perplexity, 3)),
        "fine_tuned_perplexity": dg.MetadataValue.float(round(report.fine_tuned_perplexity, 3)),
        "perplexity_ratio": dg.MetadataValue.float(
            round(report.fine_tuned_perplexity / report.base_perplexity, 3)
        ),
        "eval_tokens": report.eval_tokens,
        "loss_curves": dg.MetadataValue.md(
            f"![loss curves](data:image/png;base64,{image})\n\n"
            + _curve_table(report.train_loss, report.eval_loss)
        ),
    }


def _curve_table(
    train: Sequence[tuple[int, float]], evaluation: Sequence[tuple[int, float]]
) -> str:
    rows = sorted({s for s, _ in train} | {s for s, _ in evaluation})
    train_at, eval_at = dict(train), dict(evaluation)
    lines = ["| step | train loss | validation loss |", "|---|---|---|"]
    lines += [
        f"| {s} | {train_at.get(s, ''):{'.4f' if s in train_at else ''}} "
        f"| {eval_at.get(s, ''):{'.4f' if s in eval_at else ''}} |"
        for s in rows
    ]
    return "\n".join(lines)


@dg.asset(
    deps=[lora_adapter, base_model],
    group_name="model",
    kinds={"pytorch", "safetensors"},
    owners=[ML_TEAM],
)
def merged_model(artifact_store: ArtifactStoreResource) -> dg.MaterializeResult:
    """The adapter merged into the 16-bit base weights (never into dequantized 4-bit ones):
    float16 safetensors and tokenizer, ready for conversion."""
    store = artifact_store.store()
    sequences = EvalSequences.from_json(store.read_bytes(layout.EVAL_SEQUENCES))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "merged"
        report = run_merge(
            store.read_tree(layout.BASE_MODEL),
            store.read_tree(layout.ADAPTER),
            sequences,
            TrainingReport.from_json(store.read_bytes(layout.TRAINING_REPORT)),
            folder,
        )
        info = store.write_tree(layout.MERGED_MODEL, folder)
    store.write_bytes(layout.MERGE_REPORT, report.to_json().encode())
    return dg.MaterializeResult(
        metadata={
            "max_abs_logit_diff": dg.MetadataValue.float(report.parity.max_abs_logit_diff),
            "mean_kl_divergence": dg.MetadataValue.float(report.parity.mean_kl_divergence),
            "top1_agreement": dg.MetadataValue.float(report.parity.top1_agreement),
            "validation_perplexity": dg.MetadataValue.float(round(report.perplexity, 3)),
            "trained_quantization": report.trained_quantization.value,
            "trained_perplexity": dg.MetadataValue.float(round(report.trained_perplexity, 3)),
            "quantization_gap": dg.MetadataValue.float(round(report.quantization_gap, 4)),
            **stored(info),
        }
    )


class GGUFConfig(dg.Config, ExportSettings):
    pass


@dg.asset(
    deps=[merged_model, lora_adapter],
    group_name="model",
    kinds={"gguf", "ollama"},
    owners=[ML_TEAM],
)
def gguf_model(config: GGUFConfig, artifact_store: ArtifactStoreResource) -> dg.MaterializeResult:
    """llama.cpp GGUF files (f16 and the quantizations asked for), each smoke-tested and
    scored on the validation split, with an Ollama Modelfile."""
    store = artifact_store.store()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_export(
            store.read_tree(layout.MERGED_MODEL),
            EvalSequences.from_json(store.read_bytes(layout.EVAL_SEQUENCES)),
            TrainingReport.from_json(store.read_bytes(layout.TRAINING_REPORT)),
            MergeReport.from_json(store.read_bytes(layout.MERGE_REPORT)),
            config,
            Path(tmp),
        )
        info = store.write_tree(layout.GGUF_MODEL, Path(tmp))
    store.write_bytes(layout.EXPORT_REPORT, report.to_json().encode())
    return dg.MaterializeResult(metadata={**_export_metadata(report), **stored(info)})


def _export_metadata(report: ExportReport) -> dict[str, dg.MetadataValue]:
    sample = report.files[report.modelfile_uses].smoke
    return {
        "perplexity_table": markdown_table(
            ("model", "validation perplexity"),
            [
                ("base (bf16 HF)", f"{report.base_perplexity:.3f}"),
                ("fine-tuned (base + adapter)", f"{report.adapter_perplexity:.3f}"),
                ("merged (HF)", f"{report.merged_perplexity:.3f}"),
                *[(f"GGUF {name}", f"{f.perplexity:.3f}") for name, f in report.files.items()],
            ],
        ),
        "files": markdown_table(
            ("file", "size (MiB)", "sha256"),
            [(f.file, f"{f.size_bytes / 2**20:.1f}", f.sha256) for f in report.files.values()],
        ),
        "sample_generation": dg.MetadataValue.md(
            f"**{report.modelfile_uses}**, prompt: _{sample.prompt}_ "
            f"(finish: {sample.finish_reason}, {sample.completion_tokens} tokens)\n\n"
            + "\n".join(f"> {line}" for line in sample.text.splitlines())
        ),
        "modelfile": dg.MetadataValue.md(f"```\n{report.modelfile}```"),
    }
