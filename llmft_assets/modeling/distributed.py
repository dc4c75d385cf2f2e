"""Data-parallel LoRA training over several processes (one per GPU), launched with torchrun.

`train_distributed` trains a `TrainingJob` (the dataset as its saved folder). It fetches
the latest stored checkpoint into the shared work folder (so every rank resumes from the same
local copy), writes the job to a JSON file and starts `torchrun`; each rank runs `train_lora`.
The ranks never see the checkpoint store: rank 0, the only one that saves, copies each new
checkpoint into an outbox and names it on its output, and this process, reading that output,
stores it. Rank 0 also writes the adapter, report and validation sequences, read back here.
On CPU the ranks talk over gloo, which is how the tests run it; on GPUs over NCCL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from llmft_assets.modeling.evaluation import EvalSequences
from llmft_assets.modeling.settings import TrainingSettings
from llmft_assets.modeling.training import (
    CHECKPOINT_PREFIX,
    CheckpointSync,
    Log,
    TrainingJob,
    TrainingReport,
    train_lora,
)
from llmft_assets.training_data.formats import DatasetFormat

_JOB, _REPORT, _SEQUENCES, _OUTBOX = "job.json", "report.json", "eval_sequences.json", "outbox"
_CHECKPOINT_READY = "checkpoint ready: "


def train_distributed(
    job: TrainingJob, work_dir: Path, checkpoints: CheckpointSync, log: Log = print
) -> tuple[Path, TrainingReport, EvalSequences]:
    """Run `train_lora` on the job in `job.settings.processes` ranks; what `train_lora` returns."""
    processes = job.settings.processes
    spec = {
        "base_dir": str(job.base_dir),
        "dataset_dir": str(job.dataset_dir),
        "format": job.format.value,
        "settings": job.settings.model_dump(mode="json"),
    }
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / _JOB).write_text(json.dumps(spec))
    checkpoints.latest(work_dir / "trainer")
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
            _, ready, folder = line.rstrip("\n").partition(_CHECKPOINT_READY)
            if ready:
                checkpoints.save(Path(folder))
                shutil.rmtree(folder)
            else:
                log(line.rstrip())
    if process.returncode != 0:
        raise RuntimeError(f"distributed training failed (torchrun exit {process.returncode})")
    report = TrainingReport.from_json((work_dir / _REPORT).read_text())
    sequences = EvalSequences.from_json((work_dir / _SEQUENCES).read_text())
    return work_dir / "adapter", report, sequences


class _OutboxCheckpoints:
    """A rank's CheckpointSync: resume from the checkpoint fetched before launch; hand each
    new one to the launching process, which stores it."""

    def __init__(self, work_dir: Path) -> None:
        self.outbox = work_dir / _OUTBOX

    def latest(self, local_dir: Path) -> Path | None:
        found = sorted(
            local_dir.glob(f"{CHECKPOINT_PREFIX}*"),
            key=lambda p: int(p.name.removeprefix(CHECKPOINT_PREFIX)),
        )
        return found[-1] if found else None

    def save(self, checkpoint: Path) -> None:
        # A copy, because the trainer deletes old checkpoints while the launcher may still be
        # storing one; renamed into place, so the launcher never sees half of it.
        staging = self.outbox / f".{checkpoint.name}"
        shutil.copytree(checkpoint, staging)
        handed_over = staging.rename(self.outbox / checkpoint.name)
        print(f"{_CHECKPOINT_READY}{handed_over}", flush=True)


def _rank_main(work_dir: Path) -> None:
    from datasets import load_from_disk

    spec = json.loads((work_dir / _JOB).read_text())
    rank = int(os.environ["RANK"])
    _, report, sequences = train_lora(
        Path(spec["base_dir"]),
        load_from_disk(spec["dataset_dir"]),
        DatasetFormat(spec["format"]),
        TrainingSettings.model_validate(spec["settings"]),
        work_dir,
        _OutboxCheckpoints(work_dir),
        log=lambda message: print(f"[rank {rank}] {message}", flush=True),
    )
    if rank == 0:
        (work_dir / _REPORT).write_text(report.to_json())
        (work_dir / _SEQUENCES).write_text(sequences.to_json())


if __name__ == "__main__":
    _rank_main(Path(sys.argv[1]))
