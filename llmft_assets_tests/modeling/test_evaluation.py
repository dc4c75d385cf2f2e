"""Validation perplexity: token-weighted, masked where the labels say, the same in llama.cpp."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from llmft_assets.modeling.evaluation import IGNORE, EvalSequences, gguf_perplexity, hf_perplexity

TEXTS = [
    "Data pipelines move rows from one place to another.",
    "A good test fails when the code is wrong and passes when it is right, every single time.",
    "Small files are the enemy of every query engine.",
]


def load(model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)


def sequences_of(tokenizer: PreTrainedTokenizerBase, masked: int = 0) -> EvalSequences:
    """The texts with EOS; the first `masked` tokens of every other sequence unscored."""
    ids = [tokenizer(text)["input_ids"] + [tokenizer.eos_token_id] for text in TEXTS]
    labels = [list(row) for row in ids]
    for row in labels[::2]:
        row[:masked] = [IGNORE] * min(masked, len(row))
    return EvalSequences(ids, labels)


def by_hand(model: torch.nn.Module, sequences: EvalSequences) -> tuple[float, float]:
    """(token-weighted, sequence-weighted) perplexity, from log-softmax in float64."""
    total, count, per_sequence = 0.0, 0, []
    with torch.no_grad():
        for ids, labels in zip(sequences.token_ids, sequences.labels, strict=True):
            logits = model(input_ids=torch.tensor([ids])).logits[0].double()
            log_probs = logits.log_softmax(-1)
            nll = [
                -float(log_probs[position, label])
                for position, label in enumerate(labels[1:])
                if label != IGNORE
            ]
            total += sum(nll)
            count += len(nll)
            per_sequence.append(sum(nll) / len(nll))
    return math.exp(total / count), math.exp(sum(per_sequence) / len(per_sequence))


def test_perplexity_is_the_token_weighted_mean_nll(tiny_model_dir: Path, tokenizer) -> None:
    model = load(tiny_model_dir)
    sequences = sequences_of(tokenizer)
    token_weighted, sequence_weighted = by_hand(model, sequences)
    assert token_weighted != pytest.approx(sequence_weighted, rel=1e-3)  # the test can tell
    assert hf_perplexity(model, sequences) == pytest.approx(token_weighted, rel=1e-5)


def test_masked_positions_are_not_scored(tiny_model_dir: Path, tokenizer) -> None:
    model = load(tiny_model_dir)
    full, masked = sequences_of(tokenizer), sequences_of(tokenizer, masked=6)
    assert masked.scored_tokens == full.scored_tokens - 2 * 5  # two sequences, position 0 free
    expected, _ = by_hand(model, masked)
    assert hf_perplexity(model, masked) == pytest.approx(expected, rel=1e-5)
    assert hf_perplexity(model, masked) != pytest.approx(hf_perplexity(model, full), rel=1e-3)


def test_labels_not_input_ids_are_the_targets(tiny_model_dir: Path, tokenizer) -> None:
    model = load(tiny_model_dir)
    sequences = sequences_of(tokenizer)
    shifted = EvalSequences(
        sequences.token_ids, [[(t + 1) % len(tokenizer) for t in row] for row in sequences.labels]
    )
    expected, _ = by_hand(model, shifted)
    assert hf_perplexity(model, shifted) == pytest.approx(expected, rel=1e-5)


def test_disable_adapter_gives_the_base_models_perplexity(tiny_model_dir: Path, tokenizer):
    sequences = sequences_of(tokenizer, masked=3)
    base_value = hf_perplexity(load(tiny_model_dir), sequences)
    torch.manual_seed(1)
    config = LoraConfig(
        r=4, lora_alpha=16, target_modules="all-linear", init_lora_weights=False, lora_dropout=0.5
    )
    adapted = get_peft_model(load(tiny_model_dir), config)
    adapted.train()

    with_adapter = hf_perplexity(adapted, sequences)
    assert with_adapter != pytest.approx(base_value, rel=1e-2)  # the adapter does something
    assert hf_perplexity(adapted, sequences, disable_adapter=True) == pytest.approx(
        base_value, rel=1e-6
    )
    # Scored in eval mode (no dropout: the same value twice), and the mode is given back.
    assert hf_perplexity(adapted, sequences) == with_adapter
    assert adapted.training
    adapted.eval()
    assert hf_perplexity(adapted, sequences) == pytest.approx(with_adapter, rel=1e-6)
    assert not adapted.training


def test_scored_tokens_skip_the_first_position_and_ignored_labels() -> None:
    sequences = EvalSequences(
        token_ids=[[5, 6, 7], [1, 2, 3, 4], [9]],
        labels=[[IGNORE, 6, 7], [1, IGNORE, 3, 4], [9]],
    )
    assert sequences.scored_tokens == 2 + 2 + 0


def test_eval_sequences_json_round_trip() -> None:
    sequences = EvalSequences([[1, 2, 3], [4, 5]], [[IGNORE, 2, 3], [4, 5]])
    text = sequences.to_json()
    assert EvalSequences.from_json(text) == sequences
    assert EvalSequences.from_json(text.encode()) == sequences


def test_eval_sequences_from_a_trl_dataset() -> None:
    dataset = Dataset.from_dict(
        {"input_ids": [[1, 2, 3], [4, 5]], "labels": [[IGNORE, 2, 3], [4, 5]], "other": [0, 1]}
    )
    assert EvalSequences.from_trl_dataset(dataset) == EvalSequences(
        [[1, 2, 3], [4, 5]], [[IGNORE, 2, 3], [4, 5]]
    )


@pytest.mark.parametrize(
    "labels", [[[IGNORE, IGNORE, IGNORE], [IGNORE, IGNORE]], [[7, IGNORE, IGNORE], [8, IGNORE]]]
)
def test_nothing_scored_is_an_error(tiny_model_dir: Path, labels: list[list[int]]) -> None:
    sequences = EvalSequences([[7, 8, 9], [8, 9]], labels)
    assert sequences.scored_tokens == 0
    with pytest.raises(ValueError, match="no scored tokens"):
        hf_perplexity(load(tiny_model_dir), sequences)


def test_gguf_perplexity_agrees_with_the_hf_model(
    tiny_model_dir: Path, tiny_f16_gguf: Path, tokenizer
) -> None:
    model = load(tiny_model_dir)
    for sequences in (sequences_of(tokenizer), sequences_of(tokenizer, masked=6)):
        hf_value = hf_perplexity(model, sequences)
        # Peaked distributions, far from uniform over the vocabulary: agreement is not a given.
        assert abs(math.log(hf_value / len(tokenizer))) > 1
        gguf_value = gguf_perplexity(tiny_f16_gguf, sequences)
        assert gguf_value == pytest.approx(hf_value, rel=0.01)


def test_gguf_perplexity_with_nothing_scored_is_an_error(tiny_f16_gguf: Path) -> None:
    with pytest.raises(ValueError, match="no scored tokens"):
        gguf_perplexity(tiny_f16_gguf, EvalSequences([[7, 8, 9]], [[7, IGNORE, IGNORE]]))
