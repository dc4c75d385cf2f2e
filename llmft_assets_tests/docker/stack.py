"""Bring the docker stack up for real on this machine: engine, base image, images, compose.

Everything the stack test needs, done the way a user would, from Debian's packages where no
registry can be pulled: a Docker engine (`docker.io`, started when none answers), a base image
made with debootstrap, the project's images built from docker/Dockerfile with build arguments
only, and the compose file with docker/local's override (Postgres and S3 built from Debian and
PyPI packages instead of pulled). Each failure is one `StackError` line saying what and how to
fix it. Nothing here touches a container, network, volume or image it did not create: the
stack is its own compose project, and run containers are found by that project's network.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yaml"
LOCAL_OVERRIDE = DOCKER / "local" / "docker-compose.local.yaml"
HANDED_WHEELS = DOCKER / "wheels"

BASE_IMAGE = "llmft-local/debian-python:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TORCH = "torch==2.13.0"
ENGINE_START_TIMEOUT_S = 60
HEALTHY_TIMEOUT_S = 180
STEP_TIMEOUT_S = 3600


class StackError(RuntimeError):
    """One line: what failed and how to fix it."""


def run_command(
    command: list[str], *, what: str, fix: str, timeout: float = STEP_TIMEOUT_S, **kwargs
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise one line naming it, its last output and the fix."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except FileNotFoundError as error:
        raise StackError(f"{what}: {command[0]} is not installed ({fix})") from error
    except subprocess.TimeoutExpired as error:
        raise StackError(f"{what}: no answer after {timeout:.0f} s ({fix})") from error
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise StackError(f"{what} failed (exit {done.returncode}): {tail} ({fix})")
    return done


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise StackError(f"{' '.join(packages)} missing: install it (needs root) and rerun")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    fix = "check that Debian's package mirror is reachable"
    run_command(["apt-get", "update", "-qq"], what="apt-get update", fix=fix, env=env)
    run_command(
        ["apt-get", "install", "-y", "-qq", *packages], what="apt-get install", fix=fix, env=env
    )


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@contextmanager
def docker_engine(log_file: Path) -> Iterator[None]:
    """A Docker engine that answers; started (and stopped again) here when none does."""
    if engine_answers():
        yield
        return
    if not shutil.which("dockerd"):
        _apt_install("docker.io")
    with open(log_file, "ab") as log:
        daemon = subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
    while not engine_answers():
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.terminate()
            tail = " | ".join(log_file.read_text(errors="replace").strip().splitlines()[-2:])
            raise StackError(f"the Docker engine did not start: {tail} (see {log_file})")
        time.sleep(1)
    try:
        yield
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def compose_command() -> list[str]:
    """`docker compose` (v2) where the plugin exists, else Debian's `docker-compose`."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if not shutil.which("docker-compose"):
        _apt_install("docker-compose")
    return ["docker-compose"]


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def ensure_base_image(tag: str = BASE_IMAGE) -> str:
    """A Debian bookworm image with python3 and venv, from Debian's packages (debootstrap):
    the public `python:3.11-slim-bookworm` where no registry can be pulled. It trusts this
    host's CA bundle, so pip inside reaches the package index the host reaches."""
    if image_exists(tag):
        return tag
    if not shutil.which("debootstrap"):
        _apt_install("debootstrap")
    with tempfile.TemporaryDirectory(prefix="llmft-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run_command(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            what="debootstrap of the base image",
            fix="check that Debian's package mirror is reachable",
        )
        shutil.copy(HOST_CA_BUNDLE, rootfs / HOST_CA_BUNDLE.relative_to("/"))
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run_command(
            [
                "docker",
                "import",
                "--change",
                f"ENV PIP_CERT={HOST_CA_BUNDLE} SSL_CERT_FILE={HOST_CA_BUNDLE}",
                "--change",
                'CMD ["/bin/bash"]',
                "-",
                tag,
            ],
            what="docker import of the base image",
            fix="check the Docker engine's disk space",
            stdin=tar.stdout,
        )
        tar.wait()
    return tag


