"""The GGUF converter comes from the pinned, hash-checked llama-cpp-python sdist, and nothing
else from that archive is unpacked."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from llmft_assets.export import converter
from llmft_assets.export.converter import (
    SDIST_SHA256,
    _unpack_converter,
    converter_script,
    sdist_path,
)
from llmft_assets.hashing import file_sha256

VENDOR = f"llama_cpp_python-{converter.VERSION}/vendor/llama.cpp/"
WANTED = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def test_converter_script_without_setup_says_to_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFT_CACHE_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make setup") as raised:
        converter_script()
    assert str(tmp_path) in str(raised.value)
    assert sdist_path() == tmp_path / "sdist" / converter.SDIST_NAME


def test_the_cached_converter_is_found() -> None:
    script = converter_script()
    assert script.name == "convert_hf_to_gguf.py" and script.is_file()


def test_the_pinned_hash_is_the_cached_sdists() -> None:
    assert file_sha256(sdist_path()) == SDIST_SHA256


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _sdist_files() -> set[str]:
    with tarfile.open(sdist_path()) as archive:
        return {
            m.name[len(VENDOR) :]
            for m in archive.getmembers()
            if m.isfile() and m.name.startswith(VENDOR) and m.name[len(VENDOR) :].startswith(WANTED)
        }


def test_unpack_takes_the_converter_and_nothing_else(tmp_path: Path) -> None:
    destination = tmp_path / "converter"
    _unpack_converter(sdist_path(), destination)

    assert sorted(p.name for p in destination.iterdir()) == [
        "conversion",
        "convert_hf_to_gguf.py",
        "gguf-py",
    ]
    unpacked = files_under(destination)
    assert unpacked == _sdist_files()  # every converter file, none refused, nothing else
    assert "gguf-py/gguf/__init__.py" in unpacked
    assert not any(name.startswith("convert_hf_to_gguf_update") for name in unpacked)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["converter"]  # no staging left

    # It runs in place with its own gguf-py.
    result = subprocess.run(
        [sys.executable, str(destination / "convert_hf_to_gguf.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--outtype" in result.stdout


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("members", "links"),
    [
        ({VENDOR + "gguf-py/../../../../escaped.txt": b"x"}, None),
        ({VENDOR + "convert_hf_to_gguf.py": b"print()"}, {VENDOR + "conversion/x": "/etc/passwd"}),
    ],
    ids=["path-traversal", "absolute-symlink"],
)
# Without tarfile's "data" filter, as on Debian bookworm's Python 3.11.2 (the Docker base).
@pytest.mark.parametrize("extract_filter", [{"filter": "data"}, {}], ids=["filter", "no-filter"])
def test_unpack_refuses_members_that_leave_the_folder(
    members: dict[str, bytes],
    links: dict[str, str] | None,
    extract_filter: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(converter, "_SAFE_EXTRACT", extract_filter)
    sdist = tmp_path / "evil.tar.gz"
    sdist.write_bytes(_tar(members, links))
    destination = tmp_path / "cache" / "converter"
    destination.parent.mkdir()
    with pytest.raises(tarfile.TarError):
        _unpack_converter(sdist, destination)
    assert list(destination.parent.iterdir()) == []  # neither the folder nor a staging copy
    assert not (tmp_path / "escaped.txt").exists()


def test_unpack_of_a_corrupt_archive_leaves_nothing(tmp_path: Path) -> None:
    sdist = tmp_path / "broken.tar.gz"
    sdist.write_bytes(b"\x1f\x8b not really gzip")
    destination = tmp_path / "cache" / "converter"
    destination.parent.mkdir()
    with pytest.raises(tarfile.TarError):
        _unpack_converter(sdist, destination)
    assert list(destination.parent.iterdir()) == []


def test_unpack_takes_only_the_converter_members_of_an_archive(tmp_path: Path) -> None:
    sdist = tmp_path / "small.tar.gz"
    sdist.write_bytes(
        _tar(
            {
                VENDOR + "convert_hf_to_gguf.py": b"# converter",
                VENDOR + "convert_hf_to_gguf_update.py": b"# not wanted",
                VENDOR + "conversion/llama.py": b"# model",
                VENDOR + "gguf-py/gguf/__init__.py": b"# gguf",
                VENDOR + "ggml/src/ggml.c": b"// C",
                "llama_cpp_python-0.0.0/vendor/llama.cpp/conversion/other.py": b"# wrong root",
                "setup.py": b"# top level",
            }
        )
    )
    destination = tmp_path / "converter"
    _unpack_converter(sdist, destination)
    unpacked = files_under(destination)
    assert unpacked == {"convert_hf_to_gguf.py", "conversion/llama.py", "gguf-py/gguf/__init__.py"}
    assert (destination / "convert_hf_to_gguf.py").read_bytes() == b"# converter"
