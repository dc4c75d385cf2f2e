"""Chunk tables shaped like `text_chunks`' parquet, for the dataset tests."""

from __future__ import annotations

import random

import pandas as pd


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
