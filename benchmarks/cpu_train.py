"""CPU LoRA training throughput: precision (fp32, bf16 mixed) x LoRA dropout (0, 0.05).

Runs `train_lora`, the function the `lora_adapter` asset calls, on the base model and dataset
that `make demo` stored (the artifact store the environment configures, as for the assets),
with the demo's training config, a few steps per variant, the variants interleaved over several
rounds so that a noisy machine affects them alike. Each variant sets `precision` (fp32 or
bf16) instead of the demo's `auto`. bf16 is only meaningful where the CPU has AVX512-BF16 or
AMX (elsewhere it is emulated, and the script says so).

    make demo && DAGSTER_HOME=$PWD/.dagster_home .venv/bin/python benchmarks/cpu_train.py

Prints one line per run, then the median tokens/s of each variant and its ratio to the old
default (fp32, dropout 0.05).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from demo_inputs import demo_inputs

from llmft_assets.modeling.settings import Precision, cpu_computes_bf16
from llmft_assets.modeling.training import WARMUP_STEPS, NoCheckpointSync, train_lora

BASELINE = (Precision.fp32, 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.steps <= WARMUP_STEPS:
        parser.error(f"--steps must exceed the {WARMUP_STEPS} warm-up steps not timed")

    demo = demo_inputs()
    native = cpu_computes_bf16()
    print(f"cpu computes bf16 natively: {native}; {os.cpu_count()} cores; {args.steps} steps")

    tokens_per_second: dict[tuple[Precision, float], list[float]] = {}
    for round_number in range(args.rounds):
        for precision in (Precision.fp32, Precision.bf16):
            for dropout in (0.05, 0.0):
                settings = demo.settings.model_copy(
                    update={
                        "precision": precision,
                        "max_steps": args.steps,
                        "lora_dropout": dropout,
                        "eval_steps": 10**6,
                        "save_steps": 10**6,
                        "max_eval_samples": 1,
                    }
                )
                with tempfile.TemporaryDirectory() as work_dir:
                    _, report, _ = train_lora(
                        demo.base_dir,
                        demo.dataset,
                        demo.fmt,
                        settings,
                        Path(work_dir),
                        NoCheckpointSync(),
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
