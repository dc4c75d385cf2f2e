"""Batches: the unit Dagster tracks, up to a few thousand documents of one source each.

One Dagster partition per document cost more in events and metadata than the work itself
(tens of milliseconds per document against one to ten), so documents are tracked in batches:
`document_catalog` puts each newly found document of a source into that source's next new
batch, at most `batch_size` to a batch, and a document keeps its batch for good. A batch is
therefore never extended after it was materialized: new documents make new batches, which is
what automation's `on_missing` picks up. Re-running one document means re-running its batch
(the catalog table's `batch` column, and every set-aside listing, name it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import groupby

from pydantic import BaseModel, Field

from llmft_assets.sources.catalog import CatalogEntry

_BATCH = re.compile(r"^(?P<source>[a-z0-9]+)-batch-(?P<number>\d+)$")


class CatalogSettings(BaseModel):
    batch_size: int = Field(
        default=5000,
        ge=1,
        description="Most documents in one new batch (one partition of the source and cleaning"
        " assets, one run in a backfill). Documents found earlier keep their batch.",
    )


def batch_key(source: str, number: int) -> str:
    """`batch_key("blog", 3)` -> `blog-batch-00003`: sorts in the order batches were made."""
    return f"{source}-batch-{number:05d}"


def assign_batches(
    entries: Sequence[CatalogEntry], previous: Mapping[str, str], batch_size: int
) -> list[CatalogEntry]:
    """`entries` with their batch: the one in `previous` (document id -> batch) for a document
    seen before, else a new batch of its source, filled in discovery order."""
    numbers: dict[str, int] = {}
    for batch in previous.values():
        match = _BATCH.match(batch)
        if match:
            source, number = match["source"], int(match["number"])
            numbers[source] = max(numbers.get(source, -1), number)
    new = [e for e in entries if e.doc_id not in previous]
    batches: dict[str, str] = {}
    for source, group in groupby(new, key=lambda e: e.source):
        members = list(group)
        for start in range(0, len(members), batch_size):
            numbers[source] = numbers.get(source, -1) + 1
            key = batch_key(source, numbers[source])
            batches.update((e.doc_id, key) for e in members[start : start + batch_size])
    return [replace(e, batch=previous.get(e.doc_id) or batches[e.doc_id]) for e in entries]
