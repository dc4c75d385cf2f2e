"""Training settings: hardware choices resolved once, refused when they can't run here, and
passed on to the trainer as chosen."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from llmft_assets.modeling.gpu import MemoryPlan
from llmft_assets.modeling.settings import (
    Device,
    Optimizer,
    Precision,
    Quantization,
    TrainingSettings,
    bitsandbytes_problem,
    cpu_computes_bf16,
    resolve_hardware,
)
from llmft_assets.modeling.training import _sft_config

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_cpu_computes_bf16_follows_the_cpu_flags() -> None:
    """bf16 autocast only where the chip multiplies bf16 natively (emulated bf16 is slower);
    the flags come from Linux, the only system the project runs on."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    assert cpu_computes_bf16() == bool({"avx512_bf16", "amx_tile"} & flags)


@needs_no_cuda
def test_auto_on_a_cpu_machine_is_lora_in_the_precision_the_cpu_computes() -> None:
    hardware = resolve_hardware(TrainingSettings())
    assert hardware.device is Device.cpu
    assert hardware.quantization is Quantization.none
    assert hardware.precision is (Precision.bf16 if cpu_computes_bf16() else Precision.fp32)
    assert (hardware.optimizer, hardware.attention, hardware.fused_loss) == (
        "adamw_torch",
        "sdpa",
        False,
    )


@pytest.mark.parametrize("precision", [Precision.bf16, Precision.fp32])
def test_an_explicit_precision_is_what_the_trainer_gets(precision: Precision, tmp_path) -> None:
    settings = TrainingSettings(device="cpu", precision=precision)
    hardware = resolve_hardware(settings)
    assert hardware.precision is precision
    plan = MemoryPlan(batch_size=4, gradient_checkpointing=False, estimated_peak_gib=0.0)
    config = _sft_config(settings, hardware, plan, tmp_path)
    assert config.bf16 is (precision is Precision.bf16)
    assert config.use_cpu and config.optim == "adamw_torch"


def test_the_chosen_optimizer_is_what_the_trainer_gets(tmp_path) -> None:
    settings = TrainingSettings(device="cpu", optimizer="paged_adamw_8bit")
    plan = MemoryPlan(batch_size=4, gradient_checkpointing=False, estimated_peak_gib=0.0)
    config = _sft_config(settings, resolve_hardware(settings), plan, tmp_path)
    assert config.optim == "paged_adamw_8bit"


@needs_no_cuda
def test_cuda_asked_for_without_a_gpu_is_refused_when_the_settings_are_made() -> None:
    with pytest.raises(ValidationError, match="torch sees no CUDA device"):
        TrainingSettings(device="cuda")


def test_nf4_and_the_8bit_optimizer_run_on_cpu_through_bitsandbytes() -> None:
    """QLoRA is a choice on CPU too (bitsandbytes' CPU backend); auto keeps plain LoRA."""
    assert bitsandbytes_problem(Device.cpu) is None
    hardware = resolve_hardware(
        TrainingSettings(device="cpu", quantization="nf4", optimizer="paged_adamw_8bit")
    )
    assert (hardware.device, hardware.quantization, hardware.optimizer) == (
        Device.cpu,
        Quantization.nf4,
        Optimizer.paged_adamw_8bit,
    )
    # Each choice stands alone: nf4 keeps torch AdamW unless asked, and the reverse.
    alone = resolve_hardware(TrainingSettings(device="cpu", quantization="nf4"))
    assert alone.optimizer is Optimizer.adamw_torch
    alone = resolve_hardware(TrainingSettings(device="cpu", optimizer="paged_adamw_8bit"))
    assert alone.quantization is Quantization.none


@pytest.mark.parametrize(
    ("settings", "asked"),
    [
        ({"quantization": "nf4"}, "quantization 'nf4'"),
        ({"optimizer": "paged_adamw_8bit"}, "optimizer 'paged_adamw_8bit'"),
    ],
)
def test_bitsandbytes_choices_without_bitsandbytes_are_refused_when_the_settings_are_made(
    settings: dict, asked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    TrainingSettings(device="cpu", **settings)  # with bitsandbytes: fine
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as if it were not installed
    with pytest.raises(ValidationError) as refused:
        TrainingSettings(device="cpu", **settings)
    assert f"{asked} needs bitsandbytes, which can't run here: it is not installed" in str(
        refused.value
    )
    assert "pip install bitsandbytes==0.50.2" in str(refused.value)
    TrainingSettings(device="cpu")  # the CPU default does not need it


def test_an_unknown_choice_is_refused() -> None:
    with pytest.raises(ValidationError):
        TrainingSettings(precision="fp16")


def test_the_fingerprint_changes_with_any_setting_and_only_then() -> None:
    settings = TrainingSettings(max_steps=80)
    assert TrainingSettings(max_steps=80).fingerprint() == settings.fingerprint()
    changed = [
        TrainingSettings(max_steps=81),
        TrainingSettings(max_steps=80, target_modules=["q_proj"]),
        TrainingSettings(max_steps=80, precision="fp32"),
        TrainingSettings(max_steps=80, quantization="nf4"),
        TrainingSettings(max_steps=80, optimizer="paged_adamw_8bit"),
    ]
    assert len({settings.fingerprint(), *(c.fingerprint() for c in changed)}) == 6
