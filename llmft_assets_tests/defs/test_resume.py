"""Kill training mid-run, run it again: it resumes from the latest stored checkpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmft_assets.modeling.training import TrainingReport
from llmft_assets.storage import layout
from llmft_assets_tests.deployment import Deployment

pytestmark = pytest.mark.slow  # real training killed and resumed

MAX_STEPS = 60
SAVE_STEPS = 10
_KILL_WITHIN_S = 300


def _checkpoint_steps(deployment: Deployment) -> list[int]:
    keys = deployment.store.list_keys(layout.CHECKPOINTS)
    return sorted(
        {int(m.group(1)) for k in keys if (m := re.search(r"checkpoint-(\d+)/CURRENT", k))}
    )


def test_killed_training_resumes_from_its_latest_checkpoint(
    deployment: Deployment, tiny_model_dir: Path
) -> None:
    deployment.build_dataset()
    deployment.materialize_base_model(tiny_model_dir)

    training = {
        "ops": {
            "lora_adapter": {
                "config": {
                    "max_steps": MAX_STEPS,
                    "save_steps": SAVE_STEPS,
                    "eval_steps": 30,
                    "batch_size": 2,
                    "max_length": 64,
                    "max_eval_samples": 2,
                }
            }
        }
    }
    command = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "llmft_assets.definitions",
        "--select",
        "lora_adapter",
        "--config-json",
        json.dumps(training),
    ]
    env = {
        **os.environ,
        "DAGSTER_HOME": deployment.instance.root_directory,
        "LLMFT_DATA_DIR": deployment.resources["artifact_store"].root,
        "LLMFT_BLOG_FOLDER": str(deployment.posts),
        "LLMFT_BOOKS_FOLDER": str(deployment.books),
    }
    first = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + _KILL_WITHIN_S
    while not _checkpoint_steps(deployment) and time.monotonic() < deadline:
        assert first.poll() is None, "training ended before its first checkpoint"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the machine goes away mid-run
    first.wait()
    stored = _checkpoint_steps(deployment)
    assert stored and stored[-1] < MAX_STEPS

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-4000:]
    assert f"resuming from checkpoint-{stored[-1]}" in second.stdout + second.stderr
    report = TrainingReport.from_json(deployment.store.read_bytes(layout.TRAINING_REPORT))
    assert report.resumed_from_step == stored[-1]  # at most one interval lost
    assert report.steps == MAX_STEPS
    assert _checkpoint_steps(deployment) == []  # cleared once the adapter is stored
