import subprocess
import sys

import dagster as dg

from llmft_assets.definitions import defs
from llmft_assets.pipeline import pipeline_steps

GRAPH = (
    "document_catalog",
    "blog_posts_html",
    "gutenberg_books",
    "notes_text",
    "cleaned_documents",
    "batch_chunks",
    "text_chunks",
    "training_dataset",
    "base_model",
    "lora_adapter",
    "merged_model",
    "gguf_model",
)


def test_definitions_load_with_every_asset_described_owned_and_kinded():
    dg.Definitions.validate_loadable(defs)
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == set(GRAPH)
    for name in GRAPH:
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


def test_pipeline_steps_follow_the_graph_in_order():
    """Partitioned assets run in one step per partition set; the rest by group."""
    steps = [(step.assets, step.partition_set) for step in pipeline_steps()]
    assert steps == [
        (("document_catalog",), None),
        (("blog_posts_html",), "blog_post_batches"),
        (("gutenberg_books",), "gutenberg_book_batches"),
        (("notes_text",), "note_batches"),
        (("cleaned_documents", "batch_chunks"), "document_batches"),
        (("text_chunks", "training_dataset"), None),
        (("base_model", "lora_adapter", "merged_model", "gguf_model"), None),
    ]


MODEL_LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "bitsandbytes",
    "matplotlib",
    "safetensors",
)


def test_loading_the_code_location_imports_no_model_library():
    """Every run worker and sensor tick loads the code location; the model libraries cost
    seconds to import and belong to the steps that train, merge and export."""
    script = (
        "import sys, llmft_assets.definitions; "
        f"print(sorted(m for m in {MODEL_LIBRARIES!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
