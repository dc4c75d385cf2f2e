"""Every asset stored in S3 (a moto server speaking the S3 protocol on 127.0.0.1), with the
server going away mid-run and coming back: retries carry the run through, nothing is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pytest
from datasets import load_from_disk
from moto.server import ThreadedMotoServer

from llmft_assets.definitions import DATA_ASSETS, MODEL_ASSETS
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.modeling.training import TrainingReport
from llmft_assets.storage import layout
from llmft_assets_tests.conftest import free_port
from llmft_assets_tests.deployment import ALL_ASSETS, Deployment

pytestmark = pytest.mark.slow  # the whole graph into S3 through outages

BUCKET = "llmft-artifacts"
OUTAGE_S = 3.0


class FlakyS3:
    """A moto S3 server on a fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = self._start()
        self.outages = 0

    def _start(self) -> ThreadedMotoServer:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        return server

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def outage_when(self, key: str) -> threading.Thread:
        """Stop the server once `key` exists, for a few seconds, then serve again."""

        def watch() -> None:
            client = boto3.client("s3", endpoint_url=self.endpoint)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                found = client.list_objects_v2(Bucket=BUCKET, Prefix=f"llmft/{key}")
                if found.get("KeyCount"):
                    break
                time.sleep(0.05)
            self.server.stop()
            self.outages += 1
            time.sleep(OUTAGE_S)
            self.server = self._start()

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def flaky_s3(s3_endpoint: str) -> Iterator[FlakyS3]:  # s3_endpoint sets the AWS test variables
    s3 = FlakyS3()
    boto3.client("s3", endpoint_url=s3.endpoint).create_bucket(Bucket=BUCKET)
    yield s3
    s3.server.stop()


def test_the_whole_graph_lands_in_s3_and_survives_an_outage(
    deployment: Deployment, flaky_s3: FlakyS3, tiny_model_dir: Path
) -> None:
    deployment.resources["artifact_store"] = ArtifactStoreResource(
        root=f"s3://{BUCKET}/llmft", s3_endpoint_url=flaky_s3.endpoint
    )
    outage = flaky_s3.outage_when(layout.CATALOG)
    deployment.build_dataset()
    outage.join(timeout=60)
    assert flaky_s3.outages == 1  # the outage happened during ingestion

    config = {
        "base_model": {"config": {"model": str(tiny_model_dir)}},
        "lora_adapter": {
            "config": {
                "max_steps": 4,
                "batch_size": 2,
                "max_length": 64,
                "eval_steps": 2,
                "save_steps": 2,
                "max_eval_samples": 2,
            }
        },
        "gguf_model": {"config": {"quantizations": ["Q8_0"], "max_new_tokens": 8}},
    }
    second = flaky_s3.outage_when("checkpoints/lora_adapter")  # mid-training, this time
    result = dg.materialize(
        [*DATA_ASSETS, *MODEL_ASSETS],
        selection=MODEL_ASSETS,
        instance=deployment.instance,
        resources=deployment.resources,
        run_config={"ops": config},
    )
    assert result.success
    second.join(timeout=60)
    assert flaky_s3.outages == 2

    # Every materialization names its s3:// location; every artifact reads back.
    for event in result.get_asset_materialization_events():
        uri = event.materialization.metadata["uri"].value
        assert uri.startswith(f"s3://{BUCKET}/llmft/"), uri
    store = deployment.store
    keys = store.list_keys("")
    # Every asset wrote under its name (notes_text has no notes configured, so writes nothing).
    assert {k.split("/")[0] for k in keys} == {*ALL_ASSETS, "reports"} - {"notes_text"}
    assert len(store.read_table(layout.CATALOG)) == 6
    assert all(store.read_bytes(k) for k in keys if k.startswith(("blog_posts_html/", "gutenberg")))
    assert len(store.list_keys(layout.CLEANED_FOLDER)) == 6 + 2  # and two batches' manifests
    assert len(store.list_keys(layout.CHUNK_SHARDS)) == 2 * 3  # per batch: two tables, a marker
    assert len(store.read_table(layout.CHUNKS)) > 0
    dataset = load_from_disk(str(store.read_tree(layout.DATASET)))
    assert len(dataset["train"]) and len(dataset["validation"])
    assert (store.read_tree(layout.BASE_MODEL) / "model.safetensors").is_file()
    assert (store.read_tree(layout.ADAPTER) / "adapter_model.safetensors").is_file()
    assert (store.read_tree(layout.MERGED_MODEL) / "model.safetensors").is_file()
    gguf = store.read_tree(layout.GGUF_MODEL)
    assert (gguf / "model-Q8_0.gguf").read_bytes()[:4] == b"GGUF"
    report = TrainingReport.from_json(store.read_bytes(layout.TRAINING_REPORT))
    assert report.steps == 4
    assert store.list_keys(layout.CHECKPOINTS) == []  # cleared after training
    assert not any(k.endswith((".pt", ".pth", ".bin", ".pkl")) for k in keys)  # no pickles
