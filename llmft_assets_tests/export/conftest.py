"""Export tests run torch on one thread (see tiny_model.one_torch_thread)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmft_assets_tests.tiny_model import one_torch_thread


@pytest.fixture(scope="package", autouse=True)
def single_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield
