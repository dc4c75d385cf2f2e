"""The chunking stages: which copy of a duplicate is kept, which text is reflowed, what they
report, and how shards are cut from batches, kept, reused and merged."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
import textwrap
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from llmft_assets.chunking import stage
from llmft_assets.chunking.chunker import chunk_text
from llmft_assets.chunking.stage import (
    CHARACTERS,
    CHUNK_COLUMNS,
    ChunkedBatch,
    ChunkingReport,
    ChunkingSettings,
    Shard,
    ShardingSettings,
    batch_shards,
    chunk_shards,
    cleaned_batch_files,
    merge_shards,
    run_batch_chunking,
    run_chunking,
    text_to_chunk,
    token_counter,
)
from llmft_assets.cleaning.dedup import DedupCandidate, Duplicate, find_duplicates, keep_rank
from llmft_assets.storage import layout
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import LocalBackend

SETTINGS = ShardingSettings(tokenizer=CHARACTERS, target_tokens=64, min_tokens=8)
MERGING = ChunkingSettings()


def prose(topic: str, sentences: int = 12) -> str:
    """One paragraph hard-wrapped at 60 columns, as in a Project Gutenberg etext."""
    text = " ".join(
        f"The {topic} sentence {i} walks down Pell Street where the fog comes up."
        for i in range(sentences)
    )
    return textwrap.fill(text, width=60)


def document(doc_id: str, source: str, text: str, flags: str = "") -> dict[str, object]:
    return {
        "doc_id": doc_id,
        "source": source,
        "title": doc_id.title(),
        "url": "",
        "language": "en",
        "text": text,
        "char_count": len(text),
        "flags": flags,
    }


def documents(*rows: dict[str, object]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda row: row["doc_id"])


def shard(name: str, docs: list[dict[str, object]]) -> Shard:
    """A shard of `docs`, versioned by their content as a batch manifest versions it."""
    version = hashlib.sha256(json.dumps(docs, sort_keys=True).encode()).hexdigest()
    return Shard(name, version, docs)


def fresh_store(folder: Path) -> ArtifactStore:
    return ArtifactStore(LocalBackend(folder / "store"), folder / "cache")


def chunk_and_merge(
    shards: list[Shard],
    settings: ShardingSettings,
    store: ArtifactStore,
    path: Path,
    merging: ChunkingSettings = MERGING,
) -> ChunkingReport:
    """Both stages over `shards`: what `text_chunks` writes once `batch_chunks` has run."""
    return merge_shards(chunk_shards(shards, settings, store).shards, merging, store, path)


Chunked = Callable[..., tuple[pd.DataFrame, ChunkingReport]]


@pytest.fixture
def chunked(tmp_path: Path) -> Chunked:
    """The documents chunked as one shard and merged, with the chunks written read back."""

    def run(
        docs: list[dict[str, object]], settings: ShardingSettings = SETTINGS
    ) -> tuple[pd.DataFrame, ChunkingReport]:
        path = tmp_path / "chunks.parquet"
        report = chunk_and_merge([shard("all", docs)], settings, fresh_store(tmp_path), path)
        return pd.read_parquet(path), report

    return run


def test_a_copy_whose_markers_were_found_is_kept_over_a_longer_one_without(
    chunked: Chunked,
) -> None:
    book = prose("lantern")
    chunks, report = chunked(
        documents(
            document("gutenberg-a", "gutenberg", book + "\n\nA transcriber's note.", "no_markers"),
            document("gutenberg-b", "gutenberg", book),
            document("blog-c", "blog", prose("harbour")),
        ),
    )
    assert report.duplicates == (
        Duplicate("gutenberg-a", "gutenberg-b", "near", pytest.approx(1.0, abs=0.1)),
    )
    assert report.documents == 2
    assert set(chunks.doc_id) == {"gutenberg-b", "blog-c"}


def test_book_prose_is_reflowed_and_blog_text_is_not(chunked: Chunked) -> None:
    chunks, _ = chunked(
        documents(
            document("gutenberg-a", "gutenberg", prose("lantern")),
            document("blog-b", "blog", prose("harbour")),
        ),
    )
    by_source = chunks.groupby("source").text.apply(" ".join)
    assert "\n" not in by_source["gutenberg"]
    assert "\n" in by_source["blog"]


def test_chunks_are_numbered_per_document_and_counted_in_the_report(chunked: Chunked) -> None:
    chunks, report = chunked(
        documents(document("blog-a", "blog", prose("lantern")), document("blog-b", "blog", "")),
    )
    assert list(chunks.columns) == list(CHUNK_COLUMNS)
    assert len(chunks) > 1
    assert list(chunks.position) == list(range(len(chunks)))
    assert list(chunks.chunk_id) == [f"blog-a:{p:05d}" for p in range(len(chunks))]
    assert chunks.token_count.between(SETTINGS.min_tokens, SETTINGS.target_tokens).all()
    assert report.chunks == len(chunks)
    assert report.tokens == chunks.token_count.sum()
    assert (report.tokenizer, report.target_tokens, report.min_tokens) == ("characters/4", 64, 8)


def test_no_chunk_left_is_an_error(chunked: Chunked) -> None:
    with pytest.raises(ValueError, match="no chunks"):
        chunked(documents(document("blog-a", "blog", "")))


def test_the_report_round_trips_and_keeps_the_spec_keys(chunked: Chunked) -> None:
    book = prose("lantern")
    _, report = chunked(
        documents(
            document("gutenberg-a", "gutenberg", book), document("gutenberg-b", "gutenberg", book)
        ),
    )
    assert report.duplicates == (Duplicate("gutenberg-b", "gutenberg-a", "exact", 1.0),)
    assert ChunkingReport.from_json(report.to_json()) == report
    spec = json.loads(report.to_json())  # what text_chunks/spec.json held before the report
    assert {k: spec[k] for k in ("tokenizer", "target_tokens", "min_tokens")} == {
        "tokenizer": "characters/4",
        "target_tokens": 64,
        "min_tokens": 8,
    }


def in_memory_chunks(docs: list[dict[str, object]], settings: ShardingSettings) -> pd.DataFrame:
    """What chunking returned before it streamed: every chunk row in one DataFrame."""
    frame = pd.DataFrame(docs).sort_values("doc_id", ignore_index=True)
    duplicates = find_duplicates(
        [
            DedupCandidate(r.doc_id, r.text, keep_rank(r.flags, r.char_count))
            for r in frame.itertuples()
        ],
        threshold=MERGING.near_duplicate_threshold,
    )
    dropped = {d.doc_id for d in duplicates}
    counter = token_counter(settings.tokenizer)
    rows = []
    for doc in frame[~frame.doc_id.isin(dropped)].itertuples():
        text = text_to_chunk(doc.source, doc.text)
        result = chunk_text(text, counter, settings.target_tokens, settings.min_tokens)
        for position, (chunk, tokens) in enumerate(result.chunks):
            rows.append(
                {
                    "chunk_id": f"{doc.doc_id}:{position:05d}",
                    "doc_id": doc.doc_id,
                    "source": doc.source,
                    "title": doc.title,
                    "url": doc.url,
                    "language": doc.language,
                    "position": position,
                    "text": chunk,
                    "token_count": tokens,
                }
            )
    return pd.DataFrame(rows, columns=list(CHUNK_COLUMNS))


MIXED = documents(
    document("gutenberg-a", "gutenberg", prose("lantern", 40) + "\n\nA note.", "no_markers"),
    document("gutenberg-b", "gutenberg", prose("lantern", 40)),
    document("gutenberg-c", "gutenberg", prose("harbour", 30).upper()),
    document("gutenberg-c-copy", "gutenberg", prose("harbour", 30)),
    document("blog-a", "blog", prose("kettle", 25)),
    document("blog-b", "blog", "Too short."),
    document("blog-c", "blog", ""),
    document("notes-a", "notes", prose("ledger", 9)),
)


@pytest.mark.parametrize("rows_per_group", [1, 7, 4096])
def test_streamed_chunks_are_the_rows_the_in_memory_stage_built(
    tmp_path: Path, rows_per_group: int
) -> None:
    merging = ChunkingSettings(rows_per_group=rows_per_group)
    path = tmp_path / "chunks.parquet"
    report = chunk_and_merge([shard("all", MIXED)], SETTINGS, fresh_store(tmp_path), path, merging)
    expected = in_memory_chunks(MIXED, SETTINGS)
    pd.testing.assert_frame_equal(pd.read_parquet(path), expected)
    groups = pq.ParquetFile(path).metadata.num_row_groups
    assert groups == -(-len(expected) // rows_per_group)
    assert (report.chunks, report.tokens) == (len(expected), expected.token_count.sum())
    assert report.documents == len(MIXED) - len(report.duplicates) == 6


def test_in_one_row_group_the_file_is_the_bytes_to_parquet_wrote(tmp_path: Path) -> None:
    path = tmp_path / "chunks.parquet"
    chunk_and_merge([shard("all", MIXED)], SETTINGS, fresh_store(tmp_path), path)
    buffer = io.BytesIO()
    in_memory_chunks(MIXED, SETTINGS).to_parquet(buffer, index=False, compression="zstd")
    assert path.read_bytes() == buffer.getvalue()


def test_documents_out_of_doc_id_order_are_refused(tmp_path: Path) -> None:
    backwards = [shard("all", list(reversed(MIXED)))]
    with pytest.raises(ValueError, match="out of doc_id order"):
        chunk_and_merge(backwards, SETTINGS, fresh_store(tmp_path), tmp_path / "chunks.parquet")


def test_a_document_in_two_shards_is_refused(tmp_path: Path) -> None:
    twice = [shard("a", MIXED[:3]), shard("b", MIXED[2:])]
    with pytest.raises(ValueError, match="in two shards"):
        chunk_and_merge(twice, SETTINGS, fresh_store(tmp_path), tmp_path / "chunks.parquet")


def store_cleaned_batch(store: ArtifactStore, batch: str, docs: list[dict[str, object]]) -> None:
    """Documents and their batch's manifest, as `cleaned_documents` stores them."""
    listed = {}
    for doc in docs:
        key = layout.cleaned_document(str(doc["doc_id"]))
        listed[doc["doc_id"]] = store.write_table(key, pd.DataFrame([doc])).sha256
    store.write_json(layout.cleaned_batch(batch), {"batch": batch, "documents": listed})


