from __future__ import annotations

import pytest
from pydantic import ValidationError

from llmft_assets.sources.batches import CatalogSettings, assign_batches, batch_key
from llmft_assets.sources.catalog import CatalogEntry


def entries(source: str, names: list[str]) -> list[CatalogEntry]:
    return [CatalogEntry(f"{source}-{name}", source, f"/in/{name}") for name in names]


def test_new_documents_fill_new_batches_of_their_source_in_discovery_order() -> None:
    found = entries("blog", ["a", "b", "c", "d", "e"]) + entries("gutenberg", ["x"])
    batches = {e.doc_id: e.batch for e in assign_batches(found, {}, batch_size=2)}
    assert batches == {
        "blog-a": "blog-batch-00000",
        "blog-b": "blog-batch-00000",
        "blog-c": "blog-batch-00001",
        "blog-d": "blog-batch-00001",
        "blog-e": "blog-batch-00002",
        "gutenberg-x": "gutenberg-batch-00000",
    }


def test_documents_keep_their_batch_and_new_ones_never_join_an_old_batch() -> None:
    previous = {"blog-a": "blog-batch-00000", "blog-c": "blog-batch-00003"}
    found = entries("blog", ["a", "b", "c", "d"])
    assigned = assign_batches(found, previous, batch_size=10)
    assert [(e.doc_id, e.batch) for e in assigned] == [
        ("blog-a", "blog-batch-00000"),
        ("blog-b", "blog-batch-00004"),  # after the highest batch the source has had
        ("blog-c", "blog-batch-00003"),
        ("blog-d", "blog-batch-00004"),
    ]
    assert assign_batches(assigned, {e.doc_id: e.batch for e in assigned}, 10) == assigned


def test_batch_keys_sort_in_the_order_batches_are_made() -> None:
    keys = [batch_key("blog", n) for n in (0, 9, 10, 99999)]
    assert keys == sorted(keys) and keys[0] == "blog-batch-00000"


def test_a_batch_holds_at_least_one_document() -> None:
    with pytest.raises(ValidationError):
        CatalogSettings(batch_size=0)
