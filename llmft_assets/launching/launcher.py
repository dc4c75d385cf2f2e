"""An instance-level run launcher that sends GPU runs to one launcher and the rest to another.

Each side is any Dagster run launcher, configured as in dagster.yaml (module, class, config):
for example DockerRunLauncher with a GPU device request, EcsRunLauncher with a GPU resource
requirement in its task definition, or K8sRunLauncher with an `nvidia.com/gpu` limit.
"""

from __future__ import annotations

from typing import Any

import yaml
from dagster import DagsterRun, Field, Permissive, Shape, StringSource

# Dagster exports no public path for the run-launcher interface or for instance classes
# configured in dagster.yaml (ConfigurableClass), which every custom launcher implements; these
# are the paths its own launchers (dagster-docker, dagster-aws, dagster-k8s) import them from.
from dagster._core.launcher import (
    CheckRunHealthResult,
    LaunchRunContext,
    ResumeRunContext,
    RunLauncher,
)
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from llmft_assets.launching.routing import GPU, ROUTE_TAG, run_needs_gpu

DEFAULT = "default"
_LAUNCHER = Shape(
    {
        "module": Field(StringSource),
        "class": Field(StringSource),
        "config": Field(Permissive(), is_required=False, default_value={}),
    }
)


def _load(spec: dict[str, Any]) -> RunLauncher:
    data = ConfigurableClassData(spec["module"], spec["class"], yaml.safe_dump(spec["config"]))
    return data.rehydrate(as_type=RunLauncher)


class GpuRoutingRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(
        self,
        default_launcher: dict[str, Any],
        gpu_launcher: dict[str, Any],
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        self._inst_data = inst_data
        self.launchers: dict[str, RunLauncher] = {
            DEFAULT: _load(default_launcher),
            GPU: _load(gpu_launcher),
        }
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"default_launcher": Field(_LAUNCHER), "gpu_launcher": Field(_LAUNCHER)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: dict[str, Any]
    ) -> GpuRoutingRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance) -> None:
        super().register_instance(instance)
        for launcher in self.launchers.values():
            launcher.register_instance(instance)

    def launch_run(self, context: LaunchRunContext) -> None:
        route = GPU if run_needs_gpu(context.dagster_run, context.workspace) else DEFAULT
        self._instance.add_run_tags(context.dagster_run.run_id, {ROUTE_TAG: route})
        self._instance.report_engine_event(
            f"Launching on the {route} launcher ({type(self.launchers[route]).__name__})",
            context.dagster_run,
            cls=self.__class__,
        )
        self.launchers[route].launch_run(context)

    def _for(self, run_id: str) -> RunLauncher:
        run = self._instance.get_run_by_id(run_id)
        route = run.tags.get(ROUTE_TAG, DEFAULT) if run else DEFAULT
        return self.launchers[route]

    def terminate(self, run_id: str) -> bool:
        return self._for(run_id).terminate(run_id)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return all(
            launcher.supports_check_run_worker_health for launcher in self.launchers.values()
        )

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        return self._for(run.run_id).check_run_worker_health(run)

    @property
    def supports_resume_run(self) -> bool:
        return all(launcher.supports_resume_run for launcher in self.launchers.values())

    def resume_run(self, context: ResumeRunContext) -> None:
        self._for(context.dagster_run.run_id).resume_run(context)

    def dispose(self) -> None:
        for launcher in self.launchers.values():
            launcher.dispose()
