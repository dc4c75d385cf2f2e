"""The model assets' run config is their core settings: the same fields and descriptions in
the launchpad, and a choice that can't run fails the run before anything is read or written."""

from __future__ import annotations

import sys

import dagster as dg
import pytest
import torch
from pydantic import BaseModel

from llmft_assets.defs.modeling import (
    BaseModelConfig,
    GGUFConfig,
    TrainingConfig,
    gguf_model,
    lora_adapter,
)
from llmft_assets.export.stage import ExportSettings
from llmft_assets.modeling.base import BaseModelSettings
from llmft_assets.modeling.settings import TrainingSettings
from llmft_assets_tests.deployment import Deployment


@pytest.mark.parametrize(
    ("config", "settings"),
    [
        (BaseModelConfig, BaseModelSettings),
        (TrainingConfig, TrainingSettings),
        (GGUFConfig, ExportSettings),
    ],
)
def test_the_run_config_shows_every_setting_with_its_description(
    config: type[dg.Config], settings: type[BaseModel]
) -> None:
    fields = config.to_fields_dict()
    assert set(fields) == set(settings.model_fields)
    for name, field in settings.model_fields.items():
        assert fields[name].description == field.description, name


@pytest.mark.parametrize(
    ("asset", "config", "message"),
    [
        (gguf_model, {"quantizations": ["Q3_K"]}, "unknown quantization Q3_K"),
        pytest.param(
            lora_adapter,
            {"device": "cuda"},
            "torch sees no CUDA device",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA"),
        ),
        (
            lora_adapter,
            {"quantization": "nf4", "device": "cpu"},
            "quantization 'nf4' needs bitsandbytes, which can't run here: it is not installed",
        ),
    ],
    ids=["quantization", "cuda", "nf4-without-bitsandbytes"],
)
def test_a_choice_that_cannot_run_fails_before_anything_is_read_or_written(
    asset: dg.AssetsDefinition,
    config: dict,
    message: str,
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "bitsandbytes" in message:
        monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as if it were not installed
    result = dg.materialize(
        [asset],
        instance=deployment.instance,
        resources=deployment.resources,
        run_config={"ops": {asset.key.path[-1]: {"config": config}}},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert message in str(failure.step_failure_data.error)
    assert deployment.store.list_keys("") == []
