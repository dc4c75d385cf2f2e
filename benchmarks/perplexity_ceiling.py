"""How far below the base model's can the demo's validation perplexity go? A ceiling.

The demo validates on documents it never trained on. This script asks what the same training
would reach if it had seen those documents too: the validation documents' chunks are split by
position, odd chunks held out, and two adapters are trained with the demo's settings and
scored on the same held-out chunks (every one of them, not a sample):

- `demo split`: the demo's training split, no chunk of a validation document;
- `ceiling`: only the even chunks of the validation documents, so every step trains on the
  very documents scored, and each held-out chunk's neighbours are seen several times (the
  demo's 80 steps of 4 pass over them about three times).

If even the ceiling stays far from a target ratio, the target is out of reach for this base
model and budget whatever the split.

    make demo && DAGSTER_HOME=$PWD/.dagster_home .venv/bin/python benchmarks/perplexity_ceiling.py

Prints, for each variant, the base and fine-tuned perplexity on the held-out chunks and their
ratio. About 17 minutes on 2 cores (16 min 44 s measured on 2026-11-28).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from datasets import DatasetDict
from demo_inputs import demo_inputs

from llmft_assets.modeling.training import NoCheckpointSync, train_lora
from llmft_assets.training_data.build import TRAIN, VALIDATION


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, help="training steps (default: the demo's)")
    args = parser.parse_args()

    demo = demo_inputs()
    validation = demo.dataset[VALIDATION]
    held_out = validation.filter(lambda record: record["position"] % 2 == 1)
    neighbours = validation.filter(lambda record: record["position"] % 2 == 0)
    settings = demo.settings.model_copy(
        update={
            "max_steps": args.steps or demo.settings.max_steps,
            "eval_steps": 10**6,
            "save_steps": 10**6,
            "max_eval_samples": len(held_out),
        }
    )
    variants = {
        "demo split": demo.dataset[TRAIN],
        "ceiling": neighbours,
    }
    print(
        f"{settings.max_steps} steps; held out: {len(held_out)} chunks of "
        f"{len(set(held_out['doc_id']))} validation documents; "
        f"the ceiling trains on their {len(neighbours)} other chunks",
        flush=True,
    )
    for name, train in variants.items():
        splits = DatasetDict({TRAIN: train, VALIDATION: held_out})
        with tempfile.TemporaryDirectory() as work_dir:
            _, report, _ = train_lora(
                demo.base_dir,
                splits,
                demo.fmt,
                settings,
                Path(work_dir),
                NoCheckpointSync(),
                log=lambda message: None,
            )
        print(
            f"{name:10}: base {report.base_perplexity:.2f}, fine-tuned "
            f"{report.fine_tuned_perplexity:.2f}, "
            f"{report.fine_tuned_perplexity / report.base_perplexity:.3f}x "
            f"({report.eval_tokens} scored tokens, {report.train_tokens} trained)",
            flush=True,
        )


if __name__ == "__main__":
    main()
