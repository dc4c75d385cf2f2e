"""Trainer checkpoints go to the artifact store without a pickle, and come back as the trainer's
own files, loadable with the weights-only loader."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from transformers.trainer_pt_utils import safe_globals

from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import LocalBackend, S3Backend
from llmft_assets.storage.checkpoints import StoreCheckpoints
from llmft_assets_tests.storage.test_tensor_tree import assert_same

PREFIX = "runs/abc/checkpoints"
PICKLES = ("optimizer.pt", "rng_state.pth", "scheduler.pt")
KEPT_AS_IS = ("adapter_model.safetensors", "adapter_config.json", "trainer_state.json")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return request.getfixturevalue("local_store")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return ArtifactStore(S3Backend(bucket, "artifacts", endpoint), tmp_path / "s3-cache")


def _load(path: Path) -> Any:
    with safe_globals():
        return torch.load(path, map_location="cpu", weights_only=True)


def write_checkpoint(root: Path, step: int) -> Path:
    """A checkpoint folder laid out as transformers' Trainer writes one for a PEFT model."""
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    torch.manual_seed(step)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 / (s + 1))
    for _ in range(step):
        model(torch.randn(3, 4)).sum().backward()
        optimizer.step()
        scheduler.step()
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(scheduler.state_dict(), folder / "scheduler.pt")
    random.seed(step)
    np.random.seed(step)
    rng = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "cpu": torch.random.get_rng_state(),
    }
    torch.save(rng, folder / "rng_state.pth")
    torch.save({"output_dir": str(root), "learning_rate": 1e-3}, folder / "training_args.bin")
    save_file(
        {"base_model.model.lora_A.weight": torch.randn(2, 4) * step},
        str(folder / "adapter_model.safetensors"),
    )
    (folder / "adapter_config.json").write_text(json.dumps({"r": 2, "lora_alpha": 4}))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def _stored_names(store: ArtifactStore, step: int) -> list[str]:
    keys = store.list_keys(f"{PREFIX}/checkpoint-{step}")
    return sorted(k.rsplit("/", 1)[-1] for k in keys)


def test_save_stores_no_pickle_and_not_the_training_args(
    store: ArtifactStore, tmp_path: Path
) -> None:
    checkpoint = write_checkpoint(tmp_path / "trainer", 2)
    before = sorted(p.name for p in checkpoint.iterdir())
    StoreCheckpoints(store, PREFIX).save(checkpoint)

    names = _stored_names(store, 2)
    assert not [n for n in names if n.endswith((".pt", ".pth", ".bin"))]
    assert "training_args.bin" not in names
    assert {n.rsplit(".", 1)[-1] for n in names} == {"json", "safetensors"}
    expected = {f"{p}.json" for p in PICKLES} | {f"{p}.safetensors" for p in PICKLES}
    assert expected | set(KEPT_AS_IS) | {"CURRENT.json"} == set(names)
    # The trainer's own folder is left as it was: the conversion works on a copy.
    assert sorted(p.name for p in checkpoint.iterdir()) == before


def test_latest_rebuilds_the_trainer_files(store: ArtifactStore, tmp_path: Path) -> None:
    checkpoint = write_checkpoint(tmp_path / "trainer", 3)
    checkpoints = StoreCheckpoints(store, PREFIX)
    checkpoints.save(checkpoint)
    stored_keys = store.list_keys(PREFIX)

    restored = checkpoints.latest(tmp_path / "resume")
    assert restored == tmp_path / "resume" / "checkpoint-3"
    assert sorted(p.name for p in restored.iterdir()) == sorted((*PICKLES, *KEPT_AS_IS))
    for name in PICKLES:
        assert_same(_load(restored / name), _load(checkpoint / name), name)
    for name in KEPT_AS_IS:
        assert (restored / name).read_bytes() == (checkpoint / name).read_bytes()
    # Rebuilding happened in the local copy, never in the store.
    assert store.list_keys(PREFIX) == stored_keys

    # A stale local copy of the same checkpoint is replaced, not merged into.
    (restored / "optimizer.pt").write_bytes(b"garbage")
    (restored / "leftover.txt").write_text("x")
    again = checkpoints.latest(tmp_path / "resume")
    assert not (again / "leftover.txt").exists()
    assert_same(_load(again / "optimizer.pt"), _load(checkpoint / "optimizer.pt"))


