"""The one way a local file is read, by every source and by `python -m llmft_assets clean`.

Only regular files are opened: a FIFO would block the open forever, a device such as
/dev/zero never ends, a directory is no document, and a link to one of them is the same
thing. The cap bounds the bytes actually read (at most one past it), not the size the file
reports, which can lie (/proc files say 0, a file can grow while it is read); a deadline
stops a read whose bytes trickle in, checked between blocks.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import BinaryIO

from llmft_assets.errors import DocumentError
from llmft_assets.sources.policy import FetchPolicy

_BLOCK_BYTES = 1024 * 1024
_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_file(path: Path, policy: FetchPolicy) -> bytes:
    """The bytes of the regular file at `path` (links followed).

    Raises DocumentError for anything but a regular file, and for one over the policy's cap
    or deadline; OSError when it cannot be read at all (missing, no permission).
    """
    status = os.stat(path)
    _require_regular_file(status.st_mode)
    if status.st_size > policy.max_bytes:
        raise DocumentError(f"{status.st_size} bytes, over the {policy.max_bytes}-byte cap")
    # O_NONBLOCK: should a FIFO have taken the file's place since the stat, opening it
    # returns at once, and the fstat below refuses it.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb", buffering=0) as file:
        _require_regular_file(os.fstat(descriptor).st_mode)
        return _read_bounded(file, policy)


def _require_regular_file(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    what = next((name for test, name in _FILE_TYPES if test(mode)), "not a regular file")
    raise DocumentError(f"{what}, not a regular file: only regular files are read")


def _read_bounded(file: BinaryIO, policy: FetchPolicy) -> bytes:
    data = bytearray()
    started = time.monotonic()
    while len(data) <= policy.max_bytes:
        block = file.read(min(_BLOCK_BYTES, policy.max_bytes + 1 - len(data)))
        if not block:
            return bytes(data)
        data += block
        if time.monotonic() - started > policy.deadline_s:
            raise DocumentError(f"reading took over the {policy.deadline_s:g} s deadline")
    raise DocumentError(f"more than {policy.max_bytes} bytes, over the {policy.max_bytes}-byte cap")
