"""The docker stack's files, checked without a Docker engine (fast tier): the compose file is
valid, and its instance config (docker/dagster.yaml) works against a real PostgreSQL and S3.
test_stack_e2e.py runs the stack itself."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import psycopg2
import pytest
import yaml
from dagster_docker import DockerRunLauncher

from llmft_assets.defs.ingestion import cleaned_documents, document_catalog
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.launching import GpuRoutingRunLauncher, GpuTaggingRunCoordinator
from llmft_assets_tests.deployment import Deployment

DOCKER = Path(__file__).resolve().parents[2] / "docker"
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def test_the_compose_file_is_valid_and_wires_the_stack() -> None:
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: run `make system-deps`"
    checked = subprocess.run(
        [compose, "-f", str(DOCKER / "docker-compose.yaml"), "config"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert {"postgres", "minio", "user_code", "webserver", "daemon"} <= set(services)
    assert "/var/run/docker.sock:/var/run/docker.sock" in str(services["daemon"]["volumes"])
    assert services["webserver"]["environment"]["DAGSTER_POSTGRES_HOST"] == "postgres"
    # One Dockerfile; the CUDA image differs only by where torch comes from.
    cpu, gpu = services["user_code"]["build"], services["gpu_image"]["build"]
    assert cpu["dockerfile"] == gpu["dockerfile"] == "docker/Dockerfile"
    assert cpu["args"]["BASE_IMAGE"] == gpu["args"]["BASE_IMAGE"] == "python:3.11-slim-bookworm"
    assert gpu["args"]["TORCH_INDEX_URL"] == ""
    assert "LLMFT_EXTRAS" not in gpu["args"]  # bitsandbytes is a plain dependency


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""
    name = f"llmft_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(dbname="postgres", **POSTGRES)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def stack_home(
    tmp_path: Path,
    postgres_database: str,
    s3_endpoint: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """DAGSTER_HOME holding the stack's dagster.yaml, its variables set for this machine."""
    for name, value in {
        "DAGSTER_POSTGRES_HOST": POSTGRES["host"],
        "DAGSTER_POSTGRES_PORT": str(POSTGRES["port"]),
        "DAGSTER_POSTGRES_USER": POSTGRES["user"],
        "DAGSTER_POSTGRES_PASSWORD": "",
        "DAGSTER_POSTGRES_DB": postgres_database,
        "LLMFT_S3_BUCKET": s3_bucket,
        "LLMFT_S3_ENDPOINT_URL": s3_endpoint,
        "LLMFT_CPU_IMAGE": "llmft:latest",
        "LLMFT_GPU_IMAGE": "llmft-cuda:latest",
        "LLMFT_DOCKER_NETWORK": "llmft",
    }.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "stack_home"
    home.mkdir()
    shutil.copy(DOCKER / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.mark.slow
def test_the_stack_instance_keeps_runs_in_postgres_and_logs_in_s3(
    stack_home: Path, deployment: Deployment, s3_endpoint: str, s3_bucket: str
) -> None:
    with dg.DagsterInstance.from_config(str(stack_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert isinstance(instance.run_coordinator, GpuTaggingRunCoordinator)
        launcher = instance.run_launcher
        assert isinstance(launcher, GpuRoutingRunLauncher)
        assert all(isinstance(child, DockerRunLauncher) for child in launcher.launchers.values())
        gpu = launcher.launchers["gpu"]
        assert gpu.image == "llmft-cuda:latest"
        assert gpu.container_kwargs["device_requests"][0]["capabilities"] == [["gpu"]]
        assert gpu.networks == ["llmft"]
        assert instance.run_monitoring_enabled and instance.run_retries_enabled

        stack = Deployment(
            instance,
            {
                **deployment.resources,
                "artifact_store": ArtifactStoreResource(
                    root=f"s3://{s3_bucket}/llmft", s3_endpoint_url=s3_endpoint
                ),
            },
            deployment.posts,
            deployment.books,
        )
        stack.ingest()

    # A new instance from the same config reads everything back from Postgres.
    with dg.DagsterInstance.from_config(str(stack_home)) as fresh:
        runs = fresh.get_runs()
        assert len(runs) == 4 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert len(fresh.get_dynamic_partitions("document_batches")) == 2
        catalog = fresh.get_latest_materialization_event(document_catalog.key)
        assert catalog.asset_materialization.metadata["documents"].value == 6
        cleaned = fresh.fetch_materializations(cleaned_documents.key, limit=100).records
        assert len(cleaned) == 2  # one per batch
        assert cleaned[0].asset_materialization.metadata["cleaned"].value == 6

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    logs = s3.list_objects_v2(Bucket=s3_bucket, Prefix="compute-logs/").get("Contents", [])
    assert logs, "compute logs were not uploaded to S3"
    artifacts = s3.list_objects_v2(Bucket=s3_bucket, Prefix="llmft/cleaned_documents/")
    assert artifacts["KeyCount"] == 6 + 2  # and a manifest per batch