BLOG_0, BLOG_1 = "blog-batch-00000", "blog-batch-00001"


def test_stored_batches_are_chunked_per_batch_then_merged_as_one_shard_would_be(
    tmp_path: Path,
) -> None:
    store = fresh_store(tmp_path)
    store_cleaned_batch(store, BLOG_0, MIXED[:5])
    store_cleaned_batch(store, BLOG_1, MIXED[5:])
    store.write_table(layout.cleaned_document("blog-stale"), pd.DataFrame([MIXED[0]]))
    first = run_batch_chunking(store, [BLOG_0], SETTINGS)
    assert [s.documents for s in first.shards] == [5] and not first.reused
    with pytest.raises(
        ValueError, match=f"for 1 of 2 batches \\({BLOG_1}\\): materialize batch_chunks"
    ):
        run_chunking(store, MERGING, tmp_path / "chunks.parquet")  # the second batch is not chunked
    run_batch_chunking(store, [BLOG_1], SETTINGS)
    report = run_chunking(store, MERGING, tmp_path / "chunks.parquet")  # not blog-stale
    whole = tmp_path / "whole.parquet"
    expected = chunk_and_merge([shard("all", MIXED)], SETTINGS, fresh_store(tmp_path / "2"), whole)
    assert dataclasses.replace(report, shards=1) == expected
    assert (tmp_path / "chunks.parquet").read_bytes() == whole.read_bytes()
    record = ChunkedBatch.from_json(store.read_bytes(layout.chunked_batch(BLOG_0)))
    assert [s.shard for s in record.shards] == [f"{BLOG_0}-shard-000"]
    assert run_batch_chunking(store, [BLOG_0, BLOG_1], SETTINGS).reused == (
        f"{BLOG_0}-shard-000",
        f"{BLOG_1}-shard-000",
    )


