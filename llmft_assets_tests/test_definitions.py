import dagster as dg

from llmft_assets.definitions import defs

ASSETS = {
    "document_catalog",
    "blog_posts_html",
    "gutenberg_books",
    "cleaned_documents",
    "text_chunks",
    "training_dataset",
    "base_model",
    "lora_adapter",
    "merged_model",
    "gguf_model",
}


def test_definitions_load_with_every_asset_described_owned_and_kinded():
    dg.Definitions.validate_loadable(defs)
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == ASSETS
    for name in ASSETS:
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
