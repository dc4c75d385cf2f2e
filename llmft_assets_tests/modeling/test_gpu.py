"""The memory plan: fastest micro-batch and checkpointing that fit a GPU's free memory."""

from __future__ import annotations

import pytest

from llmft_assets.modeling.gpu import (
    GIB,
    ModelShape,
    activation_bytes_per_token,
    plan_memory,
)

LLAMA_1B = ModelShape(hidden=2048, intermediate=8192, layers=16, vocab=128256)
LLAMA_8B = ModelShape(hidden=4096, intermediate=14336, layers=32, vocab=128256)
BASE_8B = int(7.5 * GIB)  # 4-bit weights, bf16 embeddings and head, LoRA state


def test_estimates_match_the_measured_baselines_on_the_safe_side() -> None:
    # shared/bench: 1B, batch 4 x 2048, no checkpointing, fused loss: 14.0 GiB measured.
    one_b = (2 * GIB + 4 * 2048 * activation_bytes_per_token(LLAMA_1B, False, True)) / GIB
    assert 12 < one_b < 15
    # 8B, batch 4, no checkpointing: 40.1 GiB measured; the estimate must not be below it.
    eight_b = (BASE_8B + 4 * 2048 * activation_bytes_per_token(LLAMA_8B, False, True)) / GIB
    assert 40.1 <= eight_b < 50
    # Checkpointing keeps a fraction; an unfused loss adds the logits.
    assert (
        activation_bytes_per_token(LLAMA_8B, True, True)
        < activation_bytes_per_token(LLAMA_8B, False, True) / 10
    )
    assert activation_bytes_per_token(LLAMA_8B, False, False) > activation_bytes_per_token(
        LLAMA_8B, False, True
    )


@pytest.mark.parametrize(
    ("free_gib", "batch", "checkpointing"),
    [(80, 6, False), (40, 2, False), (24, 8, True), (20, 8, True), (12, 4, True)],
)
def test_an_8b_model_gets_the_largest_batch_without_checkpointing_when_it_fits(
    free_gib: int, batch: int, checkpointing: bool
) -> None:
    plan = plan_memory(LLAMA_8B, BASE_8B, free_gib * GIB, 2048, fused_loss=True)
    assert (plan.batch_size, plan.gradient_checkpointing) == (batch, checkpointing)
    assert plan.estimated_peak_gib <= 0.9 * free_gib


def test_every_plan_fits_its_budget_and_more_memory_never_means_a_slower_plan() -> None:
    previous = None
    for free_gib in range(10, 81, 2):
        plan = plan_memory(LLAMA_8B, BASE_8B, free_gib * GIB, 2048, fused_loss=True)
        assert plan.estimated_peak_gib <= 0.9 * free_gib
        if previous and not previous.gradient_checkpointing:
            assert not plan.gradient_checkpointing and plan.batch_size >= previous.batch_size
        previous = plan


def test_a_budget_too_small_for_anything_still_plans_the_leanest_run() -> None:
    plan = plan_memory(LLAMA_8B, BASE_8B, 4 * GIB, 2048, fused_loss=False)
    assert (plan.batch_size, plan.gradient_checkpointing) == (1, True)
    assert plan.estimated_peak_gib > 4  # the caller logs it; it may not fit
