"""Data-parallel LoRA training over several processes (one per GPU), launched with torchrun.

The asset process writes the job to a JSON file, fetches the latest stored checkpoint (so every
rank resumes from the same local copy) and starts `torchrun`; each rank runs `train_lora`.
Only rank 0 stores checkpoints and writes the adapter, report and validation sequences, which
the asset process then reads back. On CPU the ranks talk over gloo, which is how the tests run
it; on GPUs over NCCL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from datasets import load_from_disk

from llmft_assets.modeling.evaluation import EvalSequences
from llmft_assets.modeling.training import (
    CHECKPOINT_PREFIX,
    CheckpointSync,
    TrainingReport,
    TrainingSettings,
    train_lora,
)
from llmft_assets.paths import cache_dir
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import backend_for
from llmft_assets.storage.checkpoints import StoreCheckpoints
from llmft_assets.training_data.formats import DatasetFormat

_JOB, _REPORT, _SEQUENCES = "job.json", "report.json", "eval_sequences.json"


@dataclass(frozen=True)
class DistributedJob:
    base_dir: str
    dataset_dir: str
    format: str
    settings: dict
    store_root: str
    store_endpoint: str | None
    checkpoint_prefix: str


def train_distributed(
    job: DistributedJob, processes: int, work_dir: Path, log: Callable[[str], None] = print
) -> tuple[Path, TrainingReport, EvalSequences]:
    """Run `train_lora` in `processes` ranks; the same results as `train_lora` returns."""
    (work_dir / _JOB).write_text(json.dumps(asdict(job)))
    StoreCheckpoints(_store(job), job.checkpoint_prefix).latest(work_dir / "trainer")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "llmft_assets.modeling.distributed",
        str(work_dir),
    ]
    log(f"launching {processes} training processes: {' '.join(command[1:])}")
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout:
            log(line.rstrip())
    if process.returncode != 0:
        raise RuntimeError(f"distributed training failed (torchrun exit {process.returncode})")
    report = TrainingReport(**json.loads((work_dir / _REPORT).read_text()))
    sequences = EvalSequences.from_json((work_dir / _SEQUENCES).read_text())
    return work_dir / "adapter", report, sequences


class _RankCheckpoints:
    """Every rank resumes from the checkpoint fetched before launch; new ones are stored by
    the trainer's world-process-zero only (see train_lora)."""

    def __init__(self, store: StoreCheckpoints) -> None:
        self.store = store

    def latest(self, local_dir: Path) -> Path | None:
        found = sorted(
            local_dir.glob(f"{CHECKPOINT_PREFIX}*"),
            key=lambda p: int(p.name.removeprefix(CHECKPOINT_PREFIX)),
        )
        return found[-1] if found else None

    def save(self, checkpoint: Path) -> None:
        self.store.save(checkpoint)


def _store(job: DistributedJob) -> ArtifactStore:
    return ArtifactStore(backend_for(job.store_root, job.store_endpoint), cache_dir() / "store")


def _rank_main(work_dir: Path) -> None:
    job = DistributedJob(**json.loads((work_dir / _JOB).read_text()))
    rank = int(os.environ["RANK"])
    settings = TrainingSettings(
        **{**job.settings, "target_modules": tuple(job.settings["target_modules"])}
    )
    checkpoints: CheckpointSync = _RankCheckpoints(
        StoreCheckpoints(_store(job), job.checkpoint_prefix)
    )
    _, report, sequences = train_lora(
        Path(job.base_dir),
        load_from_disk(job.dataset_dir),
        DatasetFormat(job.format),
        settings,
        work_dir,
        checkpoints,
        log=lambda message: print(f"[rank {rank}] {message}", flush=True),
    )
    if rank == 0:
        (work_dir / _REPORT).write_text(json.dumps(asdict(report)))
        (work_dir / _SEQUENCES).write_text(sequences.to_json())


if __name__ == "__main__":
    _rank_main(Path(sys.argv[1]))
