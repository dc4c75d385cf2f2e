"""Which runs need a GPU: those whose asset selection includes an asset tagged as GPU work.

The decision reads what the run will materialize, so it holds whatever started the run: the
UI, a schedule, a sensor, a backfill or declarative automation. A run with no explicit
selection runs its whole job, so every asset of that job counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import AssetKey, DagsterRun

if TYPE_CHECKING:  # the launch and submit contexts carry it; Dagster exports no public type
    from dagster._core.workspace.context import BaseWorkspaceRequestContext

COMPUTE_TAG = "llmft/compute"  # on assets that need a GPU, and on the runs that include them
GPU = "gpu"
ROUTE_TAG = "llmft/launcher"  # which launcher a run went to: "gpu" or "default"


def run_needs_gpu(run: DagsterRun, workspace: BaseWorkspaceRequestContext | None) -> bool:
    if run.tags.get(COMPUTE_TAG) == GPU:
        return True
    if workspace is None:
        return False
    graph = workspace.asset_graph
    selected: set[AssetKey] = set(run.asset_selection or ())
    if not selected:
        selected = {node.key for node in graph.asset_nodes if run.job_name in node.job_names}
    return any(graph.has(key) and graph.get(key).tags.get(COMPUTE_TAG) == GPU for key in selected)
