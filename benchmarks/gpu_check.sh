#!/usr/bin/env bash
# Everything that needs a CUDA GPU, in one call on a machine that has one: the gpu-marked tests
# (QLoRA through train_lora, the memory planner, flex attention with packing), then the GPU
# training benchmark with the arguments given, e.g.
#   benchmarks/gpu_check.sh --arch llama3.2-1b --peers ../shared/bench
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -c 'import sys, torch; torch.cuda.is_available() or sys.exit("no CUDA device")'
.venv/bin/pytest -m gpu -q llmft_assets_tests
.venv/bin/python benchmarks/gpu_train.py "$@"