def hand_torch_wheel() -> str:
    """Put the CPU torch wheel this host's pip takes into docker/wheels (PyTorch's index is
    out of reach here); return the requirement that names it exactly."""
    folder = str(HANDED_WHEELS)
    run_command(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", folder, TORCH],
        what=f"pip download {TORCH}",
        fix="this host's pip must find a CPU torch wheel",
    )
    wheels = sorted(HANDED_WHEELS.glob("torch-2.13.0*.whl"))
    if not wheels:
        raise StackError(f"no torch wheel in {HANDED_WHEELS} after pip download")
    return "torch==" + wheels[-1].name.split("-")[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def cpu_only_instance(instance_yaml: str, cpu_image_env: str = "LLMFT_CPU_IMAGE") -> str:
    """The stack's dagster.yaml for a host without GPUs: the GPU launcher keeps its own
    launcher, labels and limits, but starts the CPU image and asks for no GPU device."""
    config = yaml.safe_load(instance_yaml)
    gpu = config["run_launcher"]["config"]["gpu_launcher"]["config"]
    gpu["image"] = {"env": cpu_image_env}
    gpu["container_kwargs"].pop("device_requests")
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class Stack:
    """One compose project of the stack; its name scopes every container, volume and network."""

    project: str
    env: dict[str, str]
    files: list[Path] = field(default_factory=lambda: [COMPOSE_FILE, LOCAL_OVERRIDE])

    @property
    def network(self) -> str:
        return self.env["LLMFT_DOCKER_NETWORK"]

    def compose(
        self,
        *args: str,
        what: str,
        fix: str = "see `docker logs` of the stack's containers",
        timeout: float = STEP_TIMEOUT_S,
    ) -> str:
        command = [*compose_command(), "-p", self.project]
        for file in self.files:
            command += ["-f", str(file)]
        env = {**os.environ, **self.env}
        return run_command(
            [*command, *args],
            what=what,
            fix=fix,
            env=env,
            timeout=timeout,
        ).stdout

    def build(self, *services: str) -> None:
        base = self.env.get("LLMFT_BASE_IMAGE", "python:3.11-slim-bookworm")
        self.compose(
            "--profile",
            "build",
            "build",
            *services,
            what=f"building {', '.join(services)}",
            fix=f"the base image {base} must exist here or be pullable; rerun to see the build",
        )

    def up(self) -> None:
        for name in ("LLMFT_WEB_PORT", "LLMFT_S3_PORT", "LLMFT_S3_CONSOLE_PORT"):
            port = int(self.env[name])
            if not port_is_free(port):
                raise StackError(f"port {port} ({name}) is taken: free it or set {name}")
        self.compose("up", "-d", what="compose up")
        self.wait_healthy()

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service, what=f"compose ps {service}").split()
        if not ids:
            raise StackError(f"service {service} has no container")
        return ids[0]

    def wait_healthy(self, services: tuple[str, ...] = ("postgres", "minio")) -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        for service in services:
            while (status := self.health(service)) != "healthy":
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{service} is {status} after {HEALTHY_TIMEOUT_S} s: see"
                        f" `docker logs {self.container(service)}`"
                    )
                time.sleep(2)

    def health(self, service: str) -> str:
        state = inspect(self.container(service))["State"]
        return state.get("Health", {}).get("Status", state["Status"])

    def restart(self, service: str) -> None:
        self.compose("restart", service, what=f"restart of {service}")

    def run_containers(self) -> list[str]:
        """Run containers the daemon started on this stack's network, running or stopped."""
        listed = subprocess.run(
            [
                "docker",
                "ps",
                "-aq",
                "--filter",
                f"network={self.network}",
                "--filter",
                "label=dagster/run_id",
            ],
            capture_output=True,
            text=True,
        )
        return listed.stdout.split()

    def down(self, volumes: bool) -> None:
        """Stop the stack: its run containers first (they hold the network), then compose."""
        for container in self.run_containers():
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
        self.compose(*args, what="compose down")


def inspect(container: str) -> dict:
    done = run_command(
        ["docker", "inspect", container], what=f"docker inspect {container}", fix="is it up?"
    )
    return json.loads(done.stdout)[0]


@contextmanager
def run_container_events(log_file: Path) -> Iterator[Path]:
    """Docker's own record of every run container's events (create, start, die, ...), as JSON
    lines; a container's attributes carry its image and labels (run id, launcher)."""
    with open(log_file, "w") as out:
        watcher = subprocess.Popen(
            [
                "docker",
                "events",
                "--format",
                "{{json .}}",
                "--filter",
                "type=container",
                "--filter",
                "label=dagster/run_id",
            ],
            stdout=out,
        )
    try:
        yield log_file
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def read_events(log_file: Path, action: str) -> list[dict]:
    events = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    return [e for e in events if e.get("Action") == action]


LOCATION = "llmft_assets"
REPOSITORY = "__repository__"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
QUERY_ATTEMPTS = 4

_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
_RUNS = """
query Runs {
  runsOrError(limit: 500) {
    ... on Runs { results { runId status startTime endTime tags { key value } } }
  }
}"""


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str
    tags: dict[str, str]
    start_time: float | None
    end_time: float | None


