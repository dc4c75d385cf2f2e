"""The ingestion stages: discover every source's documents, fetch a source's batches of
documents, clean batches. Each reads and writes the artifact store document by document and
returns a typed report; a document that cannot be used is set aside (its reason and any bytes
kept under `rejected/<stage>/`) and the stage goes on. Memory holds a few documents at a time,
whatever the size of a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from llmft_assets.cleaning.documents import CleanedDocument, clean_document
from llmft_assets.concurrency import in_order
from llmft_assets.errors import DocumentError
from llmft_assets.reports import Report
from llmft_assets.sources.batches import CatalogSettings, assign_batches
from llmft_assets.sources.catalog import CatalogEntry
from llmft_assets.sources.registry import SOURCES, source_of
from llmft_assets.sources.source import Source, SourceSettings
from llmft_assets.storage import layout
from llmft_assets.storage.artifacts import ArtifactStore

CLEANING_STAGE = "cleaned_documents"  # the folder under rejected/ for cleaning's rejects
_FETCH_THREADS = 8
_FETCHES_AHEAD = 2 * _FETCH_THREADS  # fetched documents held while earlier ones are stored
_OPENING_CHARS = 160


@dataclass(frozen=True)
class DiscoveryReport(Report):
    """What `document_catalog` found: entries in source order, and what it could not use."""

    entries: tuple[CatalogEntry, ...]  # each with its batch
    new: tuple[str, ...]  # ids of the documents not in the previous catalog
    skipped: dict[str, str]  # an offered item that is not usable (a Gutendex book id) -> why
    uri: str  # of the catalog table

    def batches_of(self, source: Source) -> list[str]:
        """The source's batches, in the order they were made."""
        return sorted({e.batch for e in self.entries if e.source == source.name})

    def count_of(self, source: Source) -> int:
        return sum(e.source == source.name for e in self.entries)


@dataclass(frozen=True)
class FetchReport(Report):
    documents: int
    fetched: int
    bytes: int  # stored
    rejected: dict[str, str]  # document id -> why


@dataclass(frozen=True)
class CleanedSummary(Report):
    """One cleaned document, as the metadata shows it."""

    doc_id: str
    title: str
    char_count: int
    language: str
    flags: str
    opening: str  # the first characters of its text


@dataclass(frozen=True)
class CleaningReport(Report):
    documents: int
    cleaned: tuple[CleanedSummary, ...]
    rejected: dict[str, str]  # document id -> why


def run_discovery(
    store: ArtifactStore, settings: Mapping[str, SourceSettings], catalog_settings: CatalogSettings
) -> DiscoveryReport:
    """Every source's documents (settings by source name) with their batches, written as the
    catalog table. Documents of the previous catalog keep their batch.

    Raises SourceError when a source is unusable.
    """
    found = [settings[source.name].discover() for source in SOURCES]
    previous = {e.doc_id: e.batch for e in read_catalog(store).values() if e.batch}
    entries = assign_batches(
        [entry for discovery in found for entry in discovery.entries],
        previous,
        catalog_settings.batch_size,
    )
    info = store.write_table(layout.CATALOG, pd.DataFrame([e.as_row() for e in entries]))
    skipped = {item: why for discovery in found for item, why in discovery.skipped.items()}
    return DiscoveryReport(
        entries=tuple(entries),
        new=tuple(e.doc_id for e in entries if e.doc_id not in previous),
        skipped=skipped,
        uri=info.uri,
    )


def run_fetch(
    store: ArtifactStore, source: Source, settings: SourceSettings, batches: Sequence[str]
) -> FetchReport:
    """Fetch the documents of the source's `batches` into the store, a few at a time."""
    catalog = read_catalog(store)
    doc_ids = documents_in(catalog, batches, source)

    def fetch(doc_id: str) -> bytes | DocumentError:
        entry = catalog.get(doc_id)
        if entry is None:
            return DocumentError("not in the current document catalog")
        try:
            return settings.fetch(entry)
        except DocumentError as error:
            return error

    rejected: dict[str, str] = {}
    stored_bytes = 0
    with ThreadPoolExecutor(_FETCH_THREADS) as pool:
        for doc_id, outcome in in_order(pool, fetch, doc_ids, _FETCHES_AHEAD):
            key = layout.raw_document(doc_id)
            if isinstance(outcome, DocumentError):
                rejected[doc_id] = str(outcome)
                set_aside(store, source.raw_asset, doc_id, key, str(outcome))
                continue
            stored_bytes += store.write_bytes(key, outcome).size_bytes
            clear_rejection(store, source.raw_asset, doc_id)
    return FetchReport(
        documents=len(doc_ids),
        fetched=len(doc_ids) - len(rejected),
        bytes=stored_bytes,
        rejected=rejected,
    )


