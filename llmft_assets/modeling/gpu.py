"""Choosing micro-batch and activation checkpointing from the GPU's free memory.

Throughput on one GPU (benchmarks/RESULTS.md, shared baselines) is best with the largest
micro-batch that fits *without* activation checkpointing, which costs a third more compute;
checkpointing only pays when it is the difference between batch 1 and a real batch. So the
plan tries no checkpointing first, at the largest batch that fits the budget, and falls back
to checkpointing when that batch would be 1.

Memory per token is estimated from the model's shape: without checkpointing each layer keeps
about 6 x hidden + 4 x intermediate bf16 values a token (projection inputs, attention output,
MLP inputs and activations); with it, only the layer input, plus one layer being recomputed.
Without a fused cross-entropy the logits (vocab x bf16, their fp32 copy and gradient) come on
top. Calibration: the 1B Llama shape at batch 4 x 2048 without checkpointing measured 14 GiB
(shared baselines), and the estimate gives 13.0 GiB; the 8B shape at batch 4, 40.1 GiB
measured, 47.5 estimated: on the safe side.
"""

from __future__ import annotations

from dataclasses import dataclass

BATCHES = (16, 12, 8, 6, 4, 3, 2, 1)
MAX_CHECKPOINTED_BATCH = 8  # the baselines gain nothing from larger checkpointed batches
HEADROOM = 0.9  # of the budget: the allocator fragments, kernels take workspace
BF16, FP32 = 2, 4
GIB = 2**30


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    intermediate: int
    layers: int
    vocab: int

    @classmethod
    def of(cls, config: object) -> ModelShape:
        return cls(
            hidden=config.hidden_size,
            intermediate=config.intermediate_size,
            layers=config.num_hidden_layers,
            vocab=config.vocab_size,
        )


@dataclass(frozen=True)
class MemoryPlan:
    batch_size: int
    gradient_checkpointing: bool
    estimated_peak_gib: float


def activation_bytes_per_token(shape: ModelShape, checkpointing: bool, fused_loss: bool) -> int:
    full_layer = BF16 * (6 * shape.hidden + 4 * shape.intermediate)
    if checkpointing:
        per_token = shape.layers * BF16 * shape.hidden + full_layer  # inputs + one recompute
    else:
        per_token = shape.layers * full_layer
    if not fused_loss:
        per_token += shape.vocab * (BF16 + FP32 + FP32)
    return per_token


def plan_memory(
    shape: ModelShape, base_bytes: int, budget_bytes: int, max_length: int, fused_loss: bool
) -> MemoryPlan:
    """The fastest (batch, checkpointing) whose estimated peak fits `budget_bytes`.

    `base_bytes` is what training holds besides activations: quantized weights, LoRA weights,
    their gradients and optimizer state.
    """
    usable = HEADROOM * budget_bytes
    for checkpointing in (False, True):
        per_sequence = max_length * activation_bytes_per_token(shape, checkpointing, fused_loss)
        for batch in BATCHES:
            if checkpointing is False and batch == 1:
                break  # batch 1 without checkpointing: checkpointing buys a larger batch
            if checkpointing and batch > MAX_CHECKPOINTED_BATCH:
                continue
            peak = base_bytes + batch * per_sequence
            if peak <= usable:
                return MemoryPlan(batch, checkpointing, peak / GIB)
    per_sequence = max_length * activation_bytes_per_token(shape, True, fused_loss)
    return MemoryPlan(1, True, (base_bytes + per_sequence) / GIB)