class DagsterWebserver:
    """The webserver's GraphQL API, used as the UI uses it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, text: str, variables: dict | None = None, timeout: float = 60) -> dict:
        """One GraphQL request. A 5xx is tried again a few times, as a person reloads the page:
        after a Postgres restart the webserver's pooled connection is stale for one request
        per storage (Dagster's webserver pool has no liveness check)."""
        import requests  # the suite's dependency; stack.py's other helpers need only stdlib

        body = {"query": text, "variables": variables or {}}
        for attempt in range(QUERY_ATTEMPTS):
            response = requests.post(f"{self.url}/graphql", json=body, timeout=timeout)
            if response.status_code < 500:
                break
            time.sleep(2 * (attempt + 1))
        if not response.ok:
            raise StackError(f"GraphQL HTTP {response.status_code}: {response.text[:300]}")
        answer = response.json()
        if answer.get("errors"):
            raise StackError(f"GraphQL error: {answer['errors'][0]['message']}")
        return answer["data"]

    def wait_ready(self, timeout: float = HEALTHY_TIMEOUT_S) -> None:
        """Until the webserver answers and the code location has loaded. A load error is
        retried with a reload, as the UI's Reload button does (the webserver may have asked
        before the code server finished importing); it fails the wait only at the deadline."""
        deadline = time.monotonic() + timeout
        text = "{ workspaceOrError { ... on Workspace { locationEntries { name"
        text += " locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        load_error = ""
        while True:
            try:
                entries = self.query(text, timeout=10)["workspaceOrError"]["locationEntries"]
            except (OSError, ValueError, StackError):  # not up yet
                entries = []
            loaded = [e["locationOrLoadError"] or {} for e in entries]
            if [e.get("__typename") for e in loaded] == ["RepositoryLocation"]:
                return
            errors = [e["message"] for e in loaded if e.get("__typename") == "PythonError"]
            if errors:
                load_error = errors[0].strip().splitlines()[-1]
                self._reload_location()
            if time.monotonic() > deadline:
                if load_error:
                    raise StackError(
                        f"the code location failed to load: {load_error} (see {self.url}/locations)"
                    )
                raise StackError(f"the webserver at {self.url} did not serve {LOCATION} in time")
            time.sleep(2)

    def _reload_location(self) -> None:
        with contextlib.suppress(OSError, ValueError, StackError):  # the next poll tells
            self.query(
                "mutation R($name: String!) { reloadRepositoryLocation("
                "repositoryLocationName: $name) { __typename } }",
                {"name": LOCATION},
                timeout=60,
            )

    def stop_sensor(self, name: str) -> None:
        selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "sensorName": name,
        }
        sensor = self.query(
            "query S($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {"
            " ... on Sensor { sensorState { id } } } }",
            {"s": selector},
        )["sensorOrError"]
        stopped = self.query(
            "mutation Stop($id: String!) { stopSensor(id: $id) {"
            " ... on StopSensorMutationResult { instigationState { status } } } }",
            {"id": sensor["sensorState"]["id"]},
        )["stopSensor"]
        if stopped["instigationState"]["status"] != "STOPPED":
            raise StackError(f"sensor {name} did not stop: {stopped}")

    def partition_keys(self, asset: str) -> list[str]:
        node = self.query(
            "query K($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) {"
            " ... on AssetNode { partitionKeys } } }",
            {"k": {"path": [asset]}},
        )["assetNodeOrError"]
        return node["partitionKeys"]

    def launch(
        self, assets: tuple[str, ...], run_config: dict, tags: dict[str, str] | None = None
    ) -> str:
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": [asset]} for asset in assets],
            },
            "runConfigData": run_config,
            "executionMetadata": {
                "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]
            },
        }
        result = self.query(_LAUNCH, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise StackError(f"launching {assets} failed: {result}")
        return result["run"]["runId"]

    def runs(self) -> list[RunRecord]:
        results = self.query(_RUNS)["runsOrError"]["results"]
        return [
            RunRecord(
                r["runId"],
                r["status"],
                {t["key"]: t["value"] for t in r["tags"]},
                r["startTime"],
                r["endTime"],
            )
            for r in results
        ]

    def run(self, run_id: str) -> RunRecord:
        return next(r for r in self.runs() if r.run_id == run_id)

    def failures(self, run_id: str) -> str:
        """What failed in a run, as its step failure events say, for an assertion message."""
        events = self.query(
            "query F($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {"
            " __typename ... on ExecutionStepFailureEvent { stepKey error { message } } } } } }",
            {"id": run_id},
        )["logsForRun"]["events"]
        return "; ".join(
            f"{e['stepKey']}: {e['error']['message'].strip()}"
            for e in events
            if e["__typename"] == "ExecutionStepFailureEvent"
        )

    def wait(self, run_id: str, timeout: float, statuses: set[str] = FINISHED) -> RunRecord:
        """Until the run reaches one of `statuses`; rides out the webserver's own restarts and
        those of its Postgres."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                run = self.run(run_id)
                if run.status in statuses:
                    return run
            except (OSError, ValueError, StackError) as error:
                run = error
            if time.monotonic() > deadline:
                raise StackError(f"run {run_id}: {run} after {timeout:.0f} s")
            time.sleep(3)
