"""Fixtures shared across the suite: real services started on 127.0.0.1, no mocks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pytest
from moto.server import ThreadedMotoServer

from llmft_assets.chunking.stage import token_counter
from llmft_assets.chunking.tokens import TokenCounter
from llmft_assets.export.gguf import convert_to_f16
from llmft_assets.modeling.source import BUNDLED_SMOLLM2
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import LocalBackend
from llmft_assets_tests.deployment import Deployment, make_deployment
from llmft_assets_tests.tiny_model import build_tiny_llama, one_torch_thread


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto server speaking the S3 HTTP protocol on 127.0.0.1, for the whole session."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    mp.undo()


@pytest.fixture
def s3_bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket named after the test."""
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50]
    name = name.strip("-")
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def local_store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(LocalBackend(tmp_path / "store"), tmp_path / "cache")


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A real, persistent Dagster instance in a temporary DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as dagster_instance:
        yield dagster_instance


@pytest.fixture(scope="session")
def smollm2_counter() -> TokenCounter:
    return token_counter(BUNDLED_SMOLLM2)


@pytest.fixture
def deployment(tmp_path: Path, instance: dg.DagsterInstance) -> Deployment:
    """Sample posts and books in temp folders, a local artifact store, a real instance."""
    return make_deployment(tmp_path, instance)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with the SmolLM2 tokenizer (see tiny_model.py)."""
    with one_torch_thread():
        return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_f16_gguf(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    return convert_to_f16(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny.f16.gguf")
