"""A queued run coordinator that marks GPU runs, so the queue can limit how many run at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DagsterRun, QueuedRunCoordinator, SubmitRunContext

from llmft_assets.launching.routing import COMPUTE_TAG, GPU, run_needs_gpu

DEFAULT_GPU_RUN_LIMIT = 1


class GpuTaggingRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator (same config) that tags every run needing a GPU with
    `llmft/compute: gpu` before queueing it. Unless `tag_concurrency_limits` already names
    that tag, GPU runs are limited to one at a time."""

    def __init__(
        self, tag_concurrency_limits: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any
    ) -> None:
        limits = list(tag_concurrency_limits or [])
        if not any(limit.get("key") == COMPUTE_TAG for limit in limits):
            limits.append({"key": COMPUTE_TAG, "value": GPU, "limit": DEFAULT_GPU_RUN_LIMIT})
        super().__init__(tag_concurrency_limits=limits, **kwargs)

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if run.tags.get(COMPUTE_TAG) != GPU and run_needs_gpu(run, context.workspace):
            self._instance.add_run_tags(run.run_id, {COMPUTE_TAG: GPU})
        return super().submit_run(context)
