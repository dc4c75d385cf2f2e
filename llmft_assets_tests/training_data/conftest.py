"""Chunk tables shaped like `text_chunks`' parquet, for the dataset tests."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pandas as pd
from datasets import DatasetDict

from llmft_assets.training_data.build import SplitPlan, build_dataset
from llmft_assets.training_data.formats import DatasetFormat


def make_chunks(rows_per_doc: dict[str, tuple[str, str, int]], seed: int = 0) -> pd.DataFrame:
    """doc_id -> (source, title, number of chunks); rows in shuffled order."""
    rows = []
    for doc_id, (source, title, parts) in rows_per_doc.items():
        for position in range(parts):
            rows.append(
                {
                    "chunk_id": f"{doc_id}:{position:05d}",
                    "doc_id": doc_id,
                    "source": source,
                    "title": title,
                    "url": f"https://example.com/{doc_id}" if source == "blog" else "",
                    "language": "en" if source == "blog" else "fr",
                    "position": position,
                    "text": f"Text of {doc_id}, part {position + 1}.",
                    "token_count": 100 + position,
                }
            )
    random.Random(seed).shuffle(rows)
    return pd.DataFrame(rows)


CORPUS = {
    "blog-dagster": ("blog", "Airflow vs Dagster", 1),
    "blog-parquet": ("blog", "Parquet is not magic", 3),
    "blog-sql": ("blog", "SQL habits", 2),
    "blog-kimball": ("blog", "Kimball is not dead", 1),
    "gutenberg-345": ("gutenberg", "Dracula", 4),
    "gutenberg-84": ("gutenberg", "Frankenstein", 2),
}


def records(dataset, split: str) -> list[dict[str, object]]:
    return [dict(row) for row in dataset[split]]


def chunk_file(chunks: pd.DataFrame, folder: Path) -> Path:
    """`chunks` as `text_chunks` stores them: a parquet file in doc_id and position order."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "chunks.parquet"
    chunks.sort_values(["doc_id", "position"]).to_parquet(path, index=False, compression="zstd")
    return path


def built(
    chunks: pd.DataFrame, fmt: DatasetFormat, fraction: float, seed: int, folder: Path
) -> tuple[DatasetDict, SplitPlan]:
    """`build_dataset` of `chunks`, in a fresh folder under `folder` (its arrow files are
    memory-mapped for as long as the dataset lives)."""
    work = Path(tempfile.mkdtemp(dir=folder))
    dataset, plan, _ = build_dataset(chunk_file(chunks, work), fmt, fraction, seed, work)
    return dataset, plan
