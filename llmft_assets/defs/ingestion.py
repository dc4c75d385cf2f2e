"""Ingestion: find documents, fetch them, clean them; one partition per document."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pandas as pd

from llmft_assets.cleaning.documents import DocumentKind, clean_document
from llmft_assets.defs import layout
from llmft_assets.defs.metadata import markdown_table, rejections
from llmft_assets.defs.partitions import (
    ONE_RUN_PER_RANGE,
    blog_post_partitions,
    book_partitions,
    document_partitions,
)
from llmft_assets.defs.resources import ArtifactStoreResource, BlogPostSource, GutenbergSource
from llmft_assets.errors import DocumentError
from llmft_assets.sources.catalog import BLOG, GUTENBERG, CatalogEntry, fetch_document
from llmft_assets.storage.artifacts import ArtifactStore

DATA_TEAM = "team:data-engineering"
_FETCH_THREADS = 8
_KIND_BY_SOURCE = {BLOG: DocumentKind.HTML, GUTENBERG: DocumentKind.GUTENBERG}


@dg.asset(
    group_name="ingestion",
    kinds={"python", "parquet"},
    owners=[DATA_TEAM],
)
def document_catalog(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    blog_source: BlogPostSource,
    gutenberg_source: GutenbergSource,
) -> dg.MaterializeResult:
    """Every document the sources offer, one row each. New documents become new partitions
    of the source and cleaning assets, which automation then materializes."""
    posts = blog_source.discover()
    books, skipped = gutenberg_source.discover()
    entries = posts + books
    info = artifact_store.store().write_table(
        layout.CATALOG, pd.DataFrame([e.as_row() for e in entries])
    )
    new_posts = _register(context.instance, blog_post_partitions, [e.doc_id for e in posts])
    new_books = _register(context.instance, book_partitions, [e.doc_id for e in books])
    _register(context.instance, document_partitions, [e.doc_id for e in entries])
    new = set(new_posts + new_books)
    context.log.info(f"{len(entries)} documents, {len(new)} new")
    return dg.MaterializeResult(
        metadata={
            "documents": len(entries),
            "blog_posts": len(posts),
            "books": len(books),
            "new_documents": len(new),
            "gutendex_books_skipped": markdown_table(("book id", "why"), sorted(skipped.items())),
            "preview": markdown_table(
                ("document", "new", "title", "location"),
                [(e.doc_id, e.doc_id in new, e.title, e.locator) for e in entries[:50]],
            ),
            "uri": dg.MetadataValue.path(info.uri),
        }
    )


def _register(
    instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, keys: list[str]
) -> list[str]:
    existing = set(instance.get_dynamic_partitions(partitions.name))
    new = [k for k in keys if k not in existing]
    if new:
        instance.add_dynamic_partitions(partitions.name, new)
    return new


@dg.asset(
    partitions_def=blog_post_partitions,
    backfill_policy=ONE_RUN_PER_RANGE,
    deps=[document_catalog],
    automation_condition=dg.AutomationCondition.on_missing(),
    group_name="ingestion",
    kinds={"html"},
    owners=[DATA_TEAM],
)
def blog_posts_html(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    blog_source: BlogPostSource,
) -> dg.MaterializeResult:
    """Raw HTML of each blog post, as fetched from its folder, bucket or URL."""
    return _fetch_partitions(
        context,
        artifact_store.store(),
        lambda entry: fetch_document(entry, blog_source.http_policy(), blog_source.s3_endpoint_url),
    )


@dg.asset(
    partitions_def=book_partitions,
    backfill_policy=ONE_RUN_PER_RANGE,
    deps=[document_catalog],
    automation_condition=dg.AutomationCondition.on_missing(),
    group_name="ingestion",
    kinds={"text"},
    owners=[DATA_TEAM],
)
def gutenberg_books(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    gutenberg_source: GutenbergSource,
) -> dg.MaterializeResult:
    """Raw text of each Project Gutenberg book, as downloaded (bounded, with retries)."""
    return _fetch_partitions(
        context,
        artifact_store.store(),
        lambda entry: fetch_document(
            entry, gutenberg_source.http_policy(), gutenberg_source.s3_endpoint_url
        ),
    )


def _fetch_partitions(
    context: dg.AssetExecutionContext,
    store: ArtifactStore,
    fetch: Callable[[CatalogEntry], bytes],
) -> dg.MaterializeResult:
    """Fetch every document of the run's partitions; a failure sets that document aside."""
    stage = context.asset_key.to_user_string()
    catalog = _catalog(store)
    rejected: dict[str, str] = {}
    stored_bytes = 0

    def fetch_one(doc_id: str) -> tuple[str, bytes | None, str]:
        entry = catalog.get(doc_id)
        if entry is None:
            return doc_id, None, "not in the current document catalog"
        try:
            return doc_id, fetch(entry), ""
        except DocumentError as error:
            return doc_id, None, str(error)

    with ThreadPoolExecutor(_FETCH_THREADS) as pool:
        for doc_id, data, reason in pool.map(fetch_one, context.partition_keys):
            if data is None:
                rejected[doc_id] = reason
                store.delete([layout.raw_document(doc_id)])
                store.write_json(layout.rejection(stage, doc_id), {"reason": reason})
                continue
            stored_bytes += store.write_bytes(layout.raw_document(doc_id), data).size_bytes
            store.delete([layout.rejection(stage, doc_id)])
    for doc_id, reason in sorted(rejected.items()):
        context.log.warning(f"set aside {doc_id}: {reason}")
    return dg.MaterializeResult(
        metadata={
            "documents": len(context.partition_keys),
            "fetched": len(context.partition_keys) - len(rejected),
            "bytes": stored_bytes,
            **rejections(rejected),
        }
    )


