"""Where artifact bytes live: a local folder or an S3 bucket (AWS, MinIO, any S3 protocol).

Both backends make every single-object write atomic: a reader sees the old object or the new
one, never a torn file. Keys are POSIX-style relative paths.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Retry throttling, 5xx and dropped connections with backoff for about a minute, so a store
# that restarts mid-run costs time, not data.
_S3_CONFIG = Config(
    retries={"max_attempts": 12, "mode": "standard"},
    connect_timeout=10,
    read_timeout=120,
)


class Backend(Protocol):
    def uri(self, key: str) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, path: Path) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def get_file(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def list_keys(self, folder: str) -> list[str]: ...
    def delete(self, keys: list[str]) -> None: ...


class LocalBackend:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"artifact key escapes the store: {key!r}")
        return path

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def put_file(self, key: str, path: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def get_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def get_file(self, key: str, path: Path) -> None:
        shutil.copyfile(self.path(key), path)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def list_keys(self, folder: str) -> list[str]:
        """Every key below `folder` (recursively), sorted."""
        base = self.path(folder) if folder else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")
        )

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self.path(key)
            path.unlink(missing_ok=True)
            # Folders emptied by the delete go too, as they would on S3.
            for parent in path.parents:
                if parent == self.root or (parent.is_dir() and any(parent.iterdir())):
                    break
                if parent.is_dir():
                    parent.rmdir()


class S3Backend:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        # Credentials come from the standard AWS chain (environment, profile, role), never
        # from configuration, so they stay out of run config and logs.
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None, config=_S3_CONFIG)

    def __reduce__(self) -> tuple[type[S3Backend], tuple[str, str, str | None]]:
        """Sent to a worker process as its settings; the worker makes its own client."""
        return S3Backend, (self.bucket, self.prefix, self.endpoint_url)

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._name(key)}"

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._name(key))

    @contextmanager
    def _missing_raises_file_not_found(self, key: str) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise FileNotFoundError(self.uri(key)) from error
            raise

    def get_bytes(self, key: str) -> bytes:
        with self._missing_raises_file_not_found(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()

    def get_file(self, key: str, path: Path) -> None:
        with self._missing_raises_file_not_found(key):
            self.client.download_file(self.bucket, self._name(key), str(path))

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        with self._missing_raises_file_not_found(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        return int(head["ContentLength"])

    def list_keys(self, folder: str) -> list[str]:
        """Every key below `folder` (recursively), sorted."""
        start = (
            self._name(folder.strip("/")) + "/"
            if folder
            else (f"{self.prefix}/" if self.prefix else "")
        )
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        ):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self._name(k)} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})


def backend_for(root: str, endpoint_url: str | None = None) -> Backend:
    """`s3://bucket/prefix` gives an S3 backend; anything else is a local folder."""
    if root.startswith("s3://"):
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in storage root {root!r}")
        return S3Backend(bucket, prefix, endpoint_url)
    return LocalBackend(Path(root).expanduser())
