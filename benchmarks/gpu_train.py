"""QLoRA training throughput on one GPU: llmft's own training path beside Unsloth and the
seed projects' way, in the same run, on the same model shape and documents.

"llmft" is `train_lora`, the function the `lora_adapter` asset calls, on a randomly
initialised Llama-shape model (throughput does not depend on weight values) with a word-level
tokenizer whose tokens are `t<id>`, so documents of exactly 200..max_len tokens can be written
as text. Default settings (micro-batch and checkpointing chosen from free memory) and a lean
setting (`max_memory_gib=20`) are measured. The peers run from the shared baseline scripts
(`--peers DIR`, the folder holding gpu_qlora_throughput.py and unsloth_qlora_throughput.py,
with Unsloth's wheels installed under --unsloth-site). Each variant runs in its own process.

    python benchmarks/gpu_train.py --arch llama3-8b --peers ../shared/bench --unsloth-site /tmp/su

Prints a table and a last line:
ours=<tok/s> unsloth_best=<tok/s> ratio_vs_unsloth=<r> lean_ours=<tok/s> lean_peak_gib=<g>
lean_ratio_vs_unsloth=<r> ratio_vs_seed=<r>
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ARCHS = {  # hidden, layers, heads, kv heads, intermediate, vocab
    "llama3.2-1b": (2048, 16, 32, 8, 8192, 128256),
    "llama3.2-3b": (3072, 28, 24, 8, 8192, 128256),
    "llama3-8b": (4096, 32, 32, 8, 14336, 128256),
}
H100_BF16_FLOPS = 989e12
UNSLOTH_BEST, UNSLOTH_LEAN = "packed_bs8_nogc", "packed_bs8_gc"  # best overall, best <= 20 GiB


def make_model(arch: str, folder: Path) -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    hidden, layers, heads, kv, intermediate, vocab = ARCHS[arch]
    config = LlamaConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        intermediate_size=intermediate,
        vocab_size=vocab,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer = Tokenizer(models.WordLevel({f"t{i}": i for i in range(vocab)}, unk_token="t3"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="t0", eos_token="t1", pad_token="t2", unk_token="t3"
    ).save_pretrained(folder)


def documents(vocab: int, max_len: int, count: int = 4000) -> list[str]:
    """Documents of 200..max_len tokens, as blog posts and book chunks are (seed 0)."""
    rng = random.Random(0)
    lengths = [rng.randint(200, max_len) for _ in range(count)]
    return [" ".join(f"t{rng.randrange(4, vocab)}" for _ in range(n - 1)) for n in lengths]


def run_ours(folder: Path, arch: str, steps: int, max_len: int, lean: bool) -> dict:
    import torch
    from datasets import Dataset, DatasetDict

    from llmft_assets.modeling.settings import TrainingSettings
    from llmft_assets.modeling.training import WARMUP_STEPS, NoCheckpointSync, train_lora
    from llmft_assets.training_data.formats import DatasetFormat

    texts = documents(ARCHS[arch][5], max_len)
    dataset = DatasetDict(
        {
            "train": Dataset.from_dict({"text": texts}),
            "validation": Dataset.from_dict({"text": texts[:2]}),
        }
    )
    settings = TrainingSettings(
        lora_r=16,
        lora_alpha=16,
        lora_dropout=0.0,
        learning_rate=2e-4,
        max_steps=WARMUP_STEPS + steps,
        max_length=max_len,
        packing=True,
        eval_steps=10**6,
        save_steps=10**6,
        max_eval_samples=2,
        warmup_ratio=0.0,
        max_memory_gib=20.0 if lean else None,
    )

    with tempfile.TemporaryDirectory() as tmp:
        _, report, _ = train_lora(
            folder,
            dataset,
            DatasetFormat.completion,
            settings,
            Path(tmp),
            NoCheckpointSync(),
            log=lambda m: print(m, file=sys.stderr),
        )
    return {
        "useful_tok_s": round(report.steady_tokens_per_second),
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1),
        "batch": report.batch_size,
        "checkpointing": report.gradient_checkpointing,
        "attention": report.hardware.attention,
        "fused_loss": report.hardware.fused_loss,
    }


def flops_per_token(arch: str, max_len: int) -> float:
    hidden, layers, heads, kv, intermediate, vocab = ARCHS[arch]
    kv_dim = kv * hidden // heads
    per_layer = 2 * hidden * hidden + 2 * hidden * kv_dim + 3 * hidden * intermediate
    return 6 * (layers * per_layer + hidden * vocab) + 12 * layers * hidden * max_len // 2


def run_peer(
    script: Path, variant: str, folder: Path, steps: int, max_len: int, site: str | None, attn: str
) -> dict:
    env = dict(os.environ)
    if site:
        env["PYTHONPATH"] = site + os.pathsep + env.get("PYTHONPATH", "")
        env["HF_HUB_OFFLINE"] = "1"
    command = [
        sys.executable,
        str(script),
        "run",
        "--dir",
        str(folder),
        "--variant",
        variant,
        "--steps",
        str(steps),
        "--max-len",
        str(max_len),
    ]
    if "gpu_qlora" in script.name:
        command += ["--attn", attn]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"error": (result.stderr or result.stdout)[-800:]}
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="llama3-8b")
    parser.add_argument("--peers", type=Path, required=True)
    parser.add_argument("--unsloth-site", help="PYTHONPATH entry with Unsloth's own stack")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seed-steps", type=int, default=40, help="the seed way is noisy")
    parser.add_argument("--max-len", type=int, default=2048)
    parser.add_argument(
        "--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "llmft-bench"
    )
    parser.add_argument("--only", choices=["ours", "lean"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.model_dir / args.arch
    if args.only:  # a child process: one of our variants
        print(
            "RESULT "
            + json.dumps(run_ours(folder, args.arch, args.steps, args.max_len, args.only == "lean"))
        )
        return
    if not (folder / "config.json").is_file():
        make_model(args.arch, folder)

    rows: dict[str, dict] = {}
    for name in ("ours", "lean"):
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--only", name],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        found = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
        rows[f"llmft {name}"] = (
            json.loads(found[-1][7:]) if found else {"error": child.stderr[-800:]}
        )
    unsloth = args.peers / "unsloth_qlora_throughput.py"
    for variant in (UNSLOTH_BEST, UNSLOTH_LEAN):
        rows[f"unsloth {variant}"] = run_peer(
            unsloth, variant, folder, args.steps, args.max_len, args.unsloth_site, "sdpa"
        )
    rows["seed-style TRL"] = run_peer(
        args.peers / "gpu_qlora_throughput.py",
        "seed",
        folder,
        args.seed_steps,
        args.max_len,
        None,
        "sdpa",
    )

    flops = flops_per_token(args.arch, args.max_len)
    print(f"\n{args.arch}, max length {args.max_len}, useful tokens/s after warm-up")
    print("variant | useful tok/s | peak GiB | MFU (6N) | settings")
    for name, row in rows.items():
        if "error" in row:
            print(f"{name} | ERROR | | | {row['error'][-200:]!r}")
            continue
        settings = {k: row[k] for k in ("batch", "checkpointing", "attention") if k in row}
        mfu = row["useful_tok_s"] * flops / H100_BF16_FLOPS
        print(f"{name} | {row['useful_tok_s']} | {row['peak_gib']} | {mfu:.2f} | {settings}")
    speed = {name: row.get("useful_tok_s", 0) for name, row in rows.items()}
    best, lean = speed[f"unsloth {UNSLOTH_BEST}"], speed[f"unsloth {UNSLOTH_LEAN}"]
    ratio = lambda a, b: f"{a / b:.3f}" if b else "nan"  # noqa: E731
    print(
        f"ours={speed['llmft ours']} unsloth_best={best} "
        f"ratio_vs_unsloth={ratio(speed['llmft ours'], best)} lean_ours={speed['llmft lean']} "
        f"lean_peak_gib={rows['llmft lean'].get('peak_gib', 'nan')} "
        f"lean_ratio_vs_unsloth={ratio(speed['llmft lean'], lean)} "
        f"ratio_vs_seed={ratio(speed['llmft ours'], speed['seed-style TRL'])}"
    )


if __name__ == "__main__":
    main()
