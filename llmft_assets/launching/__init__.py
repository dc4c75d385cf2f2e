"""Instance-level classes named in dagster.yaml: GPU run routing and GPU run limits."""

from llmft_assets.launching.coordinator import GpuTaggingRunCoordinator
from llmft_assets.launching.launcher import GpuRoutingRunLauncher

__all__ = ["GpuRoutingRunLauncher", "GpuTaggingRunCoordinator"]
