"""CPU LoRA training throughput: precision (fp32, bf16 mixed) x LoRA dropout (0, 0.05).

Runs `train_lora`, the function the `lora_adapter` asset calls, on the base model and dataset
that `make demo` stored in $DAGSTER_HOME/llmft-data, with the demo's batch shape, a few steps per
variant, the variants interleaved over several rounds so that a noisy machine affects them
alike. `train_lora` picks bf16 by asking `cpu_computes_bf16()`; to measure both precisions on one
machine this script answers that question itself. bf16 is only meaningful where the CPU has
AVX512-BF16 or AMX (elsewhere it is emulated, and the script says so).

    make demo && .venv/bin/python benchmarks/cpu_train.py --steps 8 --rounds 2

Prints one line per run, then the median tokens/s of each variant and its ratio to the old
default (fp32, dropout 0.05).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from datasets import load_from_disk

from llmft_assets.modeling import training
from llmft_assets.training_data.formats import DatasetFormat

BASELINE = ("fp32", 0.05)


class _NoCheckpoints:
    def latest(self, local_dir: Path) -> Path | None:
        return None

    def save(self, checkpoint: Path) -> None:
        pass


def current_version(asset_dir: Path) -> Path:
    """The folder the artifact store's CURRENT.json pointer names."""
    return asset_dir / json.loads((asset_dir / "CURRENT.json").read_text())["version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    data = Path(os.environ.get("DAGSTER_HOME", ".dagster_home")) / "llmft-data"
    base_dir = current_version(data / "base_model")
    dataset = load_from_disk(str(current_version(data / "training_dataset")))
    native = training.cpu_computes_bf16()
    print(f"cpu computes bf16 natively: {native}; {os.cpu_count()} cores; {args.steps} steps")

    tokens_per_second: dict[tuple[str, float], list[float]] = {}
    for round_number in range(args.rounds):
        for precision in ("fp32", "bf16"):
            for dropout in (0.05, 0.0):
                training.cpu_computes_bf16 = lambda precision=precision: precision == "bf16"
                settings = training.TrainingSettings(
                    max_steps=args.steps,
                    batch_size=4,
                    max_length=320,
                    packing=False,
                    learning_rate=1e-3,
                    lora_dropout=dropout,
                    eval_steps=10**6,
                    save_steps=10**6,
                    max_eval_samples=1,
                )
                with tempfile.TemporaryDirectory() as work_dir:
                    _, report, _ = training.train_lora(
                        base_dir,
                        dataset,
                        DatasetFormat.messages,
                        settings,
                        Path(work_dir),
                        _NoCheckpoints(),
                        log=lambda message: None,
                    )
                rate = report.steady_tokens_per_second
                tokens_per_second.setdefault((precision, dropout), []).append(rate)
                print(
                    f"round {round_number} {precision:4} dropout {dropout:4}: "
                    f"{rate:6.1f} tokens/s steady ({report.tokens_per_second:.1f} overall)",
                    flush=True,
                )

    baseline = statistics.median(tokens_per_second[BASELINE])
    print("median tokens/s, ratio to fp32 + dropout 0.05:")
    for (precision, dropout), rates in tokens_per_second.items():
        median = statistics.median(rates)
        print(f"  {precision:4} dropout {dropout:4}: {median:6.1f}  {median / baseline:.2f}x")


if __name__ == "__main__":
    main()
