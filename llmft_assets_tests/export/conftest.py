"""The tiny random Llama (SmolLM2 tokenizer) and its f16 GGUF, built once for the export tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmft_assets.export.gguf import convert_to_f16
from llmft_assets_tests.tiny_model import build_tiny_llama, one_torch_thread


@pytest.fixture(scope="package", autouse=True)
def single_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="package")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, single_torch_thread: None) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="package")
def tiny_f16_gguf(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    return convert_to_f16(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny.f16.gguf")
