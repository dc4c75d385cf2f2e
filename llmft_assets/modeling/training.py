"""LoRA fine-tuning with TRL's SFTTrainer, on the hardware the settings resolve to: by default
QLoRA (4-bit NF4, paged 8-bit AdamW) computing in bf16 on CUDA, plain LoRA with torch AdamW on
CPU, where bf16 is mixed precision (weights and optimizer state in fp32) on CPUs that multiply
bf16 natively (AVX512-BF16 or AMX), and fp32 elsewhere. QLoRA also runs on CPU, through
bitsandbytes' CPU backend, when the settings ask for nf4: slower, but the same code path.

`train_lora` is the one training loop; the training stage (one process, or one per GPU under
torchrun) and the benchmarks call it. It evaluates the untouched base on the validation split
first (LoRA starts as a no-op), trains with eval and checkpoints every N steps, and evaluates
again. Checkpoints go through a `CheckpointSync` (the artifact store, in the asset), so a
re-run after a crash or preemption resumes from the latest one by itself.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llmft_assets.modeling.evaluation import EvalSequences, hf_perplexity
from llmft_assets.modeling.gpu import GIB, MemoryPlan, ModelShape, plan_memory
from llmft_assets.modeling.settings import (
    Device,
    Hardware,
    Precision,
    Quantization,
    TrainingSettings,
    resolve_hardware,
)
from llmft_assets.reports import Report
from llmft_assets.training_data.formats import PROMPT_SEPARATOR, DatasetFormat

if TYPE_CHECKING:
    import torch
    from datasets import Dataset, DatasetDict
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase
    from trl import SFTConfig

CHECKPOINT_PREFIX = "checkpoint-"
WARMUP_STEPS = 3  # steps the steady throughput leaves out (compilation, allocation)
Log = Callable[[str], None]  # where progress lines go: print, or the Dagster run's log


class CheckpointSync(Protocol):
    """Keeps checkpoints somewhere that outlives this machine."""

    def latest(self, local_dir: Path) -> Path | None:
        """Fetch the latest stored checkpoint into `local_dir`; its path, or None."""

    def save(self, checkpoint: Path) -> None:
        """Store a checkpoint the trainer just wrote."""


class NoCheckpointSync:
    """Checkpoints stay in the run's work folder: for throwaway runs (benchmarks, sweeps)."""

    def latest(self, local_dir: Path) -> Path | None:
        return None

    def save(self, checkpoint: Path) -> None:
        pass


@dataclass(frozen=True)
class TrainingJob:
    """What a training stage trains: these settings on this base and this saved dataset."""

    base_dir: Path
    dataset_dir: Path
    format: DatasetFormat
    settings: TrainingSettings


@dataclass(frozen=True)
class TrainingReport(Report):
    """What a training run did: the `lora_adapter` asset's metadata and its check's input."""

    format: DatasetFormat
    max_length: int  # tokens per training sequence: the context the model was trained for
    hardware: Hardware
    batch_size: int
    gradient_checkpointing: bool
    steps: int
    resumed_from_step: int
    train_tokens: int
    train_seconds: float
    tokens_per_second: float  # this run's tokens over its whole training time
    steady_tokens_per_second: float  # after the first WARMUP_STEPS (compilation, allocation)
    peak_memory_mib: float
    base_perplexity: float
    fine_tuned_perplexity: float
    eval_tokens: int
    train_loss: tuple[tuple[int, float], ...]
    eval_loss: tuple[tuple[int, float], ...]


def pick_pad_token(tokenizer: PreTrainedTokenizerBase) -> str:
    """A pad token that is not EOS, so padding never hides the EOS the model must learn."""
    if tokenizer.pad_token is not None and tokenizer.pad_token != tokenizer.eos_token:
        return tokenizer.pad_token
    for candidate in ("<|endoftext|>", "<|finetune_right_pad_id|>", "<pad>", tokenizer.unk_token):
        if candidate and candidate != tokenizer.eos_token and candidate in tokenizer.get_vocab():
            return candidate
    raise ValueError("the tokenizer has no token other than EOS to pad with")


def to_trl_records(dataset: Dataset, fmt: DatasetFormat) -> Dataset:
    """Our stored formats, as the dataset shapes TRL trains on.

    completion stays plain text (loss on everything, EOS appended by TRL); the others become
    prompt/completion pairs, conversational where the chat template applies, so the loss
    falls on the response only.
    """
    if fmt is DatasetFormat.completion:
        return dataset.select_columns(["text"])
    if fmt is DatasetFormat.input_response:
        return dataset.map(
            # The separator opens the completion: a prompt that ends on text tokenizes the same
            # alone and followed by its response, and the model learns to write the break.
            lambda r: {"prompt": r["input"], "completion": PROMPT_SEPARATOR + r["response"]},
            remove_columns=dataset.column_names,
        )
    column = "conversations" if fmt is DatasetFormat.conversations else "messages"

    def split_turns(record: dict) -> dict:
        turns = [
            {
                "role": _ROLE.get(t.get("from", t.get("role")), t.get("role")),
                "content": t.get("value", t.get("content")),
            }
            for t in record[column]
        ]
        return {"prompt": turns[:-1], "completion": turns[-1:]}

    return dataset.map(split_turns, remove_columns=dataset.column_names)