def _catalog(store: ArtifactStore) -> dict[str, CatalogEntry]:
    table = store.read_table(layout.CATALOG).fillna("")
    return {row["doc_id"]: CatalogEntry(**row) for row in table.to_dict("records")}


@dg.asset(
    partitions_def=document_partitions,
    backfill_policy=ONE_RUN_PER_RANGE,
    # A document's key is the same in its source's partition set and in `documents`, but a
    # post key does not exist among the books (nor a book's among the posts), which Dagster's
    # identity mapping treats as a missing upstream partition and refuses in backfills. So
    # each cleaned partition depends on its sources as a whole, and finds its own raw
    # document by key.
    deps=[
        dg.AssetDep(blog_posts_html, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(gutenberg_books, partition_mapping=dg.AllPartitionMapping()),
    ],
    automation_condition=dg.AutomationCondition.on_missing(),
    group_name="ingestion",
    kinds={"python", "parquet"},
    owners=[DATA_TEAM],
)
def cleaned_documents(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The text of each document: a post's main article, or a book without its Project
    Gutenberg header, licence and footer. One row per document with its hashes."""
    store = artifact_store.store()
    catalog = _catalog(store)
    rejected: dict[str, str] = {}
    kept: list[dict[str, object]] = []
    for doc_id in context.partition_keys:
        source = layout.source_of(doc_id)
        entry = catalog.get(doc_id, CatalogEntry(doc_id, source, ""))
        try:
            data = _raw_bytes(store, doc_id)
            document = clean_document(
                data,
                doc_id=doc_id,
                source=source,
                kind=_KIND_BY_SOURCE[source],
                file_name=entry.locator.rsplit("/", 1)[-1],
                title_hint=entry.title,
                url=entry.locator if entry.locator.startswith("http") else "",
                language_hint=entry.language.split(",")[0],
            )
        except DocumentError as error:
            rejected[doc_id] = str(error)
            _set_aside(store, doc_id, str(error))
            continue
        row = document.as_row()
        store.write_table(layout.cleaned_document(doc_id), pd.DataFrame([row]))
        store.delete([layout.rejection("cleaned_documents", doc_id)])
        kept.append(row)
    for doc_id, reason in sorted(rejected.items()):
        context.log.warning(f"set aside {doc_id}: {reason}")
    flagged = [(r["doc_id"], r["flags"]) for r in kept if r["flags"]]
    return dg.MaterializeResult(
        metadata={
            "documents": len(context.partition_keys),
            "cleaned": len(kept),
            "characters": sum(int(r["char_count"]) for r in kept),
            "flagged": markdown_table(("document", "flags"), flagged),
            **rejections(rejected),
            "preview": markdown_table(
                ("document", "title", "characters", "language", "start of text"),
                [
                    (r["doc_id"], r["title"], r["char_count"], r["language"], r["text"][:160])
                    for r in kept[:20]
                ],
            ),
        }
    )


def _raw_bytes(store: ArtifactStore, doc_id: str) -> bytes:
    try:
        return store.read_bytes(layout.raw_document(doc_id))
    except FileNotFoundError:
        stage = layout.RAW_FOLDERS[layout.source_of(doc_id)]
        try:
            reason = store.read_json(layout.rejection(stage, doc_id))["reason"]
        except FileNotFoundError:
            reason = "its source asset has not been materialized for it"
        raise DocumentError(f"no raw document: {reason}") from None


def _set_aside(store: ArtifactStore, doc_id: str, reason: str) -> None:
    """Keep a rejected document's bytes and reason where a user can inspect them."""
    store.delete([layout.cleaned_document(doc_id)])
    store.write_json(layout.rejection("cleaned_documents", doc_id), {"reason": reason})
    if store.exists(layout.raw_document(doc_id)):
        store.write_bytes(
            layout.rejected_bytes("cleaned_documents", doc_id),
            store.read_bytes(layout.raw_document(doc_id)),
        )
