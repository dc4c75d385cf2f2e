import dagster as dg

from llmft_assets.definitions import defs

DATA_ASSETS = {
    "document_catalog",
    "blog_posts_html",
    "gutenberg_books",
    "cleaned_documents",
    "text_chunks",
    "training_dataset",
}


def test_definitions_load_with_every_data_asset_described_and_owned():
    dg.Definitions.validate_loadable(defs)
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert DATA_ASSETS <= set(specs)
    for name in DATA_ASSETS:
        assert specs[name].description, name
        assert specs[name].owners, name
        assert specs[name].kinds, name
