"""What a source is: everything the pipeline needs to know about one kind of document.

A `Source` names its id prefix, where its raw documents go, how cleaning reads them, whether
chunking reflows their lines, and how a training request names one; its settings (a
`SourceSettings` subclass) say where to find documents and how to fetch them. Each source is
one module in this package, listed in `registry.SOURCES`; the Dagster layer builds the
source's asset, partition set and resource from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from llmft_assets.cleaning.documents import DocumentKind
from llmft_assets.sources.catalog import CatalogEntry, fetch_document
from llmft_assets.sources.policy import FetchPolicy


@dataclass(frozen=True)
class Discovery:
    """What a source offers now, and what it offered but cannot be used, with why."""

    entries: list[CatalogEntry]
    skipped: dict[str, str] = field(default_factory=dict)


class SourceSettings(FetchPolicy):
    """Where a source's documents are and how patiently they are fetched."""

    s3_endpoint_url: str | None = Field(
        default=None, description="For S3-compatible stores such as MinIO."
    )

    def discover(self) -> Discovery:
        """Every document the source offers now; SourceError if the source is unusable."""
        raise NotImplementedError

    def fetch(self, entry: CatalogEntry) -> bytes:
        """One document's raw bytes, bounded by this policy; DocumentError if unusable."""
        return fetch_document(entry, self, self.s3_endpoint_url)


@dataclass(frozen=True)
class Source:
    name: str  # document ids start with "<name>-"; CatalogEntry.source
    raw_asset: str  # the asset holding the raw documents, also their folder in the store
    partitions: str  # the source's dynamic partition set: one partition per batch
    raw_suffix: str  # of a raw document in the store
    kind: DocumentKind  # how cleaning reads a document
    reflows: bool  # whether chunking joins the hard-wrapped lines of its prose
    request: str  # what a training request calls one document ("blog post")
    plural: str  # what the dataset card calls several ("blog posts")
    catalog_count: str  # the document_catalog metadata key counting its documents
    description: str  # of the raw asset, as the UI shows it
    asset_kinds: frozenset[str]  # the raw asset's kind tags
    settings: type[SourceSettings]
    # The settings' values from LLMFT_* environment variables (see the README).
    from_environment: Callable[[Mapping[str, str]], dict[str, Any]]

    @property
    def resource_key(self) -> str:
        return f"{self.name}_source"
