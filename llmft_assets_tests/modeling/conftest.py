"""A tiny random Llama with the SmolLM2 tokenizer, and chunk tables to train it on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from llmft_assets_tests.tiny_model import (
    one_torch_thread,
    smollm2_tokenizer,
)

SENTENCES = [
    "Data pipelines move rows from one place to another and keep them correct on the way.",
    "A good test fails when the code is wrong and passes when it is right.",
    "Parquet stores columns together, so reading one column skips the others.",
    "Nobody reads a dashboard that loads for a minute.",
    "The warehouse bill grows quietly until someone asks what it pays for.",
    "Small files are the enemy of every query engine.",
    "Idempotent jobs can run twice without doing the work twice.",
    "Schemas change, and a pipeline that pretends otherwise breaks at night.",
]


def chunk_table(documents: int = 5, parts: int = 3) -> pd.DataFrame:
    """Rows shaped like `text_chunks`: a few short posts of a few chunks each."""
    rows = []
    for doc in range(documents):
        for position in range(parts):
            start = doc * parts + position
            text = " ".join(SENTENCES[(start + i) % len(SENTENCES)] for i in range(3))
            rows.append(
                {
                    "doc_id": f"post-{doc}",
                    "source": "blog",
                    "title": f"Notes on pipelines {doc}",
                    "url": "",
                    "language": "en",
                    "position": position,
                    "text": text,
                    "token_count": 60,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="package", autouse=True)
def single_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="package")
def tokenizer() -> PreTrainedTokenizerBase:
    return smollm2_tokenizer()


ADAPTER_R, ADAPTER_ALPHA = 4, 12


@pytest.fixture
def adapter_dir(tiny_model_dir: Path, tokenizer, tmp_path: Path) -> Path:
    """A LoRA adapter on every linear layer, A and B both random (B is not left at zero)."""
    torch.manual_seed(3)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    config = LoraConfig(
        r=ADAPTER_R,
        lora_alpha=ADAPTER_ALPHA,
        target_modules="all-linear",
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    folder = tmp_path / "adapter"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
