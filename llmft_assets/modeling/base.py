"""Load a base model as a plain 16-bit Hugging Face model, whatever its source.

A GGUF is dequantized by transformers on load; its quantization config must then be removed,
or saving and training refuse the model. The result is saved as safetensors with its
tokenizer, so every later step loads an ordinary model folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from llmft_assets.hashing import file_sha256
from llmft_assets.modeling.source import ModelSource, load_tokenizer


@dataclass(frozen=True)
class BaseModelFacts:
    architecture: str
    parameters: int
    vocabulary: int
    context_length: int
    has_chat_template: bool
    eos_token: str
    pad_token: str
    dtype: str


def load_model(
    source: ModelSource, cache: Path, dtype: torch.dtype, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
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


def save_base_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path
) -> BaseModelFacts:
    """Save as bf16 safetensors with the tokenizer (and its chat template)."""
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    config = model.config
    return BaseModelFacts(
        architecture=(config.architectures or [type(model).__name__])[0],
        parameters=sum(p.numel() for p in model.parameters()),
        vocabulary=len(tokenizer),
        context_length=int(getattr(config, "max_position_embeddings", 0) or 0),
        has_chat_template=bool(tokenizer.chat_template),
        eos_token=str(tokenizer.eos_token),
        pad_token=str(tokenizer.pad_token),
        dtype="bfloat16",
    )


def weights_sha256(folder: Path) -> str:
    """One hash over every safetensors file of a model folder, in name order."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        file_sha256(path, digest)
    return digest.hexdigest()
