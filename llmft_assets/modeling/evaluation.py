"""Validation perplexity, computed the same way for every model in the table.

`EvalSequences` are the validation examples exactly as training tokenized them: token ids,
and the positions whose token is scored (the loss mask: the response for prompt formats,
everything for plain text). Base, adapter, merged and each GGUF are scored on the same ids,
token-weighted, so their perplexities compare.
"""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

IGNORE = -100


@dataclass(frozen=True)
class EvalSequences:
    token_ids: list[list[int]]
    labels: list[list[int]]  # IGNORE where a token is not scored

    @classmethod
    def from_trl_dataset(cls, dataset: Dataset) -> EvalSequences:
        return cls([list(r) for r in dataset["input_ids"]], [list(r) for r in dataset["labels"]])

    @property
    def scored_tokens(self) -> int:
        return sum(sum(1 for label in labels[1:] if label != IGNORE) for labels in self.labels)

    def to_json(self) -> str:
        return json.dumps({"token_ids": self.token_ids, "labels": self.labels})

    @classmethod
    def from_json(cls, text: str | bytes) -> EvalSequences:
        data = json.loads(text)
        return cls(data["token_ids"], data["labels"])


def _perplexity(total_nll: float, count: int) -> float:
    if count == 0:
        raise ValueError("no scored tokens in the validation sequences")
    return math.exp(total_nll / count)


def hf_perplexity(
    model: torch.nn.Module, sequences: EvalSequences, disable_adapter: bool = False
) -> float:
    """Token-weighted perplexity of a transformers (or PEFT) model on the sequences."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    context = model.disable_adapter() if disable_adapter else nullcontext()
    with torch.no_grad(), context:
        for ids, labels in zip(sequences.token_ids, sequences.labels, strict=True):
            input_ids = torch.tensor([ids], device=device)
            logits = model(input_ids=input_ids).logits[0, :-1].float()
            targets = torch.tensor(labels[1:], device=device)
            nll = torch.nn.functional.cross_entropy(
                logits, targets, ignore_index=IGNORE, reduction="sum"
            )
            total += float(nll)
            count += int((targets != IGNORE).sum())
    model.train(was_training)
    return _perplexity(total, count)


def gguf_perplexity(model_path: Path, sequences: EvalSequences) -> float:
    """The same perplexity through llama.cpp, fed the same token ids."""
    from llama_cpp import Llama

    context = max(len(ids) for ids in sequences.token_ids)
    llama = Llama(
        model_path=str(model_path), n_ctx=context, logits_all=True, verbose=False, n_threads=None
    )
    total, count = 0.0, 0
    for ids, labels in zip(sequences.token_ids, sequences.labels, strict=True):
        llama.reset()
        llama.eval(ids)
        logits = np.asarray(llama.scores[: len(ids) - 1], dtype=np.float64)
        log_probs = logits - _logsumexp(logits)
        for position, label in enumerate(labels[1:]):
            if label != IGNORE:
                total -= log_probs[position, label]
                count += 1
    llama.close()
    return _perplexity(total, count)


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    peak = logits.max(axis=1, keepdims=True)
    return peak + np.log(np.exp(logits - peak).sum(axis=1, keepdims=True))
