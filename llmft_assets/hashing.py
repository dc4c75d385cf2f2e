"""Content hashes of files. Standard library only (setup imports it before installing)."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 18  # read 256 KiB at a time: a small, fixed share of any stage's memory


def file_sha256(path: Path, digest: hashlib._Hash | None = None) -> str:
    """SHA-256 of a file; pass `digest` to fold several files into one hash."""
    digest = digest or hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