def test_keep_deletes_the_oldest_and_steps_sort_by_number(
    store: ArtifactStore, tmp_path: Path
) -> None:
    checkpoints = StoreCheckpoints(store, PREFIX, keep=2)
    for step in (2, 4, 9):
        checkpoints.save(write_checkpoint(tmp_path / "trainer", step))
    assert checkpoints.steps() == [4, 9]
    assert store.list_keys(f"{PREFIX}/checkpoint-2") == []

    checkpoints.save(write_checkpoint(tmp_path / "trainer", 10))  # "10" < "9" as text
    assert checkpoints.steps() == [9, 10]
    restored = checkpoints.latest(tmp_path / "resume")
    assert restored is not None and restored.name == "checkpoint-10"
    assert json.loads((restored / "trainer_state.json").read_text()) == {"global_step": 10}


def test_steps_ignore_other_keys_under_the_prefix(local_store: ArtifactStore, tmp_path: Path):
    checkpoints = StoreCheckpoints(local_store, PREFIX, keep=5)
    checkpoints.save(write_checkpoint(tmp_path / "trainer", 7))
    local_store.write_bytes(f"{PREFIX}/notes.txt", b"not a checkpoint")
    local_store.write_bytes(f"{PREFIX}/checkpoint-99/partial.bin", b"no pointer: not published")
    assert checkpoints.steps() == [7]


def test_latest_is_none_when_nothing_is_stored(store: ArtifactStore, tmp_path: Path) -> None:
    checkpoints = StoreCheckpoints(store, PREFIX)
    assert checkpoints.steps() == []
    assert checkpoints.latest(tmp_path / "resume") is None
    assert not (tmp_path / "resume").exists()


def test_clear_removes_every_checkpoint_and_nothing_else(
    store: ArtifactStore, tmp_path: Path
) -> None:
    store.write_bytes("runs/abc/adapter.json", b"{}")
    checkpoints = StoreCheckpoints(store, PREFIX, keep=3)
    for step in (1, 2, 3):
        checkpoints.save(write_checkpoint(tmp_path / "trainer", step))
    assert checkpoints.steps() == [1, 2, 3]
    checkpoints.clear()
    assert checkpoints.steps() == []
    assert store.list_keys(PREFIX) == []
    assert checkpoints.latest(tmp_path / "resume") is None
    assert store.read_bytes("runs/abc/adapter.json") == b"{}"


def test_two_runs_do_not_see_each_others_checkpoints(tmp_path: Path) -> None:
    store = ArtifactStore(LocalBackend(tmp_path / "store"), tmp_path / "cache")
    first = StoreCheckpoints(store, "runs/first/checkpoints")
    second = StoreCheckpoints(store, "runs/second/checkpoints")
    first.save(write_checkpoint(tmp_path / "trainer", 4))
    assert second.steps() == []
    assert second.latest(tmp_path / "resume") is None
    second.clear()
    assert first.steps() == [4]


def test_a_job_is_its_settings_on_the_current_versions_of_its_inputs(
    local_store: ArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "weights").write_text("v1")
    local_store.write_tree("base", tmp_path / "base")
    job = StoreCheckpoints.for_job(local_store, "checkpoints", "settings-a", ["base", "data"])
    job.save(write_checkpoint(tmp_path / "trainer", 2))

    # The same settings on the same inputs: the same job, which resumes.
    again = StoreCheckpoints.for_job(local_store, "checkpoints", "settings-a", ["base", "data"])
    assert again.prefix == job.prefix and again.prefix.startswith("checkpoints/")
    assert again.steps() == [2]
    # Other settings, or a new version of an input: another job, which starts afresh.
    other = StoreCheckpoints.for_job(local_store, "checkpoints", "settings-b", ["base", "data"])
    assert other.steps() == []
    (tmp_path / "base" / "weights").write_text("v2")
    local_store.write_tree("base", tmp_path / "base")
    newer = StoreCheckpoints.for_job(local_store, "checkpoints", "settings-a", ["base", "data"])
    assert newer.steps() == []
    assert len({job.prefix, other.prefix, newer.prefix}) == 3
