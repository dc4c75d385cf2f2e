"""LoRA fine-tuning with TRL's SFTTrainer: QLoRA (4-bit NF4) on CUDA, plain LoRA on CPU.
Both multiply in bf16 where the chip does so natively; on CPUs (AVX512-BF16 or AMX) that is
mixed precision, with weights and optimizer state kept in fp32.

`train_lora` is the one entry point; the `lora_adapter` asset and the GPU benchmark call it.
It evaluates the untouched base on the validation split first (LoRA starts as a no-op), trains
with eval and checkpoints every N steps, and evaluates again. Checkpoints go through a
`CheckpointSync` (the artifact store, in the asset), so a re-run after a crash or preemption
resumes from the latest one by itself.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from datasets import Dataset, DatasetDict
from peft import LoraConfig, PeftModel
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
    TrainerCallback,
)
from trl import SFTConfig, SFTTrainer

from llmft_assets.modeling.evaluation import EvalSequences, hf_perplexity
from llmft_assets.modeling.gpu import GIB, MemoryPlan, ModelShape, plan_memory
from llmft_assets.training_data.formats import PROMPT_SEPARATOR, DatasetFormat

CHECKPOINT_PREFIX = "checkpoint-"


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides what is learned; the run's fingerprint is its hash."""

    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # > 0 copies every adapted layer's input each step
    target_modules: tuple[str, ...] = ("all-linear",)
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int | None = None  # None: chosen from free GPU memory on CUDA, 4 on CPU
    gradient_checkpointing: bool | None = None  # None: chosen with the batch size
    max_memory_gib: float | None = None  # a budget below the GPU's free memory (e.g. 20)
    gradient_accumulation: int = 1
    max_length: int = 512
    packing: bool = True
    completion_only_loss: bool = True
    warmup_ratio: float = 0.05
    seed: int = 42
    eval_steps: int = 20
    save_steps: int = 20
    max_eval_samples: int = 16
    processes: int = 1  # data-parallel training processes, one per GPU (torchrun above 1)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


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


@dataclass
class TrainingReport:
    device: str
    quantization: str
    precision: str
    batch_size: int
    gradient_checkpointing: bool
    attention: str
    fused_loss: bool
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
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    eval_loss: list[tuple[int, float]] = field(default_factory=list)


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
    log: Callable[[str], None] = print,
) -> tuple[Path, TrainingReport, EvalSequences]:
    """Train; return the adapter folder, the report and the exact validation sequences."""
    cuda = torch.cuda.is_available()
    bf16 = cuda or cpu_computes_bf16()
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    tokenizer.pad_token = pick_pad_token(tokenizer)
    fused_loss = cuda and importlib.util.find_spec("liger_kernel") is not None
    attention = "flex_attention" if cuda else "sdpa"  # varlen-aware masks for packed batches
    model = _load_for_training(base_dir, cuda, attention)
    plan = _memory_plan(settings, model, cuda, fused_loss)
    log(
        f"micro-batch {plan.batch_size}, activation checkpointing "
        f"{'on' if plan.gradient_checkpointing else 'off'}, {attention}, fused loss "
        f"{'on' if fused_loss else 'off'} (estimated peak {plan.estimated_peak_gib:.1f} GiB)"
    )
    if cuda:
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
        args=_sft_config(settings, plan, output_dir, cuda, bf16, fused_loss),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=settings.lora_r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=list(settings.target_modules)
            if settings.target_modules != ("all-linear",)
            else "all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    sequences = EvalSequences.from_trl_dataset(trainer.eval_dataset)
    trainer.add_callback(_SyncCheckpoints(checkpoints, log))
    throughput = _Throughput(cuda)
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
        device="cuda" if cuda else "cpu",
        quantization="nf4 (QLoRA)" if cuda else "none (LoRA)",
        precision="bf16 mixed" if bf16 else "fp32",
        batch_size=plan.batch_size,
        gradient_checkpointing=plan.gradient_checkpointing,
        attention=attention,
        fused_loss=fused_loss,
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
        train_loss=[(h["step"], h["loss"]) for h in history if "loss" in h],
        eval_loss=[(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h],
    )
    return adapter_dir, report, sequences


def _load_for_training(base_dir: Path, cuda: bool, attention: str) -> torch.nn.Module:
    if not cuda:
        return AutoModelForCausalLM.from_pretrained(
            base_dir, dtype=torch.float32, attn_implementation=attention
        )
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return AutoModelForCausalLM.from_pretrained(
        base_dir,
        quantization_config=quantization,
        dtype=torch.bfloat16,
        attn_implementation=attention,
        device_map={"": int(os.environ.get("LOCAL_RANK", 0))},  # one GPU per rank
    )


CPU_BATCH_SIZE = 4


def _memory_plan(
    settings: TrainingSettings, model: torch.nn.Module, cuda: bool, fused_loss: bool
) -> MemoryPlan:
    """Explicit settings win; on CUDA the rest is planned from free memory, once the 4-bit
    weights are loaded, so the base is measured rather than guessed."""
    if not cuda:
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
    plan = plan_memory(shape, base, int(budget), settings.max_length, fused_loss)
    return MemoryPlan(
        settings.batch_size or plan.batch_size,
        plan.gradient_checkpointing
        if settings.gradient_checkpointing is None
        else settings.gradient_checkpointing,
        plan.estimated_peak_gib,
    )


def cpu_computes_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively; elsewhere bf16 is emulated, slower than fp32."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def _sft_config(
    settings: TrainingSettings,
    plan: MemoryPlan,
    output_dir: Path,
    cuda: bool,
    bf16: bool,
    fused_loss: bool,
) -> SFTConfig:
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
        bf16=bf16,
        use_cpu=not cuda,
        optim="paged_adamw_8bit" if cuda else "adamw_torch",
        gradient_checkpointing=plan.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        use_liger_kernel=fused_loss,
        seed=settings.seed,
        data_seed=settings.seed,
        report_to="none",
        ddp_find_unused_parameters=False if settings.processes > 1 else None,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


class _SyncCheckpoints(TrainerCallback):
    def __init__(self, sync: CheckpointSync, log: Callable[[str], None]) -> None:
        self.sync = sync
        self.log = log

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:  # in data-parallel runs, one rank stores
            return
        checkpoint = Path(args.output_dir) / f"{CHECKPOINT_PREFIX}{state.global_step}"
        self.sync.save(checkpoint)
        self.log(f"stored {checkpoint.name}")


WARMUP_STEPS = 3


class _Throughput(TrainerCallback):
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


def _peak_memory_mib(cuda: bool) -> float:
    if cuda:
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_adapted_model(base_dir: Path, adapter_dir: Path, dtype: torch.dtype) -> PeftModel:
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
    return PeftModel.from_pretrained(base, adapter_dir)
