"""A backfill of hundreds of documents in batches, launched through the webserver as the UI
does, and executed by the real backfill daemon: one run per batch and asset (runs the run
launcher may run side by side), not one per document. Prints the wall time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster_webserver.webserver import DagsterWebserver
from starlette.testclient import TestClient

from llmft_assets.defs.ingestion import blog_posts_html, cleaned_documents, document_catalog
from llmft_assets.defs.preparation import batch_chunks
from llmft_assets.defs.resources import resources_from_environment
from llmft_assets.storage import layout
from llmft_assets_tests.deployment import SAMPLE_DATA

pytestmark = pytest.mark.slow  # a daemon backfilling hundreds of documents

DOCUMENTS = 300
BATCH_SIZE = 100
# Fetching, cleaning and chunking: each runs per batch, in runs on the deployment's launcher.
PER_BATCH = (blog_posts_html, cleaned_documents, batch_chunks)
REPO_ROOT = Path(__file__).resolve().parents[2]
_BACKFILL_TIMEOUT_S = 900
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkspaceProcessContext]:
    """300 posts in a folder, and a workspace whose code server reads them."""
    posts = tmp_path / "posts"
    posts.mkdir()
    template = (SAMPLE_DATA / "blog_posts" / "parquet-is-not-magic.html").read_text()
    for number in range(DOCUMENTS):
        page = template.replace("Parquet Is Not Magic", f"Parquet Is Not Magic, Part {number}")
        (posts / f"parquet-part-{number:03d}.html").write_text(page)
    (tmp_path / "books").mkdir()
    monkeypatch.setenv("LLMFT_BLOG_FOLDER", str(posts))
    monkeypatch.setenv("LLMFT_BOOKS_FOLDER", str(tmp_path / "books"))
    monkeypatch.setenv("LLMFT_DATA_DIR", str(tmp_path / "data"))
    home = tmp_path / "home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        target = ModuleTarget(
            module_name="llmft_assets.definitions",
            attribute=None,
            working_directory=str(REPO_ROOT),
            location_name="llmft_assets",
        )
        with WorkspaceProcessContext(instance, target) as context:
            yield context


def test_a_backfill_of_hundreds_of_documents_runs_per_batch_not_per_document(
    workspace: WorkspaceProcessContext,
) -> None:
    instance = workspace.instance
    assert dg.materialize(
        [document_catalog],
        instance=instance,
        resources=resources_from_environment(),
        run_config={"ops": {"document_catalog": {"config": {"batch_size": BATCH_SIZE}}}},
    ).success
    batches = instance.get_dynamic_partitions("document_batches")
    assert len(batches) == DOCUMENTS // BATCH_SIZE

    started = time.perf_counter()
    # The webserver's own app, called as the UI's "Launch backfill" (all partitions) calls it.
    ui = TestClient(DagsterWebserver(workspace).create_asgi_app())
    params = {
        "assetSelection": [{"path": [a.key.path[0]]} for a in PER_BATCH],
        "allPartitions": True,
    }
    response = ui.post("/graphql", json={"query": LAUNCH_BACKFILL, "variables": {"params": params}})
    launched = response.json()["data"]["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    deadline = time.monotonic() + _BACKFILL_TIMEOUT_S
    logger = logging.getLogger("backfill")
    while instance.get_backfill(backfill_id).status == BulkActionStatus.REQUESTED:
        assert time.monotonic() < deadline, "backfill did not finish"
        list(execute_backfill_iteration(workspace, logger))  # the daemons' two loops
        list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(workspace))
        time.sleep(0.5)
    elapsed = time.perf_counter() - started

    assert instance.get_backfill(backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    # Per batch: its fetch, then its cleaning and chunking in one run (they share partitions).
    assert len(runs) == 2 * len(batches)
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    for asset in PER_BATCH:
        assert instance.get_materialized_partitions(asset.key) == set(batches)
        # Dagster's bookkeeping is per batch: one materialization each, not one per document.
        records = instance.fetch_materializations(asset.key, limit=1000).records
        assert len(records) == len(batches)
    store = resources_from_environment()["artifact_store"].store()
    assert len(store.list_keys(layout.CLEANED_FOLDER)) == DOCUMENTS + len(batches)  # manifests
    assert len(store.list_keys(layout.CHUNKED_BATCHES)) == len(batches)  # what text_chunks merges
    print(
        f"\nbackfill of {DOCUMENTS} documents x {len(PER_BATCH)} assets: {len(runs)} runs,"
        f" {elapsed:.1f} s"
    )
