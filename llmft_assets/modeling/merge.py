"""Merge a LoRA adapter into the 16-bit base weights, and show the merge changed nothing.

The adapter is merged into the 16-bit base saved by `base_model`, also after QLoRA, never into
the dequantized NF4 weights it trained against: SmolLM2-135M trained in nf4 on the demo's
data (the demo's 80 steps) scored 38.48 validation perplexity merged onto the 16-bit weights,
40.87 merged onto the dequantized NF4 ones, as base + adapter in nf4 did (40.86):
the adapter carries over, and the 16-bit weights win back most of what 4 bits lost (base
47.61 in 16-bit, 61.04 in nf4; benchmarks/RESULTS.md). Unsloth merges onto the original
16-bit weights too; a model where that would lose what training learned fails the
`merged_keeps_what_training_learned` check.

The sum is taken in float32 and saved as float16: the format llama.cpp converts to, and eight
times finer than bfloat16, so rounding the merged weights costs almost nothing. Parity
compares the next-token distributions of the saved weights and of base + adapter (unmerged)
on a fixed text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PARITY_TEXT = (
    "The pipeline read every post, kept the words that mattered and dropped the rest. "
    "Then it trained a small model to write the same way, one paragraph at a time."
)


@dataclass(frozen=True)
class MergeParity:
    max_abs_logit_diff: float
    mean_kl_divergence: float  # nats per token, unmerged || merged
    # Share of positions whose most likely next token is the same, among those where the top
    # two logits of base + adapter lie further apart than the merge's rounding could close
    # (twice max_abs_logit_diff): a near tie that float16 flips is not a wrong merge.
    top1_agreement: float


def merge_adapter(base_dir: Path, adapter_dir: Path, out_dir: Path) -> MergeParity:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

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
    max_abs_diff = float((unmerged - merged).abs().max())
    top2 = unmerged.topk(2, dim=-1).values
    decisive = (top2[:, 0] - top2[:, 1]) > 2 * max_abs_diff
    agree = unmerged.argmax(-1) == merged.argmax(-1)
    return MergeParity(
        max_abs_logit_diff=max_abs_diff,
        mean_kl_divergence=float(kl.mean()),
        top1_agreement=float(agree[decisive].float().mean()) if decisive.any() else 1.0,
    )
