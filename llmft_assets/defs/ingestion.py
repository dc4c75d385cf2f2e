"""Ingestion: find documents, fetch them, clean them; one partition per batch of documents.

Each source in sources/registry.py gets a raw asset (named by its `Source`, built by
`_raw_documents_asset`) over its own partition set of batches; `cleaned_documents` spans them
all. The work is in sources/stages.py; these assets call it and turn its reports into
metadata, where each batch lists the documents it set aside and why.
"""

import dagster as dg

from llmft_assets.defs.metadata import markdown_table, rejections
from llmft_assets.defs.partitions import ONE_RUN_PER_BATCH, SOURCE_PARTITIONS, document_batches
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.sources.batches import CatalogSettings
from llmft_assets.sources.registry import SOURCES
from llmft_assets.sources.source import Source
from llmft_assets.sources.stages import CLEANING_STAGE, run_cleaning, run_discovery, run_fetch
from llmft_assets.storage import layout

DATA_TEAM = "team:data-engineering"
_SOURCE_RESOURCE_KEYS = {source.resource_key for source in SOURCES}


class CatalogConfig(dg.Config, CatalogSettings):
    """`CatalogSettings` as run config (the launchpad shows its fields)."""


@dg.asset(
    group_name="ingestion",
    kinds={"python", "parquet"},
    owners=[DATA_TEAM],
    required_resource_keys={"artifact_store", *_SOURCE_RESOURCE_KEYS},
)
def document_catalog(
    context: dg.AssetExecutionContext, config: CatalogConfig
) -> dg.MaterializeResult:
    """Every document the sources offer, one row each with its batch. New documents fill new
    batches, which become new partitions of the source and cleaning assets, which automation
    then materializes."""
    store = context.resources.artifact_store.store()
    settings = {s.name: getattr(context.resources, s.resource_key) for s in SOURCES}
    report = run_discovery(store, settings, config)
    new_batches: list[str] = []
    for source in SOURCES:
        batches = report.batches_of(source)
        new_batches += _register(context.instance, source.partitions, batches)
        _register(context.instance, document_batches.name, batches)
    new = set(report.new)
    context.log.info(f"{len(report.entries)} documents, {len(new)} new, new batches {new_batches}")
    return dg.MaterializeResult(
        metadata={
            "documents": len(report.entries),
            **{s.catalog_count: report.count_of(s) for s in SOURCES},
            "new_documents": len(new),
            "new_batches": dg.MetadataValue.json(new_batches),
            "gutendex_books_skipped": markdown_table(("book id", "why"), report.skipped.items()),
            "preview": markdown_table(
                ("document", "batch", "new", "title", "location"),
                [
                    (e.doc_id, e.batch, e.doc_id in new, e.title, e.locator)
                    for e in report.entries[:50]
                ],
            ),
            "uri": dg.MetadataValue.path(report.uri),
        }
    )


def _register(instance: dg.DagsterInstance, partitions: str, keys: list[str]) -> list[str]:
    """Add the keys that `partitions` lacks; return them."""
    existing = set(instance.get_dynamic_partitions(partitions))
    new = [k for k in keys if k not in existing]
    if new:
        instance.add_dynamic_partitions(partitions, new)
    return new


def _raw_documents_asset(source: Source) -> dg.AssetsDefinition:
    """The asset holding one source's raw documents, one partition per batch."""

    @dg.asset(
        name=source.raw_asset,
        description=source.description,
        partitions_def=SOURCE_PARTITIONS[source.name],
        backfill_policy=ONE_RUN_PER_BATCH,
        deps=[document_catalog],
        automation_condition=dg.AutomationCondition.on_missing(),
        group_name="ingestion",
        kinds=set(source.asset_kinds),
        owners=[DATA_TEAM],
        required_resource_keys={"artifact_store", source.resource_key},
    )
    def raw_documents(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        store = context.resources.artifact_store.store()
        settings = getattr(context.resources, source.resource_key)
        report = run_fetch(store, source, settings, context.partition_keys)
        for doc_id, reason in sorted(report.rejected.items()):
            context.log.warning(f"set aside {doc_id}: {reason}")
        return dg.MaterializeResult(
            metadata={
                "documents": report.documents,
                "fetched": report.fetched,
                "bytes": report.bytes,
                **rejections(report.rejected, store.uri(layout.rejected_folder(source.raw_asset))),
            }
        )

    return raw_documents


RAW_DOCUMENT_ASSETS = [_raw_documents_asset(source) for source in SOURCES]
blog_posts_html, gutenberg_books, notes_text = RAW_DOCUMENT_ASSETS


@dg.asset(
    partitions_def=document_batches,
    backfill_policy=ONE_RUN_PER_BATCH,
    # A batch's key is the same in its source's partition set and in `document_batches`, but a
    # post batch does not exist among the book batches (nor the reverse), which Dagster's
    # identity mapping treats as a missing upstream partition and refuses in backfills. So
    # each cleaned partition depends on its sources as a whole, and finds its own raw
    # documents through the catalog.
    deps=[
        dg.AssetDep(raw, partition_mapping=dg.AllPartitionMapping()) for raw in RAW_DOCUMENT_ASSETS
    ],
    automation_condition=dg.AutomationCondition.on_missing(),
    group_name="ingestion",
    kinds={"python", "parquet"},
    owners=[DATA_TEAM],
)
def cleaned_documents(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The text of each document: a post's main article, a book without its Project
    Gutenberg header, licence and footer, a note as written. One row per document with its
    hashes."""
    store = artifact_store.store()
    report = run_cleaning(store, context.partition_keys)
    for doc_id, reason in sorted(report.rejected.items()):
        context.log.warning(f"set aside {doc_id}: {reason}")
    kept = report.cleaned
    return dg.MaterializeResult(
        metadata={
            "documents": report.documents,
            "cleaned": len(kept),
            "characters": sum(d.char_count for d in kept),
            "flagged": markdown_table(
                ("document", "flags"), [(d.doc_id, d.flags) for d in kept if d.flags]
            ),
            **rejections(report.rejected, store.uri(layout.rejected_folder(CLEANING_STAGE))),
            "preview": markdown_table(
                ("document", "title", "characters", "language", "start of text"),
                [(d.doc_id, d.title, d.char_count, d.language, d.opening) for d in kept[:20]],
            ),
        }
    )


# Every ingestion asset, in the order a run materializes them.
INGESTION_ASSETS = [document_catalog, *RAW_DOCUMENT_ASSETS, cleaned_documents]
