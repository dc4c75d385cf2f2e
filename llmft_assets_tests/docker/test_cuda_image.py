"""The CUDA image (`llmft-cuda`), built from docker/Dockerfile with the compose file's
`gpu_image` build arguments on this machine's local base: PyPI's CUDA torch, bitsandbytes.
No GPU here, so it checks what a GPU host needs before its first run: every library imports,
torch is the CUDA build, and the code location loads. Downloads about 3 GB of CUDA wheels, so
it is its own marker (`make cuda-image`), not part of `make test`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from llmft_assets_tests.docker.stack import (
    BASE_IMAGE,
    Stack,
    docker_engine,
    ensure_base_image,
    inspect,
)

pytestmark = pytest.mark.cuda_image

CUDA_IMAGE = "llmft-stack-test/llmft:cuda"
PROBE = """
import json, importlib.metadata as m
import torch, bitsandbytes, transformers, peft, trl, llama_cpp
from llmft_assets.definitions import defs
assets = defs.resolve_asset_graph().get_all_asset_keys()
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda,
                  "bitsandbytes": m.version("bitsandbytes"), "assets": len(assets)}))
"""


def test_the_cuda_image_builds_imports_and_loads_the_code_location(tmp_path: Path) -> None:
    with docker_engine(tmp_path / "dockerd.log"):
        stack = Stack(
            "llmft-stack-test",
            {
                "LLMFT_BASE_IMAGE": ensure_base_image(),
                "LLMFT_GPU_IMAGE": CUDA_IMAGE,
                "LLMFT_DOCKER_NETWORK": "llmft-stack-test",
            },
        )
        stack.build("gpu_image")
        probe = subprocess.run(
            ["docker", "run", "--rm", CUDA_IMAGE, "python", "-c", PROBE],
            capture_output=True,
            text=True,
            check=True,
        )
        size_gb = inspect(CUDA_IMAGE)["Size"] / 1e9
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    print(f"[cuda image] {CUDA_IMAGE} on {BASE_IMAGE}: {size_gb:.2f} GB, {found}")
    # PyPI's CUDA build (it reports e.g. 2.13.0+cu130), not the handed +cpu wheel.
    assert found["torch"].startswith("2.13.0+cu") and found["cuda"], found
    assert found["bitsandbytes"] == "0.50.2"
    assert found["assets"] == 10
