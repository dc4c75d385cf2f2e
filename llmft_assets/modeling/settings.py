"""What a LoRA training run learns, and on what hardware: one settings model, resolved once.

`TrainingSettings` is both what `train_lora` takes and the `lora_adapter` asset's run config
(the Dagster config class derives from it). Hardware choices are explicit settings with an
`auto` value, as TRL's are; `resolve_hardware` turns them into what this machine will do, and
refuses a choice it can't run when the settings are made, before anything is loaded or written.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from enum import StrEnum

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Device(StrEnum):
    auto = "auto"  # CUDA when torch sees a GPU, else CPU
    cpu = "cpu"
    cuda = "cuda"


class Precision(StrEnum):
    auto = "auto"  # bf16 on CUDA and on CPUs that multiply bf16 natively, else fp32
    bf16 = "bf16"  # bf16 matrix products; on CPU the weights and optimizer stay fp32 (mixed)
    fp32 = "fp32"


class Quantization(StrEnum):
    """How the frozen base weights are held while the adapter trains."""

    auto = "auto"  # nf4 on CUDA, none on CPU
    nf4 = "nf4"  # QLoRA: 4-bit NormalFloat through bitsandbytes
    none = "none"  # plain LoRA on the unquantized base


class TrainingSettings(BaseModel):
    """Everything that decides what is learned and how; the run's fingerprint is its hash."""

    model_config = ConfigDict(frozen=True)

    lora_r: int = Field(default=16, description="LoRA rank.")
    lora_alpha: int = Field(default=32, description="LoRA scale numerator (scale = alpha / r).")
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
    device: Device = Field(default=Device.auto, description="auto: CUDA when there is a GPU.")
    precision: Precision = Field(
        default=Precision.auto,
        description="auto: bf16 on CUDA and on CPUs with AVX512-BF16 or AMX, else fp32.",
    )
    quantization: Quantization = Field(
        default=Quantization.auto,
        description="The frozen base: nf4 (QLoRA, CUDA only) or none. auto: nf4 on CUDA.",
    )

    @model_validator(mode="after")
    def _runs_here(self) -> TrainingSettings:
        resolve_hardware(self)
        return self

    def fingerprint(self) -> str:
        values = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(values.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Hardware:
    """What a run does on this machine, every `auto` resolved."""

    device: Device
    precision: Precision
    quantization: Quantization
    optimizer: str  # the Trainer's `optim`: paged 8-bit AdamW on CUDA, torch AdamW on CPU
    attention: str  # flex_attention on CUDA (varlen-aware masks for packed batches), else sdpa
    fused_loss: bool  # Liger's fused linear cross-entropy: on CUDA, when installed
    processes: int  # data-parallel training processes


def resolve_hardware(settings: TrainingSettings) -> Hardware:
    """The settings' hardware choices on this machine; ValueError for one it can't run."""
    has_cuda = torch.cuda.is_available()
    if settings.device is Device.cuda and not has_cuda:
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA device")
    cuda = settings.device is Device.cuda or (settings.device is Device.auto and has_cuda)
    quantization = settings.quantization
    if quantization is Quantization.auto:
        quantization = Quantization.nf4 if cuda else Quantization.none
    if quantization is Quantization.nf4 and not cuda:
        raise ValueError("quantization 'nf4' (QLoRA) runs on CUDA only; on CPU use 'none'")
    precision = settings.precision
    if precision is Precision.auto:
        precision = Precision.bf16 if cuda or cpu_computes_bf16() else Precision.fp32
    return Hardware(
        device=Device.cuda if cuda else Device.cpu,
        precision=precision,
        quantization=quantization,
        optimizer="paged_adamw_8bit" if cuda else "adamw_torch",
        attention="flex_attention" if cuda else "sdpa",
        fused_loss=cuda and importlib.util.find_spec("liger_kernel") is not None,
        processes=settings.processes,
    )


def cpu_computes_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively; elsewhere bf16 is emulated, slower than fp32."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
