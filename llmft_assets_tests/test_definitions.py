import dagster as dg

from llmft_assets.definitions import defs
from llmft_assets_tests.deployment import ALL_ASSETS


def test_definitions_load_with_every_asset_described_owned_and_kinded():
    dg.Definitions.validate_loadable(defs)
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == set(ALL_ASSETS)
    for name in ALL_ASSETS:
        assert specs[name].description, name
        assert specs[name].owners, name
        assert specs[name].kinds, name


def test_only_training_is_marked_as_gpu_work():
    gpu = {
        spec.key.to_user_string()
        for spec in defs.resolve_all_asset_specs()
        if spec.tags.get("llmft/compute") == "gpu"
    }
    assert gpu == {"lora_adapter"}
