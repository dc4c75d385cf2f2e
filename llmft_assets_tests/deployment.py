"""A deployment for tests: the real assets on a real instance, sources in temp folders."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from llmft_assets.definitions import ASSETS, DATA_ASSETS
from llmft_assets.defs.data_checks import DATA_CHECKS
from llmft_assets.defs.ingestion import (
    blog_posts_html,
    cleaned_documents,
    document_catalog,
    gutenberg_books,
)
from llmft_assets.defs.modeling import base_model
from llmft_assets.defs.preparation import batch_chunks, text_chunks, training_dataset
from llmft_assets.defs.resources import (
    ArtifactStoreResource,
    BlogPostSource,
    GutenbergSource,
    NotesSource,
)
from llmft_assets.storage.artifacts import ArtifactStore

ALL_ASSETS = tuple(asset.key.to_user_string() for asset in ASSETS)
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "llmft_assets" / "sample_data"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
POSTS = [
    "89014957.data-engineer-vs-senior-data-engineer.html",
    "parquet-is-not-magic.html",
    "kimball-is-not-dead.html",
]
BOOKS = [
    "pg68283-orig_call-of-cthulhu_2022.txt",
    "pg68283-reissue_call-of-cthulhu_2013-style.txt",
    "11563-8_morning-bells_2004_latin1.txt",
]


@dataclass
class Deployment:
    """A deployment's resources, its instance, and helpers to run assets as a user would."""

    instance: dg.DagsterInstance
    resources: dict[str, dg.ConfigurableResource]
    posts: Path
    books: Path

    @property
    def store(self) -> ArtifactStore:
        return self.resources["artifact_store"].store()

    def materialize(
        self,
        selection: Sequence[dg.AssetsDefinition],
        partitions: str | None = None,
        run_config: dict | None = None,
        raise_on_error: bool = True,
        partition: str | None = None,
    ) -> dg.ExecuteInProcessResult:
        """One run over `selection`; with `partitions`, the whole range of that set; with
        `partition`, that one partition. Of `run_config`, the ops of `selection` apply."""
        tags = {}
        if partitions:
            keys = self.instance.get_dynamic_partitions(partitions)
            tags = {RANGE_START: keys[0], RANGE_END: keys[-1]}
        return dg.materialize(
            [*DATA_ASSETS, *DATA_CHECKS],
            selection=selection,
            instance=self.instance,
            resources=self.resources,
            tags=tags,
            partition_key=partition,
            run_config=_config_of(run_config, selection),
            raise_on_error=raise_on_error,
        )

    def ingest(self) -> None:
        """Discovery, then every source and cleaning batch, one run per partition set."""
        self.materialize([document_catalog])
        self.materialize([blog_posts_html], "blog_post_batches")
        self.materialize([gutenberg_books], "gutenberg_book_batches")
        self.materialize([cleaned_documents], "document_batches")

    def build_dataset(self, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
        """Ingestion, every batch's chunks, then the merged chunks and the dataset in one run:
        what training reads."""
        self.ingest()
        assert self.materialize([batch_chunks], "document_batches", run_config).success
        result = self.materialize([text_chunks, training_dataset], run_config=run_config)
        assert result.success
        return result

    def materialize_base_model(self, model_dir: Path) -> None:
        """`base_model` from a local model folder (the tests' tiny model)."""
        assert dg.materialize(
            [base_model],
            instance=self.instance,
            resources=self.resources,
            run_config={"ops": {"base_model": {"config": {"model": str(model_dir)}}}},
        ).success


def _config_of(run_config: dict | None, selection: Sequence[dg.AssetsDefinition]) -> dict | None:
    """`run_config` with only the ops of the assets in `selection`."""
    if not run_config:
        return run_config
    names = {key.to_user_string() for asset in selection for key in asset.keys}
    ops = {name: op for name, op in run_config.get("ops", {}).items() if name in names}
    return {**run_config, "ops": ops}


def copy_samples(folder: Path, kind: str, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SAMPLE_DATA / kind / name, folder / name)
    return folder


def make_deployment(tmp_path: Path, instance: dg.DagsterInstance) -> Deployment:
    posts = copy_samples(tmp_path / "posts", "blog_posts", POSTS)
    books = copy_samples(tmp_path / "books", "gutenberg", BOOKS)
    resources = {
        "artifact_store": ArtifactStoreResource(root=str(tmp_path / "store")),
        "blog_source": BlogPostSource(folder=str(posts)),
        "gutenberg_source": GutenbergSource(folder=str(books)),
        "notes_source": NotesSource(),  # none: the demo's figures are those of posts and books
    }
    return Deployment(instance, resources, posts, books)
