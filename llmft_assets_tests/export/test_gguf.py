"""HF model -> f16 GGUF -> quantized GGUF -> a greedy smoke generation, through llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

import llama_cpp
import pytest

from llmft_assets.export.gguf import (
    GGUF_TYPES,
    QUANTIZATIONS,
    ExportError,
    SmokeTest,
    convert_to_f16,
    quantize,
    smoke_generate,
)


def metadata(path: Path) -> dict[str, str]:
    """The GGUF's key/value metadata, as llama.cpp itself reads it."""
    llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        return dict(llama.metadata)
    finally:
        llama.close()


def test_convert_to_f16_writes_a_gguf_of_the_model(tiny_model_dir: Path, tiny_f16_gguf: Path):
    assert tiny_f16_gguf.read_bytes()[:4] == b"GGUF"
    meta = metadata(tiny_f16_gguf)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert meta["general.architecture"] == "llama"
    assert meta["general.file_type"] == str(int(llama_cpp.LLAMA_FTYPE_MOSTLY_F16))
    assert GGUF_TYPES["f16"].ftype == llama_cpp.LLAMA_FTYPE_MOSTLY_F16
    assert meta["llama.block_count"] == str(config["num_hidden_layers"])
    assert meta["llama.embedding_length"] == str(config["hidden_size"])
    assert meta["llama.vocab_size"] == str(config["vocab_size"])
    assert meta["tokenizer.ggml.eos_token_id"] == str(config["eos_token_id"])
    assert "<|im_start|>" in meta["tokenizer.chat_template"]


@pytest.mark.parametrize("name", QUANTIZATIONS)
def test_quantize_makes_a_smaller_gguf(name: str, tiny_f16_gguf: Path, tmp_path: Path) -> None:
    out = quantize(tiny_f16_gguf, tmp_path / f"tiny.{name}.gguf", name)
    assert out == tmp_path / f"tiny.{name}.gguf"
    assert out.read_bytes()[:4] == b"GGUF"
    assert out.stat().st_size < tiny_f16_gguf.stat().st_size
    assert metadata(out)["general.file_type"] == str(int(GGUF_TYPES[name].ftype))


def test_q4_k_m_is_smaller_than_q8_0(tiny_f16_gguf: Path, tmp_path: Path) -> None:
    q8 = quantize(tiny_f16_gguf, tmp_path / "q8.gguf", "Q8_0")
    q4 = quantize(tiny_f16_gguf, tmp_path / "q4.gguf", "Q4_K_M")
    assert q4.stat().st_size < q8.stat().st_size


@pytest.mark.parametrize("name", ["Q3_K", "q8_0", "f16", ""])
def test_unknown_quantization_is_refused(name: str, tiny_f16_gguf: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown quantization"):
        quantize(tiny_f16_gguf, tmp_path / "out.gguf", name)
    assert not (tmp_path / "out.gguf").exists()


def test_quantizing_a_file_that_is_not_a_gguf_is_an_export_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf at all")
    with pytest.raises(ExportError, match="Q8_0"):
        quantize(bogus, tmp_path / "out.gguf", "Q8_0")


@pytest.mark.parametrize("chat", [False, True], ids=["completion", "chat"])
@pytest.mark.parametrize("max_tokens", [1, 12])
def test_smoke_generate_stops_within_the_limit(
    chat: bool, max_tokens: int, tiny_f16_gguf: Path
) -> None:
    smoke = smoke_generate(tiny_f16_gguf, "Data pipelines", max_tokens, chat)
    assert isinstance(smoke, SmokeTest)
    assert smoke.prompt == "Data pipelines"
    assert smoke.finish_reason in {"stop", "length"}
    assert 0 < smoke.completion_tokens <= max_tokens
    if smoke.finish_reason == "length":
        assert smoke.completion_tokens == max_tokens
    # Greedy: the same answer every time.
    assert smoke_generate(tiny_f16_gguf, "Data pipelines", max_tokens, chat) == smoke


def test_smoke_generate_on_a_quantized_file(tiny_f16_gguf: Path, tmp_path: Path) -> None:
    q4 = quantize(tiny_f16_gguf, tmp_path / "q4.gguf", "Q4_K_M")
    smoke = smoke_generate(q4, "Write a post.", 6, chat=True)
    assert smoke.finish_reason in {"stop", "length"}
    assert smoke.completion_tokens <= 6


@pytest.mark.parametrize("max_tokens", [0, -1])
def test_smoke_generate_refuses_a_limit_below_one(max_tokens: int, tiny_f16_gguf: Path):
    # llama.cpp reads max_tokens <= 0 as "until the context is full"
    with pytest.raises(ValueError, match="max_tokens"):
        smoke_generate(tiny_f16_gguf, "Data pipelines", max_tokens, chat=False)


def test_convert_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("no config.json here")
    out = tmp_path / "out.gguf"
    with pytest.raises(ExportError) as raised:
        convert_to_f16(folder, out)
    message = str(raised.value)
    assert message.startswith("convert_hf_to_gguf.py failed")
    assert "config.json" in message  # the converter's own words
    assert "Traceback" in message or "Error" in message
    assert not out.exists()
