"""What `make demo` trained on, read back for the training benchmarks.

The base model and dataset come from the artifact store the environment configures (as for the
assets), the settings from `cpu_demo.yaml`'s `lora_adapter` config, so a benchmark measures the
demo's own run and not a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from datasets import DatasetDict, load_from_disk

from llmft_assets.defs.resources import resources_from_environment
from llmft_assets.modeling.settings import TrainingSettings
from llmft_assets.storage import layout
from llmft_assets.training_data.build import DatasetReport
from llmft_assets.training_data.formats import DatasetFormat

DEMO_CONFIG = Path(__file__).parents[1] / "llmft_assets" / "configs" / "cpu_demo.yaml"


@dataclass(frozen=True)
class DemoInputs:
    base_dir: Path
    dataset: DatasetDict
    fmt: DatasetFormat
    settings: TrainingSettings


def demo_inputs() -> DemoInputs:
    """The stored base model and dataset, and the demo's training settings."""
    store = resources_from_environment()["artifact_store"].store()
    dataset_dir = store.read_tree(layout.DATASET)
    demo = yaml.safe_load(DEMO_CONFIG.read_text())["ops"]["lora_adapter"]["config"]
    return DemoInputs(
        base_dir=store.read_tree(layout.BASE_MODEL),
        dataset=load_from_disk(str(dataset_dir)),
        fmt=DatasetReport.from_json((dataset_dir / layout.DATASET_INFO).read_text()).format,
        settings=TrainingSettings(**demo),
    )
