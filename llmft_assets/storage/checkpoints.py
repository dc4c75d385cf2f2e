"""Training checkpoints in the artifact store, so they outlive the machine that trained.

Each checkpoint the trainer writes is stored as a tree (pickled optimizer, scheduler and RNG
state converted to safetensors + JSON on the way), and only the newest few are kept. On a
re-run, the newest is fetched and turned back into the trainer's own files to resume from.
Checkpoints belong to one training job, `for_job`: the same settings on the same stored
inputs, so a re-run resumes only a run that would train the very same thing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.tensor_tree import pickle_to_safe, safe_to_pickle

_STEP = re.compile(r"checkpoint-(\d+)/CURRENT\.json$")
_PICKLES = ("*.pt", "*.pth")
_NOT_STORED = ("training_args.bin",)  # a pickle of arguments we record elsewhere


class StoreCheckpoints:
    def __init__(self, store: ArtifactStore, prefix: str, keep: int = 2) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.store = store
        self.prefix = prefix
        self.keep = keep

    @classmethod
    def for_job(
        cls, store: ArtifactStore, folder: str, settings_fingerprint: str, inputs: Sequence[str]
    ) -> StoreCheckpoints:
        """The checkpoints, under `folder`, of training with these settings on the current
        versions of the stored trees `inputs` (base model, dataset)."""
        versions = [store.tree_version(key) or "" for key in inputs]
        job = hashlib.sha256("|".join([settings_fingerprint, *versions]).encode()).hexdigest()
        return cls(store, f"{folder}/{job[:16]}")

    def steps(self) -> list[int]:
        keys = self.store.list_keys(self.prefix)
        return sorted(int(m.group(1)) for k in keys if (m := _STEP.search(k)))

    def latest(self, local_dir: Path) -> Path | None:
        steps = self.steps()
        if not steps:
            return None
        name = f"checkpoint-{steps[-1]}"
        target = local_dir / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.store.read_tree(f"{self.prefix}/{name}"), target)
        for converted in [*target.glob("*.pt.json"), *target.glob("*.pth.json")]:
            safe_to_pickle(converted)
        return target

    def save(self, checkpoint: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            staging = Path(tmp) / checkpoint.name
            shutil.copytree(checkpoint, staging, ignore=shutil.ignore_patterns(*_NOT_STORED))
            for pattern in _PICKLES:
                for path in staging.glob(pattern):
                    pickle_to_safe(path)
            self.store.write_tree(f"{self.prefix}/{checkpoint.name}", staging)
        for step in self.steps()[: -self.keep]:
            self.store.delete_tree(f"{self.prefix}/checkpoint-{step}")

    def clear(self) -> None:
        """Forget every checkpoint, once training has finished."""
        for step in self.steps():
            self.store.delete_tree(f"{self.prefix}/checkpoint-{step}")
