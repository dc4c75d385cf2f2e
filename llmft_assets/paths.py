"""Local folders the project uses outside the artifact store."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Derived, re-creatable files: converted tokenizers, downloaded artifacts, converters."""
    return Path(os.environ.get("LLMFT_CACHE_DIR", Path.home() / ".cache" / "llmft")).expanduser()
