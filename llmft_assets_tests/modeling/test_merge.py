"""Merging a LoRA adapter: float16 weights equal to base + scale * B @ A, and the same model."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from llmft_assets.modeling.merge import PARITY_TEXT, merge_adapter
from llmft_assets_tests.modeling.conftest import ADAPTER_ALPHA, ADAPTER_R


def load_tensors(folder: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(str(path)))
    return tensors


def test_merged_model_is_the_adapted_model(
    tiny_model_dir: Path, adapter_dir: Path, tmp_path: Path
) -> None:
    parity = merge_adapter(tiny_model_dir, adapter_dir, tmp_path / "merged")
    assert parity.mean_kl_divergence < 1e-4
    assert parity.top1_agreement == 1.0
    assert 0 < parity.max_abs_logit_diff < 0.25  # float16 rounding shows, and no more


def test_merged_weights_are_base_plus_scaled_lora_in_float16(
    tiny_model_dir: Path, adapter_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    merge_adapter(tiny_model_dir, adapter_dir, out)

    files = sorted(p.name for p in out.iterdir())
    assert any(name.endswith(".safetensors") for name in files)
    assert not any(name.endswith((".bin", ".pt", ".pth")) for name in files)
    config = json.loads((out / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "float16"

    base = load_tensors(tiny_model_dir)
    merged = load_tensors(out)
    assert {t.dtype for t in merged.values()} == {torch.float16}
    adapter = load_file(str(adapter_dir / "adapter_model.safetensors"))
    assert set(merged) == set(base)  # no LoRA tensors left, nothing missing
    adapted = {
        key.removeprefix("base_model.model.").removesuffix(".lora_A.weight") + ".weight"
        for key in adapter
        if key.endswith(".lora_A.weight")
    }
    assert len(adapted) == 2 * 7  # q k v o gate up down, in both layers
    scale = ADAPTER_ALPHA / ADAPTER_R
    for name, weight in base.items():
        if name in adapted:
            prefix = "base_model.model." + name.removesuffix(".weight")
            delta = scale * adapter[f"{prefix}.lora_B.weight"] @ adapter[f"{prefix}.lora_A.weight"]
            assert delta.abs().max() > 1e-2, f"{name}: the adapter barely moves it"
            expected = weight + delta
        else:
            expected = weight
        assert merged[name].dtype == torch.float16
        # Within float16 rounding of the float32 sum (half a unit in the last place).
        torch.testing.assert_close(
            merged[name].float(), expected, rtol=2**-11 * 1.01, atol=2**-25, msg=name
        )


def test_the_tokenizer_is_saved_with_the_merged_model(
    tiny_model_dir: Path, adapter_dir: Path, tmp_path: Path, tokenizer
) -> None:
    out = tmp_path / "merged"
    merge_adapter(tiny_model_dir, adapter_dir, out)
    assert (out / "tokenizer.json").is_file()
    saved = AutoTokenizer.from_pretrained(out)
    assert saved(PARITY_TEXT)["input_ids"] == tokenizer(PARITY_TEXT)["input_ids"]
    assert saved.eos_token == tokenizer.eos_token
    assert saved.chat_template == tokenizer.chat_template
    # The merged folder is a complete model: it loads and predicts without the adapter.
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.dtype == torch.float16
    assert model.config.eos_token_id == tokenizer.eos_token_id
