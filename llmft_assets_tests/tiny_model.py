"""A tiny random Llama with the real SmolLM2 tokenizer: fast enough to train, merge and export
in unit tests, yet the same architecture and vocabulary as the bundled base model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from llmft_assets.modeling.source import BUNDLED_SMOLLM2, load_tokenizer, resolve_model_source
from llmft_assets.paths import cache_dir


def smollm2_tokenizer() -> PreTrainedTokenizerBase:
    return load_tokenizer(resolve_model_source(BUNDLED_SMOLLM2), cache_dir())


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread. The tiny model's matrices take microseconds; on two busy cores
    the OpenMP hand-off between threads costs a scheduler slice (~15 ms) per op instead."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """Save a 2-layer, 64-wide Llama (float32 safetensors) and the SmolLM2 tokenizer in `folder`.

    Weights are drawn wider than usual (std 0.3) so that next-token distributions are peaked,
    not near-uniform: perplexities then depend on every weight and comparisons mean something.
    """
    tokenizer = smollm2_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.3,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
