"""Chunks to a Hugging Face `DatasetDict` with a train/validation split by document.

The split is by document so that no text the model is evaluated on was trained on. Documents
are taken in the order of a seeded hash of their id; each goes to validation while validation
holds less than its share of tokens and the document does not overshoot that share by half
(so one long novel does not become the whole validation set). Both splits are non-empty
whenever there are two documents or more.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset, DatasetDict
from pydantic import BaseModel, Field

from llmft_assets.reports import Report
from llmft_assets.training_data.card import dataset_card
from llmft_assets.training_data.formats import DatasetFormat, request_for, to_record

TRAIN = "train"
VALIDATION = "validation"


class DatasetSettings(BaseModel):
    format: DatasetFormat = Field(
        default=DatasetFormat.completion,
        description="completion, conversations, messages or input_response.",
    )
    validation_fraction: float = Field(default=0.1, description="Share of tokens held out.")
    seed: int = Field(default=42, description="Seeds the split by document.")


@dataclass(frozen=True)
class DatasetReport(Report):
    """What `training_dataset` built; stored inside the dataset, where training reads its format."""

    format: DatasetFormat
    records: dict[str, int]  # per split
    train_tokens: int
    validation_tokens: int
    validation_documents: tuple[str, ...]
    example: dict[str, Any]  # the first validation record


@dataclass(frozen=True)
class SplitPlan:
    validation_docs: frozenset[str]
    train_docs: frozenset[str]


def plan_split(doc_tokens: dict[str, int], validation_fraction: float, seed: int) -> SplitPlan:
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    if len(doc_tokens) < 2:
        raise ValueError(f"a split by document needs at least 2 documents, got {len(doc_tokens)}")
    order = sorted(doc_tokens, key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).hexdigest())
    budget = validation_fraction * sum(doc_tokens.values())
    validation: set[str] = set()
    taken = 0
    for doc in order:
        if taken >= budget:
            break
        if taken + doc_tokens[doc] <= 1.5 * budget:
            validation.add(doc)
            taken += doc_tokens[doc]
    if not validation:  # every document is larger than the budget: take the smallest
        validation.add(min(order, key=lambda d: (doc_tokens[d], order.index(d))))
    if len(validation) == len(doc_tokens):
        validation.discard(order[-1])
    return SplitPlan(frozenset(validation), frozenset(doc_tokens) - validation)


def build_dataset(
    chunks: pd.DataFrame, fmt: DatasetFormat, validation_fraction: float, seed: int
) -> tuple[DatasetDict, SplitPlan]:
    """`chunks` has doc_id, source, title, position, text and token_count columns."""
    plan = plan_split(
        chunks.groupby("doc_id")["token_count"].sum().to_dict(), validation_fraction, seed
    )
    parts = chunks.groupby("doc_id")["position"].transform("count")
    splits: dict[str, list[dict[str, object]]] = {TRAIN: [], VALIDATION: []}
    ordered = chunks.assign(parts=parts).sort_values(["doc_id", "position"])
    for row in ordered.itertuples(index=False):
        request = request_for(row.source, row.title, row.position + 1, row.parts)
        record = to_record(fmt, request, row.text)
        record.update(doc_id=row.doc_id, position=int(row.position))
        split = VALIDATION if row.doc_id in plan.validation_docs else TRAIN
        splits[split].append(record)
    dataset = DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()})
    return dataset, plan


def run_dataset(
    chunks: pd.DataFrame, settings: DatasetSettings, tokenizer: str, folder: Path
) -> DatasetReport:
    """Save the dataset of `chunks` (counted in `tokenizer`'s tokens) with its card to `folder`.

    Raises ValueError when the chunks cannot be split as asked.
    """
    dataset, plan = build_dataset(
        chunks, settings.format, settings.validation_fraction, settings.seed
    )
    dataset.save_to_disk(folder)
    (folder / "README.md").write_text(dataset_card(dataset, chunks, settings.format, tokenizer))
    tokens = chunks.groupby("doc_id").token_count.sum()
    return DatasetReport(
        format=settings.format,
        records={name: len(split) for name, split in dataset.items()},
        train_tokens=int(tokens[sorted(plan.train_docs)].sum()),
        validation_tokens=int(tokens[sorted(plan.validation_docs)].sum()),
        validation_documents=tuple(sorted(plan.validation_docs)),
        example=dataset[VALIDATION][0],
    )
