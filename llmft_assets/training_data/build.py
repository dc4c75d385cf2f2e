"""Chunks to a Hugging Face `DatasetDict` with a train/validation split by document.

The split is by document so that no text the model is evaluated on was trained on. Documents
are taken in the order of a seeded hash of their id; each goes to validation while validation
holds less than its share of tokens and the document does not overshoot that share by half
(so one long novel does not become the whole validation set). Both splits are non-empty
whenever there are two documents or more.

The chunk table may be larger than memory: the split is planned from its doc_id and
token_count columns alone (read whole, in Arrow: the id's length plus 12 bytes a chunk),
then records are made one parquet batch at a time and written to arrow files that the
dataset memory-maps. Also held: per document its token total and chunk count, and for the
card its source, title, url and language.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from llmft_assets.chunking.stage import open_chunks
from llmft_assets.reports import Report
from llmft_assets.training_data.card import dataset_card
from llmft_assets.training_data.formats import DatasetFormat, request_for, to_record

if TYPE_CHECKING:
    from datasets import DatasetDict

TRAIN = "train"
VALIDATION = "validation"
DOCUMENT_COLUMNS = ("doc_id", "source", "title", "url", "language")  # what the card names
_BATCH_ROWS = 256  # chunks read, and records written, at a time


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
    chunks: Path, fmt: DatasetFormat, validation_fraction: float, seed: int, work: Path
) -> tuple[DatasetDict, SplitPlan, pd.DataFrame]:
    """The records of the chunk file `chunks` (`text_chunks`' parquet, in doc_id and position
    order) split by document, in arrow files under `work` that the dataset memory-maps; the
    plan; and one row per document (`DOCUMENT_COLUMNS` and its token_count).

    Raises ValueError when the chunks cannot be split as asked or are out of order.
    """
    from datasets import Dataset, DatasetDict
    from datasets.arrow_writer import ArrowWriter

    table = open_chunks(chunks)  # one open file for both reads, whatever replaces it
    totals = table.read(columns=["doc_id", "token_count"]).group_by("doc_id")
    totals = totals.aggregate([("token_count", "sum"), ("token_count", "count")]).to_pandas()
    tokens = dict(zip(totals.doc_id, totals.token_count_sum.tolist(), strict=True))
    parts = dict(zip(totals.doc_id, totals.token_count_count.tolist(), strict=True))
    plan = plan_split(tokens, validation_fraction, seed)
    documents: list[dict[str, object]] = []
    paths = {name: work / f"{name}.arrow" for name in (TRAIN, VALIDATION)}
    with (
        ArrowWriter(path=str(paths[TRAIN]), writer_batch_size=_BATCH_ROWS) as train,
        ArrowWriter(path=str(paths[VALIDATION]), writer_batch_size=_BATCH_ROWS) as validation,
    ):
        for row in _ordered_rows(table):
            if not documents or documents[-1]["doc_id"] != row["doc_id"]:
                documents.append(
                    {c: row[c] for c in DOCUMENT_COLUMNS} | {"token_count": tokens[row["doc_id"]]}
                )
            request = request_for(
                row["source"], row["title"], row["position"] + 1, parts[row["doc_id"]]
            )
            record = to_record(fmt, request, row["text"])
            record.update(doc_id=row["doc_id"], position=row["position"])
            (validation if row["doc_id"] in plan.validation_docs else train).write(record)
        train.finalize()
        validation.finalize()
    dataset = DatasetDict({name: Dataset.from_file(str(path)) for name, path in paths.items()})
    return dataset, plan, pd.DataFrame(documents)


def _ordered_rows(chunks: pq.ParquetFile) -> Iterator[dict[str, Any]]:
    """The chunk rows, one parquet batch in memory at a time, checked to be in doc_id and
    position order (the records' order, which streaming cannot sort)."""
    previous: tuple[str, int] | None = None
    columns = [*DOCUMENT_COLUMNS, "position", "text"]
    for batch in chunks.iter_batches(_BATCH_ROWS, columns=columns):
        for row in batch.to_pylist():
            key = (row["doc_id"], row["position"])
            if previous is not None and key <= previous:
                raise ValueError(f"chunks out of doc_id and position order: {key} after {previous}")
            previous = key
            yield row


def run_dataset(
    chunks: Path, settings: DatasetSettings, tokenizer: str, folder: Path
) -> DatasetReport:
    """Save the dataset of the chunk file `chunks` (counted in `tokenizer`'s tokens) with its
    card to `folder`.

    Raises ValueError when the chunks cannot be split as asked or are out of order.
    """
    with tempfile.TemporaryDirectory(prefix="llmft-dataset-") as work:
        dataset, plan, documents = build_dataset(
            chunks, settings.format, settings.validation_fraction, settings.seed, Path(work)
        )
        dataset.save_to_disk(folder)
        records = {name: len(split) for name, split in dataset.items()}
        example = dataset[VALIDATION][0]
    tokens = documents.set_index("doc_id").token_count
    split_tokens = {
        TRAIN: int(tokens[sorted(plan.train_docs)].sum()),
        VALIDATION: int(tokens[sorted(plan.validation_docs)].sum()),
    }
    splits = {name: (records[name], split_tokens[name]) for name in records}
    (folder / "README.md").write_text(dataset_card(documents, splits, settings.format, tokenizer))
    return DatasetReport(
        format=settings.format,
        records=records,
        train_tokens=split_tokens[TRAIN],
        validation_tokens=split_tokens[VALIDATION],
        validation_documents=tuple(sorted(plan.validation_docs)),
        example=example,
    )
