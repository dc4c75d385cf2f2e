from __future__ import annotations

import io
import json
import os
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from datasets import load_from_disk

from llmft_assets.definitions import DATA_ASSETS
from llmft_assets.defs.automation import (
    daily_ingestion_schedule,
    discover_documents_job,
    retrain_model_job,
    weekly_retraining,
)
from llmft_assets.defs.ingestion import (
    blog_posts_html,
    cleaned_documents,
    document_catalog,
    gutenberg_books,
    notes_text,
)
from llmft_assets.defs.preparation import batch_chunks, text_chunks, training_dataset
from llmft_assets.defs.resources import GutenbergSource, NotesSource
from llmft_assets.storage import layout
from llmft_assets_tests.deployment import POSTS, Deployment, copy_samples
from llmft_assets_tests.gutendex_server import FakeGutendex, running
from llmft_assets_tests.hostile_files import make_hostile_files

pytestmark = pytest.mark.slow  # runs of the data half on real instances

NOTES = ["backfills-without-tears.md", "on-naming-tables.txt", "reading-query-plans.md"]
POST_IDS = {
    "blog-89014957.data-engineer-vs-senior-data-engineer",
    "blog-parquet-is-not-magic",
    "blog-kimball-is-not-dead",
}


def materializations(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, dict]:
    """Metadata of each materialization of `asset` in a run, by partition (or None)."""
    return {
        event.materialization.partition: {
            k: v.value for k, v in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
        if event.asset_key.to_user_string() == asset
    }


def test_catalog_puts_new_documents_in_new_batches_one_partition_each(
    deployment: Deployment,
) -> None:
    result = deployment.materialize([document_catalog])
    [meta] = materializations(result, "document_catalog").values()
    assert (meta["documents"], meta["new_documents"]) == (6, 6)
    assert meta["new_batches"] == ["blog-batch-00000", "gutenberg-batch-00000"]
    instance = deployment.instance
    assert instance.get_dynamic_partitions("blog_post_batches") == ["blog-batch-00000"]
    assert instance.get_dynamic_partitions("gutenberg_book_batches") == ["gutenberg-batch-00000"]
    assert instance.get_dynamic_partitions("document_batches") == [
        "blog-batch-00000",
        "gutenberg-batch-00000",
    ]

    (deployment.posts / "new-post.html").write_bytes(
        (deployment.posts / POSTS[1]).read_bytes().replace(b"Parquet", b"Avro")
    )
    result = deployment.materialize([document_catalog])
    [meta] = materializations(result, "document_catalog").values()
    assert (meta["documents"], meta["new_documents"]) == (7, 1)
    assert meta["new_batches"] == ["blog-batch-00001"]  # a materialized batch never grows
    assert instance.get_dynamic_partitions("document_batches")[-1] == "blog-batch-00001"
    catalog = deployment.store.read_table(layout.CATALOG).set_index("doc_id").batch
    assert len(catalog) == 7 and catalog.index.is_unique
    assert catalog["blog-new-post"] == "blog-batch-00001"
    assert {catalog[doc] for doc in POST_IDS} == {"blog-batch-00000"}

    result = deployment.materialize([document_catalog])  # nothing new: nothing changes
    [meta] = materializations(result, "document_catalog").values()
    assert (meta["new_documents"], meta["new_batches"]) == (0, [])
    assert len(instance.get_dynamic_partitions("document_batches")) == 3


def test_a_corpus_is_tracked_in_batches_of_the_configured_size(deployment: Deployment) -> None:
    """Dagster's bookkeeping grows with batches, not documents: 23 posts in batches of 10 are
    three partitions, three materialization events per asset."""
    template = (deployment.posts / POSTS[1]).read_text()
    for number in range(20):
        page = template.replace("Parquet Is Not Magic", f"Parquet Is Not Magic, Part {number}")
        (deployment.posts / f"part-{number:02d}.html").write_text(page)
    config = {"ops": {"document_catalog": {"config": {"batch_size": 10}}}}
    deployment.materialize([document_catalog], run_config=config)
    batches = deployment.instance.get_dynamic_partitions("blog_post_batches")
    assert batches == ["blog-batch-00000", "blog-batch-00001", "blog-batch-00002"]

    fetched = deployment.materialize([blog_posts_html], "blog_post_batches")
    assert set(materializations(fetched, "blog_posts_html")) == set(batches)
    cleaned = deployment.materialize([cleaned_documents], partition="blog-batch-00002")
    [meta] = materializations(cleaned, "cleaned_documents").values()
    assert (meta["documents"], meta["cleaned"]) == (3, 3)
    manifest = deployment.store.read_json(layout.cleaned_batch("blog-batch-00002"))
    assert len(manifest["documents"]) == 3
    cleaned_files = [layout.cleaned_document(doc_id) for doc_id in manifest["documents"]]
    assert set(deployment.store.list_keys(layout.CLEANED_FOLDER)) == {
        *cleaned_files,
        layout.cleaned_batch("blog-batch-00002"),
    }


def test_ingestion_cleans_every_document_in_one_run_per_partition_set(
    deployment: Deployment,
) -> None:
    deployment.materialize([document_catalog])
    result = deployment.materialize([blog_posts_html], "blog_post_batches")
    assert result.success
    # One run covered the posts' batch, recording one materialization for it.
    [posts] = materializations(result, "blog_posts_html").values()
    assert (posts["documents"], posts["fetched"]) == (3, 3)
    deployment.materialize([gutenberg_books], "gutenberg_book_batches")
    result = deployment.materialize([cleaned_documents], "document_batches")
    cleaned = materializations(result, "cleaned_documents")
    assert set(cleaned) == {"blog-batch-00000", "gutenberg-batch-00000"}
    [meta] = {json.dumps(m, sort_keys=True, default=str) for m in cleaned.values()}
    meta = json.loads(meta)
    assert (meta["cleaned"], meta["rejected"]) == (6, 0)

    row = deployment.store.read_table(
        layout.cleaned_document("blog-89014957.data-engineer-vs-senior-data-engineer")
    ).iloc[0]
    assert row.title == "Data Engineer vs Senior Data Engineer"
    assert row.kind == "html" and row.language == "en"
    assert "reader-supported publication" not in row.text
    book = deployment.store.read_table(
        layout.cleaned_document("gutenberg-pg68283-orig_call-of-cthulhu_2022")
    ).iloc[0]
    assert book.title == "The call of Cthulhu"
    assert book.encoding == "utf-8" and "PROJECT GUTENBERG" not in book.text.upper()


def test_bad_documents_are_set_aside_with_reasons_and_the_run_goes_on(
    deployment: Deployment,
) -> None:
    (deployment.posts / "empty.html").write_bytes(b"")
    (deployment.posts / "binary.html").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(500))
    (deployment.books / "gone-before-fetch.txt").write_text("soon deleted")
    deployment.materialize([document_catalog])
    (deployment.books / "gone-before-fetch.txt").unlink()

    result = deployment.materialize([gutenberg_books], "gutenberg_book_batches")
    fetched = materializations(result, "gutenberg_books")["gutenberg-batch-00000"]
    assert fetched["rejected"] == 1 and fetched["fetched"] == 3
    assert "gutenberg-gone-before-fetch" in fetched["rejected_documents"]
    assert fetched["rejected_folder"].endswith("rejected/gutenberg_books")
    deployment.materialize([blog_posts_html], "blog_post_batches")
    result = deployment.materialize([cleaned_documents], "document_batches")
    assert result.success

    meta = materializations(result, "cleaned_documents")["blog-batch-00000"]
    assert meta["rejected"] == 3 and meta["cleaned"] == 6
    table = meta["rejected_documents"]
    assert "blog-empty" in table and "empty document" in table
    assert "blog-binary" in table and "binary" in table
    assert "gutenberg-gone-before-fetch" in table and "cannot read" in table

    store = deployment.store
    reason = store.read_json(layout.rejection("cleaned_documents", "blog-binary"))["reason"]
    assert "binary" in reason
    kept = store.read_bytes(layout.rejected_bytes("cleaned_documents", "blog-binary"))
    assert kept == (deployment.posts / "binary.html").read_bytes()  # kept for inspection
    assert not store.exists(layout.cleaned_document("blog-binary"))
    listed = store.read_json(layout.cleaned_batch("blog-batch-00000"))["documents"]
    assert len(listed) == 3 and "blog-binary" not in listed  # what text_chunks will read

    # Fixed at its source, a document is taken again by re-running its batch (the catalog
    # says which), and is no longer set aside.
    catalog = store.read_table(layout.CATALOG).set_index("doc_id").batch
    (deployment.posts / "binary.html").write_bytes((deployment.posts / POSTS[2]).read_bytes())
    for asset in (blog_posts_html, cleaned_documents):
        deployment.materialize([asset], partition=catalog["blog-binary"])
    assert store.exists(layout.cleaned_document("blog-binary"))
    assert not store.exists(layout.rejection("cleaned_documents", "blog-binary"))
    assert (
        "blog-binary" in store.read_json(layout.cleaned_batch(catalog["blog-binary"]))["documents"]
    )