def run_cleaning(store: ArtifactStore, batches: Sequence[str]) -> CleaningReport:
    """Clean the raw bytes of each document in `batches` into a one-row table of its text and
    hashes, and list each batch's stored documents in its manifest (written last, so a
    manifest names only files that are in place)."""
    catalog = read_catalog(store)
    doc_ids = documents_in(catalog, batches)
    cleaned: list[CleanedSummary] = []
    rejected: dict[str, str] = {}
    manifests: dict[str, dict[str, str]] = {batch: {} for batch in batches}
    for doc_id in doc_ids:
        key = layout.cleaned_document(doc_id)
        data = None
        try:
            data = _raw_bytes(store, doc_id)
            document = _clean(data, doc_id, catalog)
        except DocumentError as error:
            rejected[doc_id] = str(error)
            set_aside(store, CLEANING_STAGE, doc_id, key, str(error), data)
            continue
        info = store.write_table(key, pd.DataFrame([document.as_row()]))
        manifests[catalog[doc_id].batch][doc_id] = info.sha256
        clear_rejection(store, CLEANING_STAGE, doc_id)
        cleaned.append(
            CleanedSummary(
                doc_id=doc_id,
                title=document.title,
                char_count=document.char_count,
                language=document.language,
                flags=document.flags,
                opening=document.text[:_OPENING_CHARS],
            )
        )
    for batch, documents in manifests.items():
        store.write_json(layout.cleaned_batch(batch), {"batch": batch, "documents": documents})
    return CleaningReport(documents=len(doc_ids), cleaned=tuple(cleaned), rejected=rejected)


def set_aside(
    store: ArtifactStore,
    stage: str,
    doc_id: str,
    output_key: str,
    reason: str,
    data: bytes | None = None,
) -> None:
    """Drop a document's output at `stage`, and keep why (and its bytes, if any) where a user
    can inspect them."""
    store.delete([output_key])
    store.write_json(layout.rejection(stage, doc_id), {"reason": reason})
    if data is not None:
        store.write_bytes(layout.rejected_bytes(stage, doc_id), data)


def clear_rejection(store: ArtifactStore, stage: str, doc_id: str) -> None:
    """A document that passed `stage` this time is no longer set aside there."""
    store.delete([layout.rejection(stage, doc_id), layout.rejected_bytes(stage, doc_id)])


def read_catalog(store: ArtifactStore) -> dict[str, CatalogEntry]:
    """The current catalog by document id; empty before the first discovery."""
    try:
        table = store.read_table(layout.CATALOG).fillna("")
    except FileNotFoundError:
        return {}
    return {row["doc_id"]: CatalogEntry(**row) for row in table.to_dict("records")}


def documents_in(
    catalog: Mapping[str, CatalogEntry], batches: Sequence[str], source: Source | None = None
) -> list[str]:
    """Ids of the catalog's documents in `batches` (of `source` only, if given)."""
    wanted = set(batches)
    return [
        e.doc_id
        for e in catalog.values()
        if e.batch in wanted and (source is None or e.source == source.name)
    ]


def _raw_bytes(store: ArtifactStore, doc_id: str) -> bytes:
    try:
        return store.read_bytes(layout.raw_document(doc_id))
    except FileNotFoundError:
        stage = source_of(doc_id).raw_asset
        try:
            reason = store.read_json(layout.rejection(stage, doc_id))["reason"]
        except FileNotFoundError:
            reason = "its source asset has not been materialized for it"
        raise DocumentError(f"no raw document: {reason}") from None


def _clean(data: bytes, doc_id: str, catalog: Mapping[str, CatalogEntry]) -> CleanedDocument:
    source = source_of(doc_id)
    entry = catalog.get(doc_id, CatalogEntry(doc_id, source.name, ""))
    return clean_document(
        data,
        doc_id=doc_id,
        source=source.name,
        kind=source.kind,
        file_name=entry.locator.rsplit("/", 1)[-1],
        title_hint=entry.title,
        url=entry.locator if entry.locator.startswith("http") else "",
        language_hint=entry.language.split(",")[0],
    )
