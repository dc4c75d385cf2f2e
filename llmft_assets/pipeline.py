"""`python -m llmft_assets pipeline`: materialize the whole graph, the way a user would.

Each step is a `dagster asset materialize` command against the instance in $DAGSTER_HOME, so
every run, materialization and check lands in that instance and shows in `dagster dev`. The
source and cleaning assets are partitioned by batches of documents; each of their steps runs
one command per batch (`--partition`), since their backfill policy is one run per batch, which
Dagster's CLI does not run as a range.
"""

from __future__ import annotations

import json
import os
import re
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
    """One `dagster asset materialize` command: assets of one group that run together."""

    assets: tuple[str, ...]
    partition_set: str | None = None
    group: str = ""


def pipeline_steps() -> tuple[Step, ...]:
    """The steps, derived from the code location's asset list (in the order assets run):
    partitioned assets that follow one another on one partition set share a step over it (one
    run per partition, as a backfill runs them); unpartitioned assets of one group share a
    step."""
    from llmft_assets.definitions import ASSETS

    steps: list[Step] = []
    for asset in ASSETS:
        (key,) = asset.keys
        name, group = key.to_user_string(), asset.group_names_by_key[key]
        partition_set = asset.partitions_def.name if asset.partitions_def else None
        last = steps[-1] if steps else None
        if last and last.partition_set == partition_set and (partition_set or last.group == group):
            steps[-1] = Step((*last.assets, name), partition_set, last.group)
        else:
            steps.append(Step((name,), partition_set, group))
    return tuple(steps)


_RUN_START = re.compile(r" - (?P<run_id>[0-9a-f]{8}-[0-9a-f-]{27}) - \d+ - RUN_START - ")


def run_pipeline(config_file: Path | None) -> int:
    if not os.environ.get("DAGSTER_HOME"):
        print("error: set DAGSTER_HOME to the Dagster instance folder to run into", file=sys.stderr)
        return 2
    from dagster import DagsterInstance

    run_config = yaml.safe_load(config_file.read_text()) if config_file else {}
    timings: list[tuple[str, float]] = []  # (step, seconds) as Dagster recorded them
    for step in pipeline_steps():
        partitions: list[str | None] = [None]
        if step.partition_set:
            with DagsterInstance.get() as instance:
                partitions = list(instance.get_dynamic_partitions(step.partition_set))
            if not partitions:
                print(f"-- {step.partition_set}: no documents, skipping {step.assets}")
                continue
        for partition in partitions:
            if _run_step(step, partition, run_config, timings):
                print(f"error: step {', '.join(step.assets)} failed", file=sys.stderr)
                return 1
    print("\nwall time per step, as Dagster recorded it:")
    for name, seconds in timings:
        print(f"  {seconds:8.1f} s  {name}")
    return 0


def _run_step(
    step: Step, partition: str | None, run_config: dict, timings: list[tuple[str, float]]
) -> bool:
    """Run one step's command (for one partition, if given), adding its timings; whether it
    failed."""
    from dagster import DagsterInstance

    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", CODE_LOCATION]
    command += ["--select", ",".join(step.assets)]
    if partition:
        command += ["--partition", partition]
    ops = {k: v for k, v in run_config.get("ops", {}).items() if k in step.assets}
    if ops:
        command += ["--config-json", json.dumps({"ops": ops})]
    print("$ " + shlex.join(command[1:]), flush=True)
    started = time.perf_counter()
    run_id, failed = _materialize(command)
    if run_id:
        with DagsterInstance.get() as instance:
            timings += [
                (
                    stats.step_key + (f" [{partition}]" if partition else ""),
                    stats.end_time - stats.start_time,
                )
                for stats in instance.get_run_step_stats(run_id)
                if stats.end_time and stats.start_time
            ]
    timings.append(
        (f"(the whole command: {', '.join(step.assets)})", time.perf_counter() - started)
    )
    return failed


def _materialize(command: list[str]) -> tuple[str | None, bool]:
    """Run one step's command, passing its output through; the id of the run it started (read
    from its RUN_START event, since the automation sensor may start other runs meanwhile) and
    whether it failed."""
    run_id = None
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            if run_id is None and (match := _RUN_START.search(line)):
                run_id = match["run_id"]
    return run_id, process.returncode != 0
