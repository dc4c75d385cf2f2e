"""The stack test's harness, where it needs no Docker engine: the instance file for a host
without GPUs, and the one-line errors a user sees before anything starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from llmft_assets_tests.docker.stack import (
    DOCKER,
    Stack,
    StackError,
    cpu_only_instance,
    free_port,
    run_command,
)


def test_the_cpu_only_instance_keeps_the_gpu_launcher_but_asks_for_no_gpu() -> None:
    real = yaml.safe_load((DOCKER / "dagster.yaml").read_text())
    derived = yaml.safe_load(cpu_only_instance((DOCKER / "dagster.yaml").read_text()))

    gpu = derived["run_launcher"]["config"]["gpu_launcher"]
    assert gpu["class"] == "DockerRunLauncher"
    assert "device_requests" not in gpu["config"]["container_kwargs"]
    assert gpu["config"]["image"] == {"env": "LLMFT_CPU_IMAGE"}
    assert gpu["config"]["container_kwargs"]["labels"] == {"llmft/launcher": "gpu"}
    # The real file still attaches every GPU; everything else is the same.
    real_gpu = real["run_launcher"]["config"]["gpu_launcher"]["config"]
    assert real_gpu["container_kwargs"]["device_requests"][0]["capabilities"] == [["gpu"]]
    for section in ("storage", "run_coordinator", "run_monitoring", "run_retries"):
        assert derived[section] == real[section]


def test_a_taken_port_is_one_clear_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = Stack(
            "llmft-harness-test",
            {
                "LLMFT_WEB_PORT": str(port),
                "LLMFT_S3_PORT": str(free_port()),
                "LLMFT_S3_CONSOLE_PORT": str(free_port()),
                "LLMFT_DOCKER_NETWORK": "llmft-harness-test",
            },
        )
        with pytest.raises(StackError, match=f"port {port} \\(LLMFT_WEB_PORT\\) is taken"):
            stack.up()


def test_a_missing_tool_or_failing_command_is_one_line_with_its_fix() -> None:
    with pytest.raises(StackError, match="no-such-tool is not installed \\(install it\\)"):
        run_command(["no-such-tool"], what="probe", fix="install it")
    with pytest.raises(StackError) as failed:
        run_command(
            ["sh", "-c", "echo first; echo 'the reason' >&2; exit 3"], what="probe", fix="fix"
        )
    assert str(failed.value) == "probe failed (exit 3): the reason (fix)"