_ROLE = {"human": "user", "gpt": "assistant", "system": "system"}


def train_lora(
    base_dir: Path,
    dataset: DatasetDict,
    fmt: DatasetFormat,
    settings: TrainingSettings,
    work_dir: Path,
    checkpoints: CheckpointSync,
    log: Log = print,
) -> tuple[Path, TrainingReport, EvalSequences]:
    """Train; return the adapter folder, the report and the exact validation sequences."""
    import torch
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    from llmft_assets.modeling.callbacks import SyncCheckpoints, Throughput

    hardware = resolve_hardware(settings)
    cuda = hardware.device is Device.cuda
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.pad_token = pick_pad_token(tokenizer)
    model = _load_for_training(base_dir, hardware)
    plan = _memory_plan(settings, model, hardware)
    log(
        f"{hardware.device} {hardware.precision}, quantization {hardware.quantization}, "
        f"optimizer {hardware.optimizer}, micro-batch {plan.batch_size}, activation checkpointing "
        f"{'on' if plan.gradient_checkpointing else 'off'}, {hardware.attention}, fused loss "
        f"{'on' if hardware.fused_loss else 'off'} "
        f"(estimated peak {plan.estimated_peak_gib:.1f} GiB)"
    )
    if hardware.quantization is Quantization.nf4:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=plan.gradient_checkpointing
        )
    train = to_trl_records(dataset["train"], fmt)
    evaluation = to_trl_records(dataset["validation"], fmt)
    evaluation = evaluation.shuffle(seed=settings.seed).select(
        range(min(settings.max_eval_samples, len(evaluation)))
    )
    output_dir = work_dir / "trainer"
    trainer = SFTTrainer(
        model=model,
        args=_sft_config(settings, hardware, plan, output_dir),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=settings.lora_r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=settings.target_modules
            if settings.target_modules != ["all-linear"]
            else "all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    # TRL casts the LoRA weights of a quantized model to bf16, but a resumed run reloads them
    # in fp32 (PEFT's default), so it would go on training differently from an uninterrupted
    # one. fp32 in every run, as plain LoRA and the memory plan have them.
    for parameter in trainer.model.parameters():
        if parameter.requires_grad:
            parameter.data = parameter.data.float()
    sequences = EvalSequences.from_trl_dataset(trainer.eval_dataset)
    trainer.add_callback(SyncCheckpoints(checkpoints, log))
    throughput = Throughput(cuda)
    trainer.add_callback(throughput)

    resume = checkpoints.latest(output_dir)
    resumed_from = int(resume.name.removeprefix(CHECKPOINT_PREFIX)) if resume else 0
    if resume:
        log(f"resuming from {resume.name} (step {resumed_from})")
    base_perplexity = hf_perplexity(trainer.model, sequences, disable_adapter=True)
    log(f"base model validation perplexity: {base_perplexity:.2f}")

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - started

    # Without the mixed-precision wrapper Accelerate put on forward, so the fine-tuned model
    # is scored in full precision, as the base was before training.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    adapter_dir = work_dir / "adapter"
    if trainer.is_world_process_zero():
        model.save_pretrained(adapter_dir)
        tokenizer.save_pretrained(adapter_dir)
    fine_tuned = hf_perplexity(model, sequences)
    log(f"fine-tuned validation perplexity: {fine_tuned:.2f}")
    history = trainer.state.log_history
    tokens = int(trainer.state.num_input_tokens_seen) - throughput.tokens_at_start
    report = TrainingReport(
        format=fmt,
        max_length=settings.max_length,
        hardware=hardware,
        batch_size=plan.batch_size,
        gradient_checkpointing=plan.gradient_checkpointing,
        steps=trainer.state.global_step,
        resumed_from_step=resumed_from,
        train_tokens=tokens,
        train_seconds=seconds,
        tokens_per_second=tokens / seconds if seconds else 0.0,
        steady_tokens_per_second=throughput.steady(),
        peak_memory_mib=_peak_memory_mib(cuda),
        base_perplexity=base_perplexity,
        fine_tuned_perplexity=fine_tuned,
        eval_tokens=sequences.scored_tokens,
        train_loss=tuple((h["step"], h["loss"]) for h in history if "loss" in h),
        eval_loss=tuple((h["step"], h["eval_loss"]) for h in history if "eval_loss" in h),
    )
    return adapter_dir, report, sequences


def _load_for_training(base_dir: Path, hardware: Hardware) -> torch.nn.Module:
    """The frozen base, in fp32 on CPU (bf16 weights were measured slower there) and in the
    compute dtype on CUDA; with nf4, its linear layers in 4-bit NF4 computing in the
    precision's dtype, on either device."""
    import torch
    from transformers import AutoModelForCausalLM

    cpu = hardware.device is Device.cpu
    compute = torch.bfloat16 if hardware.precision is Precision.bf16 else torch.float32
    quantization = None
    if hardware.quantization is Quantization.nf4:
        from transformers import BitsAndBytesConfig

        _refuse_quantized_base(base_dir)
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
    model = AutoModelForCausalLM.from_pretrained(
        base_dir,
        quantization_config=quantization,
        dtype=torch.float32 if cpu else compute,
        attn_implementation=hardware.attention,
        # the whole model on this process's device: the CPU, or one GPU per rank
        device_map={"": "cpu" if cpu else int(os.environ.get("LOCAL_RANK", 0))},
    )
    if quantization is not None:
        from bitsandbytes.nn import Linear4bit

        quantized = [m for m in model.modules() if isinstance(m, Linear4bit)]
        if not quantized:
            raise ValueError(
                f"the base model ({type(model).__name__}) has no linear layer bitsandbytes can "
                "quantize to nf4; train it with quantization 'none'"
            )
        for layer in quantized:
            # On AVX512-BF16 CPUs bitsandbytes 0.50.2 repacks a layer's weights for a faster
            # inference kernel at its first forward without gradients (the base model's
            # evaluation), and that kernel has no backward: training after it would silently
            # stop every gradient through the frozen layers. Keep the differentiable kernel.
            layer.support_avx512bf16_for_cpu = False
    return model


def _refuse_quantized_base(base_dir: Path) -> None:
    """A base that is already quantized (GPTQ, AWQ, FP8, ...) can't be re-quantized to nf4:
    say so before loading it, instead of transformers' conflict of quantization configs."""
    config = json.loads((base_dir / "config.json").read_text())
    if method := (config.get("quantization_config") or {}).get("quant_method"):
        raise ValueError(
            f"the base model in {base_dir} is already quantized ({method}); nf4 needs 16- or "
            "32-bit weights: use an unquantized base, or train with quantization 'none'"
        )


CPU_BATCH_SIZE = 4


def _memory_plan(
    settings: TrainingSettings, model: torch.nn.Module, hardware: Hardware
) -> MemoryPlan:
    """Explicit settings win; on CUDA the rest is planned from free memory, once the base
    weights are loaded, so the base is measured rather than guessed."""
    import torch

    if hardware.device is Device.cpu:
        return MemoryPlan(
            settings.batch_size or CPU_BATCH_SIZE, bool(settings.gradient_checkpointing), 0.0
        )
    free, _ = torch.cuda.mem_get_info()
    budget = min(free + torch.cuda.memory_allocated(), (settings.max_memory_gib or 1e9) * GIB)
    shape = ModelShape.of(model.config)
    lora_params = (
        settings.lora_r
        * shape.layers
        * (4 * 2 * shape.hidden + 3 * (shape.hidden + shape.intermediate))
    )
    # LoRA weights and gradients in fp32, and 8-bit Adam's two moments.
    base = torch.cuda.memory_allocated() + lora_params * (4 + 4 + 2)
    plan = plan_memory(shape, base, int(budget), settings.max_length, hardware.fused_loss)
    return MemoryPlan(
        settings.batch_size or plan.batch_size,
        plan.gradient_checkpointing
        if settings.gradient_checkpointing is None
        else settings.gradient_checkpointing,
        plan.estimated_peak_gib,
    )


def _sft_config(
    settings: TrainingSettings, hardware: Hardware, plan: MemoryPlan, output_dir: Path
) -> SFTConfig:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        max_steps=settings.max_steps,
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=settings.warmup_ratio,  # a float below 1 is a share of all steps
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation,
        max_length=settings.max_length,
        packing=settings.packing,
        eval_packing=False,
        completion_only_loss=settings.completion_only_loss,
        eval_strategy="steps",
        eval_steps=settings.eval_steps,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=2,
        logging_steps=max(1, min(10, settings.eval_steps // 2)),
        include_num_input_tokens_seen="non_padding",
        bf16=hardware.precision is Precision.bf16,
        use_cpu=hardware.device is Device.cpu,
        optim=hardware.optimizer.value,
        gradient_checkpointing=plan.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        use_liger_kernel=hardware.fused_loss,
        seed=settings.seed,
        data_seed=settings.seed,
        report_to="none",
        ddp_find_unused_parameters=False if settings.processes > 1 else None,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def _peak_memory_mib(cuda: bool) -> float:
    if cuda:
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_adapted_model(base_dir: Path, adapter_dir: Path, hardware: Hardware) -> PeftModel:
    """Base + adapter as training held them (the base in nf4 when it trained so)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(_load_for_training(base_dir, hardware), adapter_dir)
