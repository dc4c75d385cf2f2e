"""The CUDA-only pieces, on a GPU (`make test-gpu`, benchmarks/gpu_check.sh): QLoRA through
`train_lora` with every `auto` resolved the CUDA way, the free-memory planner against the
peak it plans for, and flex attention keeping packed documents apart.

Not run without a GPU; the CPU suite covers the same code paths where they exist on CPU
(nf4 and the 8-bit optimizer through bitsandbytes' CPU backend, packing under sdpa).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from bitsandbytes.nn import Linear4bit
from datasets import Dataset
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from trl import SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from llmft_assets.modeling.evaluation import hf_perplexity
from llmft_assets.modeling.gpu import MemoryPlan
from llmft_assets.modeling.settings import (
    Device,
    Optimizer,
    Precision,
    Quantization,
    TrainingSettings,
    resolve_hardware,
)
from llmft_assets.modeling.training import (
    _load_for_training,
    _memory_plan,
    _sft_config,
    load_adapted_model,
    train_lora,
)
from llmft_assets.training_data.formats import DatasetFormat
from llmft_assets_tests.modeling.conftest import SENTENCES
from llmft_assets_tests.modeling.test_training import (
    SETTINGS,
    checkpoints_in,
    dataset_for,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_auto_on_cuda_is_qlora_with_paged_8bit_adamw_and_it_learns(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    settings = SETTINGS.model_copy(update={"max_steps": 8, "learning_rate": 2e-3})
    adapter, report, sequences = train_lora(
        tiny_model_dir,
        dataset_for(DatasetFormat.completion, tmp_path),
        DatasetFormat.completion,
        settings,
        tmp_path / "work",
        checkpoints_in(tmp_path),
    )
    hardware = report.hardware
    assert (hardware.device, hardware.quantization, hardware.optimizer) == (
        Device.cuda,
        Quantization.nf4,
        Optimizer.paged_adamw_8bit,
    )
    assert hardware.precision is Precision.bf16
    assert hardware.attention == "flex_attention"
    assert hardware.fused_loss is (importlib.util.find_spec("liger_kernel") is not None)
    assert report.steps == 8 and report.peak_memory_mib > 0
    eval_losses = [loss for _, loss in report.eval_loss]
    assert eval_losses[-1] < eval_losses[0]
    assert report.fine_tuned_perplexity < report.base_perplexity

    reloaded = load_adapted_model(tiny_model_dir, adapter, hardware)
    layers = [m for m in reloaded.modules() if isinstance(m, Linear4bit)]
    assert layers and all(m.weight.device.type == "cuda" for m in layers)
    # Training held norms and embeddings in fp32 (prepare_model_for_kbit_training); the
    # reload keeps them in bf16, so the two agree to bf16's precision, not to the last digit.
    assert hf_perplexity(reloaded, sequences) == pytest.approx(
        report.fine_tuned_perplexity, rel=1e-2
    )


def _medium_llama(folder: Path, tokenizer) -> Path:
    """A model big enough that activations, not CUDA's fixed overheads, set the peak."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=8,
        num_attention_heads=16,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_the_memory_plan_fits_its_budget_and_the_measured_peak_stays_under_it(
    tokenizer, tmp_path: Path
) -> None:
    base = _medium_llama(tmp_path / "base", tokenizer)
    long_text = " ".join(SENTENCES * 40)
    dataset = dataset_for(DatasetFormat.completion, tmp_path)
    dataset["train"] = Dataset.from_dict({"text": [long_text] * 64})
    settings = TrainingSettings(
        max_steps=3, max_length=1024, max_memory_gib=6, eval_steps=10**6, save_steps=10**6
    )
    hardware = resolve_hardware(settings)
    model = _load_for_training(base, hardware)
    plan = _memory_plan(settings, model, hardware)
    assert plan.estimated_peak_gib <= 0.9 * 6
    del model
    torch.cuda.empty_cache()

    _, report, _ = train_lora(
        base,
        dataset,
        DatasetFormat.completion,
        settings,
        tmp_path / "work",
        checkpoints_in(tmp_path),
    )
    assert (report.batch_size, report.gradient_checkpointing) == (
        plan.batch_size,
        plan.gradient_checkpointing,
    )
    assert report.peak_memory_mib / 1024 <= plan.estimated_peak_gib  # the plan is safe


@torch.no_grad()
def test_flex_attention_keeps_packed_documents_apart(
    tiny_model_dir: Path, tokenizer, tmp_path: Path
) -> None:
    """What test_packing checks under sdpa, on the CUDA path: a packed document's logits are
    the ones it gets alone."""
    settings = TrainingSettings(max_steps=1, device="cuda", precision="fp32", quantization="none")
    hardware = resolve_hardware(settings)
    assert hardware.attention == "flex_attention"
    model = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, dtype=torch.float32, attn_implementation=hardware.attention
    ).to("cuda")
    plan = MemoryPlan(batch_size=4, gradient_checkpointing=False, estimated_peak_gib=0.0)
    data = Dataset.from_dict({"text": SENTENCES})
    trainer = SFTTrainer(
        model=model.eval(),
        args=_sft_config(settings, hardware, plan, tmp_path),
        train_dataset=data,
        eval_dataset=data,
        processing_class=tokenizer,
    )
    texts = [" ".join(SENTENCES[i : i + n]) for i, n in ((0, 2), (2, 5), (4, 1), (1, 3))]
    documents = [[*tokenizer(t).input_ids, tokenizer.eos_token_id] for t in texts]
    collator = DataCollatorForLanguageModeling(
        pad_token_id=tokenizer.pad_token_id, padding_free=True
    )
    batch = collator([{"input_ids": ids} for ids in documents])
    keys = ("input_ids", "labels", "position_ids")
    packed = {k: v.to("cuda") for k, v in batch.items() if k in keys}
    _, outputs = trainer.compute_loss(trainer.model, packed, return_outputs=True)
    start = 0
    for ids in documents:
        alone = model(input_ids=torch.tensor([ids], device="cuda"), use_cache=False).logits[0]
        torch.testing.assert_close(
            outputs.logits[0, start : start + len(ids)], alone, rtol=1e-3, atol=1e-3
        )
        start += len(ids)
