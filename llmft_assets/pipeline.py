"""`python -m llmft_assets pipeline`: materialize the whole graph, the way a user would.

Each step is a `dagster asset materialize` command against the instance in $DAGSTER_HOME, so
every run, materialization and check lands in that instance and shows in `dagster dev`. The
source and cleaning assets are partitioned per document, so each of their steps covers the
full range of its partition set in one run (their backfill policy allows that).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

CODE_LOCATION = "llmft_assets.definitions"


@dataclass(frozen=True)
class Step:
    assets: tuple[str, ...]
    partition_set: str | None = None


STEPS = (
    Step(("document_catalog",)),
    Step(("blog_posts_html",), "blog_posts"),
    Step(("gutenberg_books",), "gutenberg_books"),
    Step(("cleaned_documents",), "documents"),
    Step(("text_chunks", "training_dataset")),
    Step(("base_model", "lora_adapter", "merged_model", "gguf_model")),
)


def run_pipeline(config_file: Path | None) -> int:
    if not os.environ.get("DAGSTER_HOME"):
        print("error: set DAGSTER_HOME to the Dagster instance folder to run into", file=sys.stderr)
        return 2
    from dagster import DagsterInstance

    run_config = yaml.safe_load(config_file.read_text()) if config_file else {}
    timings: list[tuple[str, float]] = []  # (step, seconds) as Dagster recorded them
    for step in STEPS:
        command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", CODE_LOCATION]
        command += ["--select", ",".join(step.assets)]
        if step.partition_set:
            with DagsterInstance.get() as instance:
                keys = instance.get_dynamic_partitions(step.partition_set)
            if not keys:
                print(f"-- {step.partition_set}: no documents, skipping {step.assets}")
                continue
            command += ["--partition-range", f"{keys[0]}...{keys[-1]}"]
        ops = {k: v for k, v in run_config.get("ops", {}).items() if k in step.assets}
        if ops:
            command += ["--config-json", json.dumps({"ops": ops})]
        print("$ " + shlex.join(command[1:]), flush=True)
        started = time.perf_counter()
        failed = subprocess.run(command).returncode != 0
        with DagsterInstance.get() as instance:
            run = instance.get_runs(limit=1)[0]
            timings += [
                (stats.step_key, stats.end_time - stats.start_time)
                for stats in instance.get_run_step_stats(run.run_id)
                if stats.end_time and stats.start_time
            ]
        timings.append(
            (f"(the whole command: {', '.join(step.assets)})", time.perf_counter() - started)
        )
        if failed:
            print(f"error: step {', '.join(step.assets)} failed", file=sys.stderr)
            return 1
    print("\nwall time per step, as Dagster recorded it:")
    for name, seconds in timings:
        print(f"  {seconds:8.1f} s  {name}")
    return 0
