"""The production stack, run for real: `make stack-test`.

A Docker engine (installed and started when none answers), the project's image built from
docker/Dockerfile with build arguments only, and docker-compose.yaml brought up with
docker/local's override (Postgres and a persistent S3 server built from Debian's and PyPI's
packages, since no registry can be pulled here; the stack's code does not know). This machine
has no GPU, so the GPU launcher starts the CPU image without a device request (an instance
file derived from docker/dagster.yaml; the real file keeps it). Then, through the webserver's
GraphQL API as the UI does: the whole demo in containers, a preempted training container,
restarts of the daemon, S3 and Postgres mid-run, and `down`/`up`.

Wall times of each phase are printed (run with -s) and recorded in benchmarks/RESULTS.md.
LLMFT_STACK_KEEP=1 leaves the stack up afterwards, to look at (then `docker-compose -p
llmft-stack-test -f docker/docker-compose.yaml -f docker/local/docker-compose.local.yaml down -v`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml

from llmft_assets.pipeline import pipeline_steps
from llmft_assets_tests.docker.stack import (
    BASE_IMAGE,
    DOCKER,
    DagsterWebserver,
    RunRecord,
    Stack,
    StackError,
    cpu_only_instance,
    docker_engine,
    ensure_base_image,
    free_port,
    hand_torch_wheel,
    inspect,
    read_events,
    run_container_events,
)

pytestmark = pytest.mark.stack

PROJECT = "llmft-stack-test"
CPU_IMAGE = "llmft-stack-test/llmft:cpu"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "llmft_assets/configs/cpu_demo.yaml"
# The demo's settings with a short training that still checkpoints several times.
TRAINING = {"max_steps": 15, "save_steps": 5, "eval_steps": 15}
CHECKPOINT = re.compile(r"checkpoints/lora_adapter/[0-9a-f]+/checkpoint-(\d+)/CURRENT\.json$")
RUN_TIMEOUT_S = 900
MINIO_USER, MINIO_PASSWORD = "llmft-test", "stack-test-secret"

timings: dict[str, float] = {}


def timed(phase: str, started: float) -> None:
    timings[phase] = time.monotonic() - started
    print(f"[stack] {phase}: {timings[phase]:.0f} s", flush=True)


def _interrupt(signum, frame):  # SIGTERM tears down like Ctrl-C does
    raise KeyboardInterrupt


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    work = tmp_path_factory.mktemp("stack")
    with docker_engine(work / "dockerd.log"):
        started = time.monotonic()
        ensure_base_image()
        timed("base image (debootstrap, cached after the first)", started)
        instance_yaml = work / "dagster.yaml"
        instance_yaml.write_text(cpu_only_instance((DOCKER / "dagster.yaml").read_text()))
        stack = Stack(
            PROJECT,
            {
                "LLMFT_BASE_IMAGE": BASE_IMAGE,
                "LLMFT_CPU_TORCH_INDEX_URL": "",
                "LLMFT_CPU_TORCH_REQUIREMENT": hand_torch_wheel(),
                "LLMFT_CPU_IMAGE": CPU_IMAGE,
                "LLMFT_GPU_IMAGE": CPU_IMAGE,
                "LLMFT_DOCKER_NETWORK": PROJECT,
                "LLMFT_INSTANCE_YAML": str(instance_yaml),
                "LLMFT_WEB_PORT": str(free_port()),
                "LLMFT_S3_PORT": str(free_port()),
                "LLMFT_S3_CONSOLE_PORT": str(free_port()),
                "MINIO_ROOT_USER": MINIO_USER,
                "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
                "DAGSTER_POSTGRES_PASSWORD": "stack-test-pg",
            },
        )
        started = time.monotonic()
        stack.build("user_code", "postgres", "minio")
        timed("build (llmft CPU image, Postgres, S3)", started)
        try:
            started = time.monotonic()
            stack.up()
            DagsterWebserver(web_url(stack)).wait_ready()
            timed("up (healthy, code location loaded)", started)
            yield stack
        finally:
            if os.environ.get("LLMFT_STACK_KEEP") == "1":
                print(f"[stack] kept for inspection: {web_url(stack)}; {stack.project}")
            else:
                stack.down(volumes=True)
            signal.signal(signal.SIGTERM, previous)
            print("[stack] timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))


def web_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.env['LLMFT_WEB_PORT']}"


def s3_client(stack: Stack):
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{stack.env['LLMFT_S3_PORT']}",
        aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD,
        region_name="us-east-1",
    )


def s3_keys(stack: Stack, prefix: str) -> list[str]:
    listing = s3_client(stack).get_paginator("list_objects_v2")
    pages = listing.paginate(Bucket="llmft", Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def psql(stack: Stack, sql: str) -> str:
    return stack.compose(
        "exec",
        "-T",
        "postgres",
        "psql",
        "-U",
        "dagster",
        "-d",
        "dagster",
        "-tAc",
        sql,
        what="psql in the postgres service",
    ).strip()


def run_config_for(assets: tuple[str, ...]) -> dict:
    ops = yaml.safe_load(DEMO_CONFIG.read_text())["ops"]
    ops["lora_adapter"]["config"].update(TRAINING)
    ops["gguf_model"] = {"config": {"quantizations": ["Q4_K_M"]}}
    return {"ops": {name: op for name, op in ops.items() if name in assets}}


def stored_checkpoints(stack: Stack) -> list[int]:
    keys = s3_keys(stack, "llmft/checkpoints/")
    return sorted(int(m.group(1)) for key in keys if (m := CHECKPOINT.search(key)))


def wait_for(condition, what: str, timeout: float = RUN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise StackError(f"timed out waiting for {what}")
        time.sleep(3)


def launch_and_wait(web: DagsterWebserver, assets: tuple[str, ...], tags: dict) -> RunRecord:
    run = web.wait(web.launch(assets, run_config_for(assets), tags), RUN_TIMEOUT_S)
    assert run.status == "SUCCESS", (
        f"{assets}: {run.status} ({web.url}/runs/{run.run_id}): {web.failures(run.run_id)}"
    )
    return run


def test_the_stack_runs_the_demo_in_containers_and_survives_faults(
    stack: Stack, tmp_path: Path
) -> None:
    web = DagsterWebserver(web_url(stack))
    # Runs are launched by hand here, as from the launchpad; automation would race them.
    web.stop_sensor("llmft_automation")

    with run_container_events(tmp_path / "events.jsonl") as events:
        # 1. The demo's data half, one run per step as `make demo` does it.
        data_runs: list[RunRecord] = []
        materialized = [asset for step in pipeline_steps() for asset in step.assets]
        for step in pipeline_steps()[:-1]:
            tags = {}
            if step.partition_set:
                keys = web.partition_keys(step.assets[0])
                if not keys:  # a source the stack is not configured with, as make demo skips it
                    materialized = [a for a in materialized if a not in step.assets]
                    continue
                tags = {RANGE_START: keys[0], RANGE_END: keys[-1]}
            started = time.monotonic()
            data_runs.append(launch_and_wait(web, step.assets, tags))
            timed(f"run {'+'.join(step.assets)}", started)

        # 2. The model half: a GPU run. Kill its container once a checkpoint is in S3, as a
        # preempted GPU node dies; run monitoring fails it and run retries start it again.
        started = time.monotonic()
        model_assets = pipeline_steps()[-1].assets
        first_id = web.launch(model_assets, run_config_for(model_assets))
        wait_for(lambda: stored_checkpoints(stack), "a first training checkpoint in S3")
        killed_at = max(stored_checkpoints(stack))
        container = web.run(first_id).tags["docker/container_id"]
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        assert web.wait(first_id, 300).status == "FAILURE"
        timed("training run until killed and failed by run monitoring", started)

        started = time.monotonic()
        wait_for(lambda: retries_of(web, first_id), "the retry run", timeout=300)
        retry_id = retries_of(web, first_id)[0].run_id
        web.wait(retry_id, 600, statuses={"STARTED"})
        # Mid-run, each of the daemon, the S3 server and Postgres restarts once.
        for service in ("daemon", "minio", "postgres"):
            stack.restart(service)
            stack.wait_healthy(("postgres", "minio"))
            time.sleep(10)
        retry = web.wait(retry_id, RUN_TIMEOUT_S)
        timed("retried training run, through restarts", started)
    assert retry.status == "SUCCESS", f"{web.url}/runs/{retry_id}"

    # Each run ran in its own container, created on the launcher its assets ask for.
    created = {e["Actor"]["Attributes"]["dagster/run_id"]: e for e in read_events(events, "create")}
    for run in data_runs:
        attributes = created[run.run_id]["Actor"]["Attributes"]
        assert attributes["llmft/launcher"] == "default", run
        assert run.tags["llmft/launcher"] == "default"
    for run_id in (first_id, retry_id):
        attributes = created[run_id]["Actor"]["Attributes"]
        assert attributes["llmft/launcher"] == "gpu"
        assert attributes["image"] == CPU_IMAGE
        assert web.run(run_id).tags["llmft/launcher"] == "gpu"
    assert len({created[r]["Actor"]["ID"] for r in created}) == len(created)
    # Only the daemon can start them: the webserver has no access to the engine.
    mounts = {m["Destination"] for m in inspect(stack.container("daemon"))["Mounts"]}
    assert "/var/run/docker.sock" in mounts
    mounts = {m["Destination"] for m in inspect(stack.container("webserver"))["Mounts"]}
    assert "/var/run/docker.sock" not in mounts

    # The retry resumed from the checkpoint the killed run left in S3.
    assert materialization_metadata(web, "lora_adapter", retry_id)["resumed_from_step"] == killed_at

    check_stored_results(stack, [*data_runs, retry], materialized)
    check_gguf_generates(stack, tmp_path)

    # 5. down and up again: history and artifacts are kept in the volumes.
    objects = len(s3_keys(stack, ""))
    started = time.monotonic()
    stack.down(volumes=False)
    stack.up()
    web.wait_ready()
    timed("down + up", started)
    assert {r.run_id for r in web.runs()} >= {run.run_id for run in data_runs} | {retry_id}
    assert len(s3_keys(stack, "")) == objects


def materialization_metadata(web: DagsterWebserver, asset: str, run_id: str) -> dict:
    data = web.query(
        "query M($k: AssetKeyInput!) { assetOrError(assetKey: $k) { ... on Asset {"
        " assetMaterializations(limit: 20) { runId metadataEntries { label"
        " ... on IntMetadataEntry { intValue } } } } } }",
        {"k": {"path": [asset]}},
    )
    record = next(m for m in data["assetOrError"]["assetMaterializations"] if m["runId"] == run_id)
    return {e["label"]: e.get("intValue") for e in record["metadataEntries"]}


def retries_of(web: DagsterWebserver, run_id: str) -> list[RunRecord]:
    return [r for r in web.runs() if r.tags.get("dagster/parent_run_id") == run_id]


def check_stored_results(stack: Stack, runs: list[RunRecord], assets: list[str]) -> None:
    """Artifacts and compute logs are S3 objects; materializations and checks Postgres rows."""
    for prefix in assets:  # each asset's files are under its own name
        assert s3_keys(stack, f"llmft/{prefix}"), f"no {prefix} artifacts in S3"
    logs = s3_keys(stack, "compute-logs/")
    for run in runs:
        assert any(run.run_id in key for key in logs), f"no compute logs for {run.run_id}"
    materialized = psql(
        stack,
        "SELECT count(DISTINCT asset_key) FROM event_logs"
        " WHERE dagster_event_type = 'ASSET_MATERIALIZATION'",
    )
    assert int(materialized) == len(assets)
    checks = psql(stack, "SELECT count(*) FROM asset_check_executions")
    assert int(checks) >= 5


def check_gguf_generates(stack: Stack, tmp_path: Path) -> None:
    from llama_cpp import Llama

    key = next(k for k in s3_keys(stack, "llmft/gguf_model/") if k.endswith("model-Q4_K_M.gguf"))
    local = tmp_path / "model.gguf"
    s3_client(stack).download_file("llmft", key, str(local))
    model = Llama(model_path=str(local), n_ctx=256, verbose=False)
    answer = model("The data pipeline", max_tokens=16, temperature=0)["choices"][0]["text"]
    assert answer.strip()
