"""Resources: the outside world (artifact storage, document sources) behind Dagster config.

`resources_from_environment` builds them from LLMFT_* environment variables (each source's
module reads its own); see the README for the variables. Each source's resource is derived
from its settings model (sources/registry.py), so adding a source adds its resource here.
Credentials never pass through here: boto3 reads them from its own chain.
"""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from llmft_assets.paths import cache_dir
from llmft_assets.sources.blog import BLOG_POSTS
from llmft_assets.sources.gutenberg import GUTENBERG_BOOKS
from llmft_assets.sources.notes import NOTES
from llmft_assets.sources.registry import SOURCES
from llmft_assets.sources.source import Source
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import backend_for


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where every asset's files live: a local folder, or `s3://bucket/prefix`."""

    root: str = Field(description="A local folder or s3://bucket/prefix.")
    s3_endpoint_url: str | None = Field(
        default=None, description="For S3-compatible stores such as MinIO."
    )

    def store(self) -> ArtifactStore:
        return ArtifactStore(backend_for(self.root, self.s3_endpoint_url), cache_dir() / "store")


def _source_resource(source: Source) -> type[dg.ConfigurableResource]:
    """The source's settings as a Dagster resource: the same fields, set in the launchpad or
    the deployment, and the same `discover` and `fetch`."""
    name = source.settings.__name__.removesuffix("Settings") + "Source"
    namespace = {"__doc__": source.settings.__doc__, "__module__": __name__}
    return type(name, (dg.ConfigurableResource, source.settings), namespace)


SOURCE_RESOURCES = {source.resource_key: _source_resource(source) for source in SOURCES}
BlogPostSource = SOURCE_RESOURCES[BLOG_POSTS.resource_key]
GutenbergSource = SOURCE_RESOURCES[GUTENBERG_BOOKS.resource_key]
NotesSource = SOURCE_RESOURCES[NOTES.resource_key]


def default_data_dir() -> str:
    if "LLMFT_DATA_DIR" in os.environ:
        return os.environ["LLMFT_DATA_DIR"]
    if "DAGSTER_HOME" in os.environ:
        return str(Path(os.environ["DAGSTER_HOME"]) / "llmft-data")
    return str(Path.cwd() / "data")


def resources_from_environment() -> dict[str, dg.ConfigurableResource]:
    """Resources for this deployment, from LLMFT_* environment variables (see README)."""
    env = os.environ
    endpoint = env.get("LLMFT_S3_ENDPOINT_URL") or None
    bucket = env.get("LLMFT_S3_BUCKET")
    root = f"s3://{bucket}/{env.get('LLMFT_S3_PREFIX', 'llmft')}" if bucket else default_data_dir()
    return {
        "artifact_store": ArtifactStoreResource(root=root, s3_endpoint_url=endpoint),
        **{
            source.resource_key: SOURCE_RESOURCES[source.resource_key](
                **source.from_environment(env)
            )
            for source in SOURCES
        },
    }
