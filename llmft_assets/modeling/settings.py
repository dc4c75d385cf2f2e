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
    nf4 = "nf4"  # QLoRA: 4-bit NormalFloat through bitsandbytes (CUDA, or its CPU backend)
    none = "none"  # plain LoRA on the unquantized base


class Optimizer(StrEnum):
    """What updates the LoRA weights; each value is the Trainer's `optim` name."""

    auto = "auto"  # paged_adamw_8bit on CUDA, adamw_torch on CPU
    # bitsandbytes AdamW with 8-bit moments; paged to host memory on CUDA, so a memory spike
    # pages out instead of failing (bitsandbytes does not page on CPU).
    paged_adamw_8bit = "paged_adamw_8bit"
    adamw_torch = "adamw_torch"  # torch's AdamW, fp32 moments


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
        description="The frozen base: nf4 (QLoRA through bitsandbytes, on CUDA or CPU) or none."
        " auto: nf4 on CUDA, none on CPU.",
    )
    optimizer: Optimizer = Field(
        default=Optimizer.auto,
        description="paged_adamw_8bit (bitsandbytes) or adamw_torch. auto: paged_adamw_8bit on"
        " CUDA, adamw_torch on CPU.",
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
    optimizer: Optimizer
    attention: str  # flex_attention on CUDA (varlen-aware masks for packed batches), else sdpa
    fused_loss: bool  # Liger's fused linear cross-entropy: on CUDA, when installed
    processes: int  # data-parallel training processes


def resolve_hardware(settings: TrainingSettings) -> Hardware:
    """The settings' hardware choices on this machine; ValueError for one it can't run."""
    import torch

    has_cuda = torch.cuda.is_available()
    if settings.device is Device.cuda and not has_cuda:
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA device")
    cuda = settings.device is Device.cuda or (settings.device is Device.auto and has_cuda)
    quantization = settings.quantization
    if quantization is Quantization.auto:
        quantization = Quantization.nf4 if cuda else Quantization.none
    optimizer = settings.optimizer
    if optimizer is Optimizer.auto:
        optimizer = Optimizer.paged_adamw_8bit if cuda else Optimizer.adamw_torch
    device = Device.cuda if cuda else Device.cpu
    for asked, needs_bitsandbytes in (
        (f"quantization '{quantization}'", quantization is Quantization.nf4),
        (f"optimizer '{optimizer}'", optimizer is Optimizer.paged_adamw_8bit),
    ):
        if needs_bitsandbytes and (problem := bitsandbytes_problem(device)):
            raise ValueError(f"{asked} needs bitsandbytes, which can't run here: {problem}")
    precision = settings.precision
    if precision is Precision.auto:
        precision = Precision.bf16 if cuda or cpu_computes_bf16() else Precision.fp32
    return Hardware(
        device=device,
        precision=precision,
        quantization=quantization,
        optimizer=optimizer,
        attention="flex_attention" if cuda else "sdpa",
        fused_loss=cuda and importlib.util.find_spec("liger_kernel") is not None,
        processes=settings.processes,
    )


def cpu_computes_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively; elsewhere bf16 is emulated, slower than fp32."""
    import torch

    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def bitsandbytes_problem(device: Device) -> str | None:
    """Why bitsandbytes can't quantize and step an optimizer on `device`; None when it can.

    On CPU a 4-bit round trip is tried (a millisecond); on CUDA only whether bitsandbytes loaded
    its CUDA library, so that checking settings never opens a CUDA context in a process that
    does not train (the launcher of a data-parallel run).
    """
    if importlib.util.find_spec("bitsandbytes") is None:
        return "it is not installed (pip install bitsandbytes==0.50.2)"
    import bitsandbytes
    import torch
    from bitsandbytes.cextension import ErrorHandlerMockBNBNativeLibrary, lib

    if device is Device.cuda:
        if isinstance(lib, ErrorHandlerMockBNBNativeLibrary):
            return (
                f"bitsandbytes {bitsandbytes.__version__} could not load its library for torch "
                f"{torch.__version__} (CUDA {torch.version.cuda}): {lib.error_msg}"
            )
        return None
    try:
        packed, state = bitsandbytes.functional.quantize_4bit(torch.ones(64), quant_type="nf4")
        bitsandbytes.functional.dequantize_4bit(packed, state)
    except (RuntimeError, NotImplementedError, AttributeError) as error:
        return f"bitsandbytes {bitsandbytes.__version__} has no CPU backend ({error})"
    return None
