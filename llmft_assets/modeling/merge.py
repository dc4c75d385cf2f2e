"""Merge a LoRA adapter into the 16-bit base weights, and show the merge changed nothing.

The adapter is merged into the 16-bit base saved by `base_model`, never into the dequantized
4-bit weights QLoRA trained against. The sum is taken in float32 and saved as float16: the
format llama.cpp converts to, and eight times finer than bfloat16, so rounding the merged
weights costs almost nothing. Parity compares the next-token distributions of the saved
weights and of base + adapter (unmerged) on a fixed text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

PARITY_TEXT = (
    "The pipeline read every post, kept the words that mattered and dropped the rest. "
    "Then it trained a small model to write the same way, one paragraph at a time."
)


@dataclass(frozen=True)
class MergeParity:
    max_abs_logit_diff: float
    mean_kl_divergence: float  # nats per token, unmerged || merged
    top1_agreement: float  # share of positions whose most likely next token is the same


def merge_adapter(base_dir: Path, adapter_dir: Path, out_dir: Path) -> MergeParity:
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir)
    probe = tokenizer(PARITY_TEXT, return_tensors="pt")
    with torch.no_grad():
        unmerged = model(**probe).logits[0]
        merged_model = model.merge_and_unload().to(torch.float16)
        merged_model.save_pretrained(out_dir, safe_serialization=True)
        merged = merged_model.to(torch.float32)(**probe).logits[0]  # the saved weights
    tokenizer.save_pretrained(out_dir)
    kl = torch.nn.functional.kl_div(
        merged.log_softmax(-1), unmerged.log_softmax(-1), log_target=True, reduction="none"
    ).sum(-1)
    return MergeParity(
        max_abs_logit_diff=float((unmerged - merged).abs().max()),
        mean_kl_divergence=float(kl.mean()),
        top1_agreement=float((unmerged.argmax(-1) == merged.argmax(-1)).float().mean()),
    )
