"""Files that must not be read as documents, made for real in a temp folder: a FIFO (opening
it for reading blocks until a writer comes), a link to /dev/zero (endless), a link to a FIFO,
a sparse file far over any cap (cheap on disk), a directory named like a document, and a link
to a /proc file that holds more than its reported size (0) says."""

from __future__ import annotations

import os
from pathlib import Path

SPARSE_BYTES = 3 * 1024**3


def make_hostile_files(folder: Path, suffix: str) -> dict[str, Path]:
    """Each hostile kind as `<kind><suffix>` in `folder`, by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        kind: folder / f"{kind}{suffix}"
        for kind in ("fifo", "dev-zero", "link-to-fifo", "sparse", "directory", "proc-file")
    }
    os.mkfifo(paths["fifo"])
    paths["dev-zero"].symlink_to("/dev/zero")
    os.mkfifo(folder / "hidden-fifo")
    paths["link-to-fifo"].symlink_to(folder / "hidden-fifo")
    with open(paths["sparse"], "wb") as file:
        file.truncate(SPARSE_BYTES)
    paths["directory"].mkdir()
    paths["proc-file"].symlink_to("/proc/self/maps")
    return paths
