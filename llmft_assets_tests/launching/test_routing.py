"""GPU routing on a real Dagster instance: runs created the way the UI, a schedule's job, and
automation or a backfill create them go through the queue and are launched on ECS (moto):
runs that train on the GPU task definition, one at a time; all others on the CPU one."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster._core.execution.submit_asset_runs import submit_asset_run
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster_graphql.client.query import LAUNCH_PIPELINE_EXECUTION_MUTATION
from dagster_graphql.test.utils import execute_dagster_graphql

from llmft_assets.launching.routing import COMPUTE_TAG, GPU, ROUTE_TAG

pytestmark = pytest.mark.slow  # a daemon launching runs

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCATION = "llmft_assets"
CLUSTER = "llmft"


@dataclass
class Ecs:
    client: object
    network: dict

    def task_definition_of_run(self, run: dg.DagsterRun) -> dict:
        arn = run.tags["ecs/task_arn"]
        [task] = self.client.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]
        return self.client.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
            "taskDefinition"
        ]


@pytest.fixture
def ecs(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Ecs:
    """An ECS cluster on the moto server with one GPU instance and two task definitions."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    ec2, client = boto3.client("ec2"), boto3.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="llmft-runs", Description="runs", VpcId=vpc)
    client.create_cluster(clusterName=CLUSTER)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    machine = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="g5.xlarge", SubnetId=subnet
    )["Instances"][0]
    client.register_container_instance(
        cluster=CLUSTER,
        instanceIdentityDocument=json.dumps(
            {
                "instanceId": machine["InstanceId"],
                "region": "us-east-1",
                "availabilityZone": "us-east-1a",
                "instanceType": "g5.xlarge",
                "accountId": "123456789012",
            }
        ),
    )
    for family, gpu in (("llmft-cpu", False), ("llmft-gpu", True)):
        container = {"name": "run", "image": f"{family}:latest", "memory": 256}
        if gpu:
            container["resourceRequirements"] = [{"type": "GPU", "value": "1"}]
        client.register_task_definition(
            family=family,
            containerDefinitions=[container],
            networkMode="awsvpc",
            requiresCompatibilities=["EC2"],
            cpu="1024",
            memory="2048",
        )
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group["GroupId"]]}}
    return Ecs(client, network)


def _ecs_launcher(family: str, ecs: Ecs) -> dict:
    return {
        "module": "dagster_aws.ecs",
        "class": "EcsRunLauncher",
        "config": {
            "task_definition": family,
            "container_name": "run",
            "use_current_ecs_task_config": False,
            "run_task_kwargs": {
                "cluster": CLUSTER,
                "launchType": "EC2",
                "networkConfiguration": ecs.network,
            },
        },
    }


@pytest.fixture
def workspace(ecs: Ecs, tmp_path: Path) -> Iterator[WorkspaceProcessContext]:
    """An instance as in docker/dagster.yaml: our coordinator and router, ECS behind both."""
    home = tmp_path / "home"
    home.mkdir()
    overrides = {
        "run_coordinator": {
            "module": "llmft_assets.launching",
            "class": "GpuTaggingRunCoordinator",
            "config": {"max_concurrent_runs": 10},
        },
        "run_launcher": {
            "module": "llmft_assets.launching",
            "class": "GpuRoutingRunLauncher",
            "config": {
                "default_launcher": _ecs_launcher("llmft-cpu", ecs),
                "gpu_launcher": _ecs_launcher("llmft-gpu", ecs),
            },
        },
    }
    with dg.instance_for_test(overrides=overrides, temp_dir=str(home)) as instance:
        target = ModuleTarget(
            module_name="llmft_assets.definitions",
            attribute=None,
            working_directory=str(REPO_ROOT),
            location_name=LOCATION,
        )
        with WorkspaceProcessContext(instance, target) as context:
            yield context


def _launch_from_ui(context: WorkspaceProcessContext, job: str, assets: list[str] | None) -> str:
    """What the launchpad does: GraphQL launchPipelineExecution."""
    params: dict = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "pipelineName": job,
        },
        "runConfigData": {},
    }
    if assets is not None:
        params["selector"]["assetSelection"] = [{"path": [a]} for a in assets]
    result = execute_dagster_graphql(
        context.create_request_context(),
        LAUNCH_PIPELINE_EXECUTION_MUTATION,
        {"executionParams": params},
    )
    launched = result.data["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _launch_like_automation(context: WorkspaceProcessContext, assets: list[str]) -> str:
    """What declarative automation and backfills do: submit a run for an asset selection."""
    run = asyncio.run(
        submit_asset_run(
            None,
            dg.RunRequest(asset_selection=[dg.AssetKey(a) for a in assets]),
            0,
            context.instance,
            context,
            context.create_request_context(),
            {},
            {},
            logging.getLogger("test"),
        )
    )
    return run.run_id


def _dequeue(context: WorkspaceProcessContext) -> None:
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))


def test_runs_that_train_go_to_the_gpu_one_at_a_time_and_others_do_not(
    workspace: WorkspaceProcessContext, ecs: Ecs
) -> None:
    instance = workspace.instance
    runs = {
        "ui: training": _launch_from_ui(workspace, "__ASSET_JOB", ["lora_adapter"]),
        "ui: chunking": _launch_from_ui(workspace, "__ASSET_JOB", ["text_chunks"]),
        "schedule job: retrain": _launch_from_ui(workspace, "retrain_model", None),
        "schedule job: discover": _launch_from_ui(workspace, "discover_documents", None),
        "automation: dataset": _launch_like_automation(workspace, ["training_dataset"]),
    }
    gpu_runs = {"ui: training", "schedule job: retrain"}
    for name, run_id in runs.items():
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.QUEUED, name
        assert (run.tags.get(COMPUTE_TAG) == GPU) == (name in gpu_runs), name

    _dequeue(workspace)
    launched = {
        n for n, r in runs.items() if instance.get_run_by_id(r).status != dg.DagsterRunStatus.QUEUED
    }
    assert launched == set(runs) - {"schedule job: retrain"}  # one GPU run at a time
    for name in launched:
        run = instance.get_run_by_id(runs[name])
        expected = "gpu" if name in gpu_runs else "default"
        assert run.tags[ROUTE_TAG] == expected, name
        container = ecs.task_definition_of_run(run)["containerDefinitions"][0]
        gpu = container.get("resourceRequirements", [])
        assert (gpu == [{"type": "GPU", "value": "1"}]) == (expected == "gpu"), name

    instance.report_run_canceled(instance.get_run_by_id(runs["ui: training"]))
    _dequeue(workspace)
    retrain = instance.get_run_by_id(runs["schedule job: retrain"])
    assert retrain.tags[ROUTE_TAG] == "gpu"
    assert ecs.task_definition_of_run(retrain)["family"] == "llmft-gpu"