def test_a_batch_cleaned_again_is_behind_until_chunked_again(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    store_cleaned_batch(store, BLOG_0, MIXED)
    run_batch_chunking(store, [BLOG_0], SETTINGS)
    assert MIXED[0]["doc_id"] == "blog-a"
    store_cleaned_batch(store, BLOG_0, MIXED[1:])  # blog-a set aside this time
    with pytest.raises(
        ValueError, match=f"older than cleaned_documents for 1 of 1 batches \\({BLOG_0}\\)"
    ):
        run_chunking(store, MERGING, tmp_path / "chunks.parquet")
    run_batch_chunking(store, [BLOG_0], SETTINGS)
    report = run_chunking(store, MERGING, tmp_path / "chunks.parquet")
    assert "blog-a" not in pd.read_parquet(tmp_path / "chunks.parquet").doc_id.tolist()
    alone = fresh_store(tmp_path / "2")
    assert report == chunk_and_merge([shard("all", MIXED[1:])], SETTINGS, alone, tmp_path / "a")


def test_a_batch_is_cut_into_shards_of_the_configured_size(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    store_cleaned_batch(store, BLOG_0, MIXED)
    store_cleaned_batch(store, BLOG_1, [])  # every document set aside
    by_three = SETTINGS.model_copy(update={"documents_per_shard": 3})
    sharding = run_batch_chunking(store, [BLOG_0, BLOG_1], by_three)
    assert [s.shard for s in sharding.shards] == [f"{BLOG_0}-shard-{n:03d}" for n in range(3)]
    assert [s.documents for s in sharding.shards] == [3, 3, 2]
    report = run_chunking(store, MERGING, tmp_path / "chunks.parquet")
    alone = fresh_store(tmp_path / "2")
    whole = chunk_and_merge([shard("all", MIXED)], SETTINGS, alone, tmp_path / "whole.parquet")
    assert dataclasses.replace(report, shards=1) == whole
    # One document changed: its shard is chunked again, the others are reused.
    edited = [*MIXED[:4], {**MIXED[4], "title": "New"}, *MIXED[5:]]
    store_cleaned_batch(store, BLOG_0, edited)
    again = run_batch_chunking(store, [BLOG_0], by_three)
    assert again.reused == (f"{BLOG_0}-shard-000", f"{BLOG_0}-shard-002")
    # Cleaned again with fewer documents: the shard it no longer has is deleted.
    store_cleaned_batch(store, BLOG_0, MIXED[:6])
    run_batch_chunking(store, [BLOG_0], by_three)
    assert stored_shard_names(store) == {f"{BLOG_0}-shard-000", f"{BLOG_0}-shard-001"}


def stored_shard_names(store: ArtifactStore) -> set[str]:
    """The shards with a folder in the store (a folder is the shard's name, then its key's)."""
    return {k.split("/")[2].rsplit("-", 1)[0] for k in store.list_keys(layout.CHUNK_SHARDS)}


def test_a_rechunking_stopped_midway_leaves_the_batch_s_last_record_whole(
    tmp_path: Path,
) -> None:
    store = fresh_store(tmp_path)
    store_cleaned_batch(store, BLOG_0, MIXED)
    run_batch_chunking(store, [BLOG_0], SETTINGS)
    before = run_chunking(store, MERGING, tmp_path / "before.parquet")
    # Cut smaller, and stopped after the first new shard: it has a folder of its own, so the
    # one the record lists is as it was.
    by_three = SETTINGS.model_copy(update={"documents_per_shard": 3})
    first = batch_shards(store, BLOG_0, cleaned_batch_files(store, BLOG_0), 3)[0]
    chunk_shards([first], by_three, store)
    assert run_chunking(store, MERGING, tmp_path / "after.parquet") == before
    assert (tmp_path / "after.parquet").read_bytes() == (tmp_path / "before.parquet").read_bytes()
    run_batch_chunking(store, [BLOG_0], by_three)  # finished: the record moves, the old is gone
    assert run_chunking(store, MERGING, tmp_path / "third.parquet").shards == 3
    assert len({k.split("/")[2] for k in store.list_keys(layout.CHUNK_SHARDS)}) == 3


def test_a_shard_gone_during_a_merge_is_an_error_that_says_to_merge_again(
    tmp_path: Path,
) -> None:
    store = fresh_store(tmp_path)
    store_cleaned_batch(store, BLOG_0, MIXED)
    run_batch_chunking(store, [BLOG_0], SETTINGS)
    [table] = [k for k in store.list_keys(layout.CHUNK_SHARDS) if k.endswith("chunks.parquet")]
    store.delete([table])  # as a run of batch_chunks for the batch, cleaned again, deletes it
    with pytest.raises(ValueError, match=r"a shard is gone .*materialize text_chunks again"):
        run_chunking(store, MERGING, tmp_path / "chunks.parquet")


def test_a_batch_chunked_in_an_older_shard_format_is_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = fresh_store(tmp_path)
    store_cleaned_batch(store, BLOG_0, MIXED)
    run_batch_chunking(store, [BLOG_0], SETTINGS)
    monkeypatch.setattr(stage, "SHARD_FORMAT", stage.SHARD_FORMAT + 1)  # a later release's
    with pytest.raises(ValueError, match="older than cleaned_documents"):
        run_chunking(store, MERGING, tmp_path / "chunks.parquet")
    assert run_batch_chunking(store, [BLOG_0], SETTINGS).reused == ()  # its shards redone
    run_chunking(store, MERGING, tmp_path / "chunks.parquet")


def test_batches_chunked_with_different_settings_are_not_merged(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    store_cleaned_batch(store, BLOG_0, MIXED[:4])
    store_cleaned_batch(store, BLOG_1, MIXED[4:])
    run_batch_chunking(store, [BLOG_0], SETTINGS)
    run_batch_chunking(store, [BLOG_1], SETTINGS.model_copy(update={"target_tokens": 32}))
    with pytest.raises(ValueError, match=f"different settings .*32, 8\\) in {BLOG_1}-shard-000"):
        run_chunking(store, MERGING, tmp_path / "chunks.parquet")


def test_no_cleaned_documents_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="materialize cleaned_documents first"):
        run_chunking(fresh_store(tmp_path), MERGING, tmp_path / "chunks.parquet")
    with pytest.raises(ValueError, match=f"batch {BLOG_0} has no cleaned documents"):
        run_batch_chunking(fresh_store(tmp_path), [BLOG_0], SETTINGS)


class CountedShard:
    """A shard's documents that count how often they are read, and can fail midway once."""

    def __init__(self, docs: list[dict[str, object]], fail_after: int | None = None) -> None:
        self.docs, self.fail_after, self.reads = docs, fail_after, 0

    def __iter__(self) -> Iterator[dict[str, object]]:
        self.reads += 1
        for i, doc in enumerate(self.docs):
            if i == self.fail_after:
                self.fail_after = None
                raise RuntimeError("killed midway")
            yield doc


def shards_of(docs: list[dict[str, object]], fail_in: int | None = None) -> list[Shard]:
    """`docs` in three shards, each in doc_id order, duplicates split across them (the third
    fails after one document, once, if `fail_in` names it)."""
    parts = [docs[0::3], docs[1::3], docs[2::3]]
    failing = {fail_in: 1} if fail_in is not None else {}
    return [
        Shard(f"s{i}", shard(f"s{i}", part).version, CountedShard(part, failing.get(i)))
        for i, part in enumerate(parts)
    ]


def test_any_sharding_gives_the_chunks_of_one_shard(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    whole = chunk_and_merge([shard("all", MIXED)], SETTINGS, store, tmp_path / "whole.parquet")
    sharded = chunk_and_merge(shards_of(MIXED), SETTINGS, store, tmp_path / "sharded.parquet")
    assert {d.doc_id for d in sharded.duplicates} == {"gutenberg-a", "gutenberg-c-copy"}
    assert (tmp_path / "sharded.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert sharded.shards == 3
    assert dataclasses.replace(sharded, shards=1) == whole


IN_PROCESS = SETTINGS.model_copy(update={"workers": 1})  # so the test sees what was read


def test_a_crash_midway_resumes_without_redoing_the_finished_shards(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    shards = shards_of(MIXED, fail_in=2)
    with pytest.raises(RuntimeError, match="killed midway"):
        chunk_shards(shards, IN_PROCESS, store)
    resumed = chunk_shards(shards, IN_PROCESS, store)
    assert [s.documents.reads for s in shards] == [1, 1, 2]  # the third alone was read again
    assert resumed.reused == ("s0", "s1")
    merged = merge_shards(resumed.shards, MERGING, store, tmp_path / "chunks.parquet")
    uninterrupted = chunk_and_merge(
        shards_of(MIXED), SETTINGS, fresh_store(tmp_path / "2"), tmp_path / "again.parquet"
    )
    assert merged == uninterrupted
    assert (tmp_path / "chunks.parquet").read_bytes() == (tmp_path / "again.parquet").read_bytes()


def test_a_rerun_redoes_only_the_shards_whose_documents_or_chunk_settings_changed(
    tmp_path: Path,
) -> None:
    store = fresh_store(tmp_path)
    path = tmp_path / "chunks.parquet"
    first = chunk_and_merge(shards_of(MIXED), IN_PROCESS, store, path)
    unchanged = shards_of(MIXED)
    assert len(chunk_shards(unchanged, IN_PROCESS, store).reused) == 3
    assert [s.documents.reads for s in unchanged] == [0, 0, 0]

    edited = [*MIXED[:4], {**MIXED[4], "text": prose("teapot", 25)}, *MIXED[5:]]  # in s1
    rerun = chunk_shards(shards_of(edited), IN_PROCESS, store)
    assert rerun.reused == ("s0", "s2")
    assert merge_shards(rerun.shards, MERGING, store, path).tokens != first.tokens

    more_workers = IN_PROCESS.model_copy(update={"workers": 2})
    assert len(chunk_shards(shards_of(edited), more_workers, store).reused) == 3
    smaller = IN_PROCESS.model_copy(update={"target_tokens": 32})
    assert chunk_shards(shards_of(edited), smaller, store).reused == ()


def test_shards_chunked_in_worker_processes_give_the_same_file(tmp_path: Path) -> None:
    in_workers = SETTINGS.model_copy(update={"workers": 2})
    store = fresh_store(tmp_path)
    with pytest.raises(RuntimeError, match="killed midway"):  # raised in a worker
        chunk_shards(shards_of(MIXED, fail_in=2), in_workers, store)
    sharding = chunk_shards(shards_of(MIXED), in_workers, store)
    assert len(sharding.reused) == 2  # what the workers finished before the failure was kept
    report = merge_shards(sharding.shards, MERGING, store, tmp_path / "chunks.parquet")
    alone = tmp_path / "alone.parquet"
    expected = chunk_and_merge(shards_of(MIXED), IN_PROCESS, fresh_store(tmp_path / "2"), alone)
    assert report == expected
    assert (tmp_path / "chunks.parquet").read_bytes() == alone.read_bytes()


class SyntheticCorpus:
    """`count` distinct documents of ~`chars` characters, made afresh on each pass, so that
    the corpus itself is never in memory."""

    VOCABULARY = tuple(f"word{i}" for i in range(2000))

    def __init__(self, count: int, chars: int = 13_000) -> None:
        self.count = count
        self.chars = chars

    def __iter__(self) -> Iterator[dict[str, object]]:
        for i in range(self.count):
            words = random.Random(i).choices(self.VOCABULARY, k=self.chars // 9)
            sentences = (" ".join(words[k : k + 12]) + "." for k in range(0, len(words), 12))
            yield document(f"blog-{i:06d}", "blog", "\n\n".join(sentences))


def test_peak_memory_does_not_grow_with_the_corpus(tmp_path: Path) -> None:
    bound = 2 << 20  # Python allocations (numpy's included) while chunking, in bytes
    settings = SETTINGS.model_copy(update={"target_tokens": 512})
    corpus = SyntheticCorpus(700)
    text = sum(len(doc["text"]) for doc in corpus)
    assert text > 4 * bound  # what the stage held at once before: every document and chunk
    tracemalloc.start()
    try:
        shards = [Shard("corpus", "v1", corpus)]
        path, merging = tmp_path / "chunks.parquet", ChunkingSettings(rows_per_group=64)
        report = chunk_and_merge(shards, settings, fresh_store(tmp_path), path, merging)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.documents == 700 and report.chunks >= 700 * 6 and not report.duplicates
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB for {text / 2**20:.1f} MiB of text"
