"""What a user sees when the stack can't come up: one line saying what and how to fix it
(stack tier: needs a Docker engine, which the harness starts when none answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmft_assets_tests.docker.stack import (
    Stack,
    StackError,
    docker_engine,
    image_exists,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with docker_engine(tmp_path_factory.mktemp("engine") / "dockerd.log"):
        yield


def test_a_build_that_fails_names_the_step_and_the_cause(engine: None) -> None:
    stack = Stack(
        "llmft-stack-fault",
        {
            "LLMFT_BASE_IMAGE": "llmft-stack-test/no-such-base:1",
            "LLMFT_CPU_IMAGE": "llmft-stack-test/never-built:1",
            "LLMFT_DOCKER_NETWORK": "llmft-stack-fault",
        },
    )
    with pytest.raises(
        StackError,
        match=r"building user_code failed .*the base image llmft-stack-test/no-such-base:1",
    ):
        stack.build("user_code")
    assert not image_exists("llmft-stack-test/never-built:1")


def test_an_engine_that_cannot_start_is_one_line_with_its_log(
    engine: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client looks at a socket nobody serves; the dockerd the harness then starts finds
    # the running engine's pid file and exits, as one would on a broken install.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nobody.sock")
    log = tmp_path / "dockerd.log"
    with (
        pytest.raises(StackError, match=f"the Docker engine did not start: .*see {log}"),
        docker_engine(log),
    ):
        pass
