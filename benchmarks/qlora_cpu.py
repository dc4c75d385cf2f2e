"""The demo's training with the frozen base in nf4 (QLoRA, bitsandbytes' CPU backend) beside
`none` (plain LoRA), and the two ways to merge the nf4-trained adapter.

Runs `train_lora`, the function the `lora_adapter` asset calls, on the base model and dataset
that `make demo` stored, with the demo's training settings (`cpu_demo.yaml`: 80 steps of 4,
evaluation every 20) and no checkpoints stored; each quantization trains in a process of its
own, so each peak RSS is its own. The nf4 adapter is then merged twice and scored on the same
validation sequences, as merged float16 weights and as a Q4_K_M GGUF: onto the 16-bit base
(what `merged_model` does) and onto the base's dequantized NF4 weights (what the adapter was
trained against).

    make demo && DAGSTER_HOME=$PWD/.dagster_home .venv/bin/python benchmarks/qlora_cpu.py

Prints one line per training run and a perplexity table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from demo_inputs import demo_inputs
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from llmft_assets.export.gguf import convert_to_f16, quantize
from llmft_assets.modeling.evaluation import EvalSequences, gguf_perplexity, hf_perplexity
from llmft_assets.modeling.merge import merge_adapter
from llmft_assets.modeling.settings import Quantization
from llmft_assets.modeling.training import NoCheckpointSync, TrainingReport, train_lora


def train(quantization: Quantization, steps: int, out_dir: Path) -> None:
    """One training run; its adapter, report and validation sequences in `out_dir`."""
    demo = demo_inputs()
    settings = demo.settings.model_copy(update={"quantization": quantization, "max_steps": steps})
    adapter_dir, report, sequences = train_lora(
        demo.base_dir, demo.dataset, demo.fmt, settings, out_dir, NoCheckpointSync()
    )
    (out_dir / "report.json").write_text(report.to_json())
    (out_dir / "sequences.json").write_text(sequences.to_json())
    assert adapter_dir == out_dir / "adapter"


def merged_onto_dequantized_nf4(base_dir: Path, adapter_dir: Path) -> torch.nn.Module:
    """The adapter merged onto the NF4 weights it was trained against, dequantized to fp32."""
    from transformers import BitsAndBytesConfig

    nf4 = AutoModelForCausalLM.from_pretrained(
        base_dir,
        dtype=torch.float32,
        device_map={"": "cpu"},
        quantization_config=BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32,
        ),
    )
    dequantized = nf4.dequantize().to(torch.float32)
    merged = PeftModel.from_pretrained(dequantized, adapter_dir).merge_and_unload()
    return merged.to(torch.float16).to(torch.float32)  # saved as float16, as merged_model does


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument(
        "--work", type=Path, help="keep runs here; a run whose report is there is not repeated"
    )
    parser.add_argument("--train", choices=[q.value for q in Quantization], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train:
        train(Quantization(args.train), args.steps, args.out)
        return

    demo = demo_inputs()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        runs: dict[Quantization, Path] = {}
        for quantization in (Quantization.none, Quantization.nf4):
            out = work / quantization.value
            if not (out / "report.json").exists():
                command = [sys.executable, __file__, "--steps", str(args.steps)]
                subprocess.run(
                    [*command, "--train", quantization.value, "--out", str(out)],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            runs[quantization] = out
            report = TrainingReport.from_json((out / "report.json").read_text())
            print(
                f"{quantization.value:4}: {report.steps} steps, {report.train_seconds:.0f} s, "
                f"{report.tokens_per_second:.1f} tokens/s ({report.steady_tokens_per_second:.1f}"
                f" steady), peak RSS {report.peak_memory_mib / 1024:.2f} GiB, "
                f"{report.hardware.precision}, optimizer {report.hardware.optimizer}, "
                f"perplexity {report.base_perplexity:.3f} -> {report.fine_tuned_perplexity:.3f}",
                flush=True,
            )

        nf4 = runs[Quantization.nf4]
        report = TrainingReport.from_json((nf4 / "report.json").read_text())
        sequences = EvalSequences.from_json((nf4 / "sequences.json").read_text())
        base = AutoModelForCausalLM.from_pretrained(demo.base_dir, dtype=torch.float32)
        onto_16bit_dir, onto_nf4_dir = work / "merged-16bit", work / "merged-nf4"
        parity = merge_adapter(demo.base_dir, nf4 / "adapter", onto_16bit_dir)
        onto_16bit = AutoModelForCausalLM.from_pretrained(onto_16bit_dir, dtype=torch.float32)
        onto_nf4 = merged_onto_dequantized_nf4(demo.base_dir, nf4 / "adapter")
        onto_nf4.to(torch.float16).save_pretrained(onto_nf4_dir)
        AutoTokenizer.from_pretrained(nf4 / "adapter").save_pretrained(onto_nf4_dir)
        rows = [
            ("base, 16-bit", hf_perplexity(base, sequences)),
            ("base, nf4", report.base_perplexity),
            ("base nf4 + adapter (what trained)", report.fine_tuned_perplexity),
            ("merged onto the 16-bit base (float16)", hf_perplexity(onto_16bit, sequences)),
            ("merged onto dequantized nf4 (float16)", hf_perplexity(onto_nf4, sequences)),
        ]
        for name, folder in (("16-bit", onto_16bit_dir), ("dequantized nf4", onto_nf4_dir)):
            f16 = convert_to_f16(folder, work / f"{folder.name}.f16.gguf")
            q4 = quantize(f16, work / f"{folder.name}.Q4_K_M.gguf", "Q4_K_M")
            rows.append((f"  its GGUF Q4_K_M (merged onto {name})", gguf_perplexity(q4, sequences)))
        print(f"nf4 adapter, {sequences.scored_tokens} validation tokens:")
        for name, perplexity in rows:
            print(f"  {name:40} {perplexity:8.3f}")
        print("merge onto 16-bit, parity with 16-bit base + adapter:", json.dumps(vars(parity)))


if __name__ == "__main__":
    main()
