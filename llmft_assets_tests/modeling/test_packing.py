"""Packing is a speed lever only: documents packed into one sequence (TRL's padding-free
collator, as training uses it) must give the same predictions and the same loss as the
documents trained one by one.

Transformers masks attention per document from the packed position ids only when the forward
has no KV cache; TRL's compute_loss passes use_cache=False, and these tests go through it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase
from trl import SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from llmft_assets.modeling.gpu import MemoryPlan
from llmft_assets.modeling.settings import TrainingSettings, resolve_hardware
from llmft_assets.modeling.training import _sft_config
from llmft_assets_tests.modeling.conftest import SENTENCES

TOLERANCE = 1e-4  # relative, float32


@pytest.fixture(scope="module")
def documents(tokenizer: PreTrainedTokenizerBase) -> list[list[int]]:
    """Documents of different lengths, each ending with EOS as training appends it."""
    texts = [" ".join(SENTENCES[i : i + n]) for i, n in ((0, 2), (2, 5), (4, 1), (1, 3))]
    return [[*tokenizer(t).input_ids, tokenizer.eos_token_id] for t in texts]


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, dtype=torch.float32, attn_implementation="sdpa"
    ).eval()


@pytest.fixture(scope="module")
def trainer(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, tmp_path_factory
) -> SFTTrainer:
    """A trainer configured as train_lora configures it, to compute the loss its way (in fp32,
    so that packed and unpacked losses compare closely)."""
    settings = TrainingSettings(max_steps=1, device="cpu", precision="fp32")
    plan = MemoryPlan(batch_size=4, gradient_checkpointing=False, estimated_peak_gib=0.0)
    output_dir = tmp_path_factory.mktemp("sft")
    config = _sft_config(settings, resolve_hardware(settings), plan, output_dir)
    data = Dataset.from_dict({"text": SENTENCES})
    return SFTTrainer(
        model=model, args=config, train_dataset=data, eval_dataset=data, processing_class=tokenizer
    )


def _collate(documents: list[list[int]], padding_free: bool, pad: int) -> dict:
    collator = DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=padding_free)
    batch = collator([{"input_ids": ids} for ids in documents])
    return {
        k: v
        for k, v in batch.items()
        if k in ("input_ids", "labels", "position_ids", "attention_mask")
    }


@torch.no_grad()
def test_a_packed_document_sees_only_itself(
    trainer: SFTTrainer, documents: list[list[int]], tokenizer: PreTrainedTokenizerBase
) -> None:
    packed = _collate(documents, True, tokenizer.pad_token_id)
    assert packed["input_ids"].shape[0] == 1  # one flat sequence, no padding
    _, outputs = trainer.compute_loss(trainer.model, dict(packed), return_outputs=True)
    logits = outputs.logits[0]
    start = 0
    for ids in documents:
        alone = trainer.model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
        torch.testing.assert_close(logits[start : start + len(ids)], alone, rtol=1e-4, atol=1e-4)
        start += len(ids)


def test_labels_at_document_boundaries_are_masked(
    documents: list[list[int]], tokenizer: PreTrainedTokenizerBase
) -> None:
    packed = _collate(documents, True, tokenizer.pad_token_id)
    labels, positions = packed["labels"][0], packed["position_ids"][0]
    starts = (positions == 0).nonzero().flatten().tolist()
    assert starts == [0, *torch.tensor([len(d) for d in documents]).cumsum(0)[:-1].tolist()]
    assert all(labels[s] == -100 for s in starts)  # never predicted from the previous document
    assert int((labels != -100).sum()) == sum(len(d) - 1 for d in documents)
    assert (labels == tokenizer.eos_token_id).sum() == len(documents)  # every EOS is learned


@torch.no_grad()
def test_packed_and_unpacked_loss_agree(
    trainer: SFTTrainer, documents: list[list[int]], tokenizer: PreTrainedTokenizerBase
) -> None:
    packed = trainer.compute_loss(trainer.model, _collate(documents, True, tokenizer.pad_token_id))
    padded = _collate(documents, False, tokenizer.pad_token_id)
    assert padded["input_ids"].shape[0] == len(documents)  # one row each, padded
    unpacked = trainer.compute_loss(trainer.model, padded)
    assert abs(float(packed) / float(unpacked) - 1) < TOLERANCE