def test_rerunning_ingestion_gives_the_same_result(deployment: Deployment) -> None:
    deployment.ingest()
    store = deployment.store
    first = {k: store.read_bytes(k) for k in store.list_keys(layout.CLEANED_FOLDER)}
    deployment.ingest()
    second = {k: store.read_bytes(k) for k in store.list_keys(layout.CLEANED_FOLDER)}
    assert first.keys() == second.keys() and len(first) == 6 + 2  # two batches' manifests
    for key in store.list_keys(layout.CLEANED_BATCHES):
        assert first.pop(key) == second[key]  # the same files, byte for byte
    for key in first:
        pd.testing.assert_frame_equal(
            pd.read_parquet(io.BytesIO(first[key])), pd.read_parquet(io.BytesIO(second[key]))
        )


def test_an_unusable_source_fails_discovery_with_an_error_naming_it(
    deployment: Deployment, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-folder"
    deployment.resources["gutenberg_source"] = GutenbergSource(folder=str(missing))
    result = deployment.materialize([document_catalog], raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    error = failure.step_failure_data.error.to_string()
    assert "SourceError" in error and str(missing) in error


def test_books_found_through_gutendex_are_fetched_and_a_404_is_set_aside(
    deployment: Deployment,
) -> None:
    book = (deployment.books / "11563-8_morning-bells_2004_latin1.txt").read_bytes()
    with running(FakeGutendex()) as gutendex:
        gutendex.add_book(11563, "Morning Bells", text=book, subjects=("Children",))
        gutendex.add_book(99, "A Lost Book", subjects=("Children",))
        gutendex.not_found.add("/ebooks/99.txt.utf-8")
        deployment.resources["gutenberg_source"] = GutenbergSource(
            gutendex_url=gutendex.url, topic="children", max_bytes=1 << 20, max_attempts=2
        )
        deployment.materialize([document_catalog])
        catalog = deployment.store.read_table(layout.CATALOG)
        assert set(catalog.doc_id) >= {"gutenberg-11563", "gutenberg-99"}
        result = deployment.materialize([gutenberg_books], "gutenberg_book_batches")
    [meta] = materializations(result, "gutenberg_books").values()
    assert (meta["fetched"], meta["rejected"]) == (1, 1)
    assert "404" in meta["rejected_documents"]
    assert deployment.store.read_bytes(layout.raw_document("gutenberg-11563")) == book
    topic = gutendex.requests_to("/books")[0]
    assert topic.param("topic") == "children" and topic.param("mime_type") == "text/plain"


def test_automation_materializes_exactly_the_newly_discovered_documents(
    deployment: Deployment,
) -> None:
    deployment.ingest()
    deployment.materialize([batch_chunks], "document_batches")
    defs = dg.Definitions(assets=DATA_ASSETS, resources=deployment.resources)
    selection = dg.AssetSelection.assets(blog_posts_html, cleaned_documents, batch_chunks)
    first = dg.evaluate_automation_conditions(
        defs=defs, instance=deployment.instance, asset_selection=selection
    )
    assert first.total_requested == 0  # everything present is materialized

    (deployment.posts / "fresh.html").write_bytes((deployment.posts / POSTS[2]).read_bytes())
    deployment.materialize([document_catalog])
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=deployment.instance, asset_selection=selection, cursor=first.cursor
    )
    assert second.get_requested_partitions(blog_posts_html.key) == {"blog-batch-00001"}
    assert not second.get_requested_partitions(cleaned_documents.key)  # its source is missing

    deployment.materialize([blog_posts_html], partition="blog-batch-00001")
    third = dg.evaluate_automation_conditions(
        defs=defs, instance=deployment.instance, asset_selection=selection, cursor=second.cursor
    )
    assert third.get_requested_partitions(cleaned_documents.key) == {"blog-batch-00001"}
    # Its chunks in the same run (eager follows a parent requested in the same tick): the new
    # batch's only, not the corpus's.
    assert third.get_requested_partitions(batch_chunks.key) == {"blog-batch-00001"}
    assert third.total_requested == 2


def test_the_daily_schedule_runs_discovery(deployment: Deployment) -> None:
    defs = dg.Definitions(
        assets=DATA_ASSETS,
        jobs=[discover_documents_job],
        schedules=[daily_ingestion_schedule],
        resources=deployment.resources,
    )
    assert daily_ingestion_schedule.cron_schedule == "0 4 * * *"
    job = defs.resolve_job_def(daily_ingestion_schedule.job_name)
    assert job.asset_layer.executable_asset_keys == {document_catalog.key}
    assert job.execute_in_process(instance=deployment.instance).success
    assert deployment.instance.get_dynamic_partitions("document_batches")


@pytest.mark.parametrize("fmt", ["messages", "conversations"])
def test_dataset_is_split_by_document_in_the_format_asked_for(
    deployment: Deployment, fmt: str
) -> None:
    result = deployment.build_dataset({"ops": {"training_dataset": {"config": {"format": fmt}}}})
    chunks = materializations(result, "text_chunks")[None]
    assert chunks["duplicates_dropped"] == 1
    assert "gutenberg-pg68283-reissue_call-of-cthulhu_2013-style" in chunks["duplicates"]
    folder = deployment.store.read_tree(layout.DATASET)
    dataset = load_from_disk(str(folder))
    assert set(dataset) == {"train", "validation"}
    train_docs, validation_docs = (set(dataset[s]["doc_id"]) for s in ("train", "validation"))
    assert train_docs and validation_docs and not train_docs & validation_docs
    assert fmt in dataset["train"].column_names
    assert json.loads((folder / layout.DATASET_INFO).read_text())["format"] == fmt
    assert "## Licence" in (folder / "README.md").read_text()


def test_weekly_retraining_runs_only_when_the_dataset_changed(deployment: Deployment) -> None:
    def evaluate() -> dg.RunRequest | dg.SkipReason:
        tick = weekly_retraining.evaluate_tick(
            dg.build_schedule_context(instance=deployment.instance)
        )
        return tick.run_requests[0] if tick.run_requests else dg.SkipReason(tick.skip_message)

    assert weekly_retraining.cron_schedule == "0 6 * * 1"
    assert weekly_retraining.job_name == retrain_model_job.name
    assert isinstance(evaluate(), dg.SkipReason)  # no dataset yet
    deployment.build_dataset()
    first = evaluate()
    assert isinstance(first, dg.RunRequest)
    # An adapter newer than the dataset: nothing to retrain on.
    deployment.instance.report_runless_asset_event(dg.AssetMaterialization("lora_adapter"))
    skipped = evaluate()
    assert isinstance(skipped, dg.SkipReason) and "has not changed" in skipped.skip_message
    deployment.materialize([text_chunks, training_dataset])
    second = evaluate()
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key


def test_notes_go_through_the_graph_into_the_dataset_asking_for_a_note(
    deployment: Deployment, tmp_path: Path
) -> None:
    notes = copy_samples(tmp_path / "notes", "notes", NOTES)
    make_hostile_files(notes, ".md")
    deployment.resources["notes_source"] = NotesSource(folder=str(notes))
    deployment.materialize([document_catalog])
    note_ids = set(deployment.store.read_table(layout.CATALOG).doc_id)
    assert {f"notes-{Path(n).stem}" for n in NOTES} < note_ids
    assert deployment.instance.get_dynamic_partitions("note_batches") == ["notes-batch-00000"]
    assert "notes-batch-00000" in deployment.instance.get_dynamic_partitions("document_batches")

    result = deployment.materialize([notes_text], "note_batches")
    [fetched] = {m["fetched"] for m in materializations(result, "notes_text").values()}
    assert fetched == len(NOTES) + 1  # the link to /proc/self/maps is a small regular file
    meta = next(iter(materializations(result, "notes_text").values()))
    for kind, reason in [("fifo", "a FIFO"), ("link-to-fifo", "a FIFO"), ("sparse", "cap")]:
        assert f"notes-{kind}" in meta["rejected_documents"]
        assert (
            reason
            in deployment.store.read_json(layout.rejection("notes_text", f"notes-{kind}"))["reason"]
        )
    deployment.materialize([blog_posts_html], "blog_post_batches")
    deployment.materialize([gutenberg_books], "gutenberg_book_batches")
    deployment.materialize([cleaned_documents], "document_batches")
    note = deployment.store.read_table(layout.cleaned_document("notes-reading-query-plans")).iloc[0]
    assert (note.kind, note.title) == ("text", "Reading query plans")
    assert note.text.startswith("Start at the bottom of the plan")

    run_config = {"ops": {"training_dataset": {"config": {"format": "conversations"}}}}
    assert deployment.materialize([batch_chunks], "document_batches").success
    assert deployment.materialize([text_chunks, training_dataset], run_config=run_config).success
    dataset = load_from_disk(str(deployment.store.read_tree(layout.DATASET)))
    records = [r for split in dataset.values() for r in split if r["doc_id"].startswith("notes-")]
    requests = {r["conversations"][0]["value"] for r in records}
    assert "Write a note titled “Reading query plans”." in requests
    assert "Write a note titled “Backfills without tears”." in requests
    chunks = deployment.store.read_table(layout.CHUNKS)
    backfills = chunks[chunks.doc_id == "notes-backfills-without-tears"].text.str.cat()
    assert "- a partition that quietly reads" in backfills  # the note's lines are kept
