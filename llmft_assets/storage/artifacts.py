"""The artifact store every asset reads and writes: native formats, atomic, idempotent.

Single files (parquet tables, raw documents, JSON) are written in one atomic put. Directory
trees (HF datasets, adapters, models, GGUF exports, checkpoints) are written as a version
folder named by the hash of their contents, then published by rewriting one small pointer,
`<key>/CURRENT.json`. A reader resolves the pointer, so it never sees half a tree; writing
the same content again is a no-op, which makes reruns idempotent.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from llmft_assets.hashing import file_sha256
from llmft_assets.storage.backends import Backend, LocalBackend

_POINTER = "CURRENT.json"
_READ_ATTEMPTS = 3  # pointer changes tolerated while a tree downloads


@dataclass(frozen=True)
class ArtifactInfo:
    """What a materialization records about what it stored."""

    uri: str
    size_bytes: int
    sha256: str


class ArtifactStore:
    def __init__(self, backend: Backend, cache_dir: Path) -> None:
        self.backend = backend
        self.cache_dir = cache_dir

    def uri(self, key: str) -> str:
        return self.backend.uri(key)

    def exists(self, key: str) -> bool:
        return self.backend.exists(key)

    def list_keys(self, folder: str) -> list[str]:
        return self.backend.list_keys(folder)

    def delete(self, keys: list[str]) -> None:
        self.backend.delete(keys)

    # Single objects -----------------------------------------------------------------------

    def write_bytes(self, key: str, data: bytes) -> ArtifactInfo:
        self.backend.put_bytes(key, data)
        return ArtifactInfo(self.uri(key), len(data), hashlib.sha256(data).hexdigest())

    def read_bytes(self, key: str) -> bytes:
        return self.backend.get_bytes(key)

    def write_file(self, key: str, path: Path) -> ArtifactInfo:
        """Store a local file as `key` in one atomic put, hashed by streaming (it may be larger
        than memory)."""
        self.backend.put_file(key, path)
        return ArtifactInfo(self.uri(key), path.stat().st_size, file_sha256(path))

    def local_file(self, key: str, folder: Path) -> Path:
        """A local path holding `key`'s bytes: the stored file itself in a local store, else a
        download into `folder`; never read into memory."""
        if isinstance(self.backend, LocalBackend):
            return self.backend.path(key)
        target = folder / Path(key).name
        self.backend.get_file(key, target)
        return target

    def write_json(self, key: str, value: object) -> ArtifactInfo:
        return self.write_bytes(key, json.dumps(value, indent=2, sort_keys=True).encode())

    def read_json(self, key: str) -> object:
        return json.loads(self.read_bytes(key))

    def write_table(self, key: str, table: pd.DataFrame) -> ArtifactInfo:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False, compression="zstd")
        return self.write_bytes(key, buffer.getvalue())

    def read_table(self, key: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(self.read_bytes(key)))

    def read_rows(self, key: str) -> list[dict[str, object]]:
        """A small stored table as rows, without pandas (a third of the time per file, which
        counts when a stage reads a file per document)."""
        return pq.read_table(pa.BufferReader(self.read_bytes(key))).to_pylist()

    # Directory trees ----------------------------------------------------------------------

    def write_tree(self, key: str, source: Path) -> ArtifactInfo:
        """Publish the files under `source` as the current version of `key`."""
        files = sorted(p for p in source.rglob("*") if p.is_file())
        if not files:
            raise ValueError(f"refusing to store an empty directory as {key!r}: {source}")
        manifest = {p.relative_to(source).as_posix(): _file_digest(p) for p in files}
        version = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
        size = sum(entry["size"] for entry in manifest.values())
        info = ArtifactInfo(self.uri(f"{key}/{version[:16]}"), size, version)
        if self.tree_version(key) == version[:16]:
            return info

        for path in files:
            name = path.relative_to(source).as_posix()
            self.backend.put_file(f"{key}/{version[:16]}/{name}", path)
        pointer = {"version": version[:16], "sha256": version, "files": manifest}
        self.write_json(f"{key}/{_POINTER}", pointer)
        stale = [
            k
            for k in self.backend.list_keys(key)
            if k != f"{key}/{_POINTER}" and not k.startswith(f"{key}/{version[:16]}/")
        ]
        self.backend.delete(stale)
        return info

    def delete_tree(self, key: str) -> None:
        self.backend.delete(self.backend.list_keys(key))

    def tree_version(self, key: str) -> str | None:
        """The content version of the current tree at `key`, or None if there is none."""
        try:
            pointer = self.read_json(f"{key}/{_POINTER}")
        except FileNotFoundError:
            return None
        return pointer["version"]

    def read_tree(self, key: str) -> Path:
        """A local folder holding the current version of `key` (downloaded once, if remote)."""
        for _ in range(_READ_ATTEMPTS):
            try:
                pointer = self.read_json(f"{key}/{_POINTER}")
            except FileNotFoundError:
                raise FileNotFoundError(f"no stored tree at {self.uri(key)}") from None
            version = pointer["version"]
            if isinstance(self.backend, LocalBackend):
                return self.backend.path(f"{key}/{version}")
            local = self.cache_dir / key / version
            if local.is_dir():
                return local
            try:
                self._download(key, pointer, local)
                return local
            except FileNotFoundError:
                # A writer published a newer version and pruned this one mid-download:
                # start again from the new pointer. An unchanged pointer means a file is gone.
                if self.tree_version(key) == version:
                    raise
        raise FileNotFoundError(f"{self.uri(key)} changed {_READ_ATTEMPTS} times while read")

    def _download(self, key: str, pointer: dict, local: Path) -> None:
        """Fetch every file of the pointer's version, then move the folder into place."""
        version = pointer["version"]
        local.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{version}-"))
        try:
            for name in pointer["files"]:
                target = (staging / name).resolve()
                if not target.is_relative_to(staging.resolve()):
                    raise ValueError(f"{self.uri(key)} lists a file outside its folder: {name!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                self.backend.get_file(f"{key}/{version}/{name}", target)
            os.replace(staging, local)
        except OSError:
            # Another process published the same version first; its copy is identical. A
            # missing file with no such copy goes up to read_tree.
            shutil.rmtree(staging, ignore_errors=True)
            if not local.is_dir():
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _file_digest(path: Path) -> dict[str, object]:
    return {"size": path.stat().st_size, "sha256": file_sha256(path)}
