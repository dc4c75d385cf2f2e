"""llama.cpp's HF -> GGUF converter, from the sdist of the pinned llama-cpp-python.

The converter is in no installed package, and converter and quantizer must come from the
same llama.cpp revision. So setup downloads the pinned llama-cpp-python sdist once, checks its
SHA-256, installs llama-cpp-python from that very file, and unpacks the converter
(`convert_hf_to_gguf.py`, `conversion/`, `gguf-py/`) from it into the cache. Standard library
only: setup runs this before the project is installed.

    python -m llmft_assets.export.converter fetch   # prints the sdist path
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from llmft_assets.hashing import file_sha256

VERSION = "0.3.36"
SDIST_NAME = f"llama_cpp_python-{VERSION}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
_VENDOR = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
_MEMBERS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def _cache_dir() -> Path:
    default = Path.home() / ".cache" / "llmft"
    return Path(os.environ.get("LLMFT_CACHE_DIR", default)).expanduser()


def sdist_path() -> Path:
    return _cache_dir() / "sdist" / SDIST_NAME


def converter_dir() -> Path:
    return _cache_dir() / f"llama.cpp-converter-{VERSION}"


def converter_script() -> Path:
    script = converter_dir() / "convert_hf_to_gguf.py"
    if not script.is_file():
        raise FileNotFoundError(
            f"the GGUF converter is not set up at {script.parent}: run `make setup`"
            " (python -m llmft_assets.export.converter fetch)"
        )
    return script


def fetch() -> Path:
    """Download (once) and verify the sdist, unpack the converter; return the sdist path."""
    target = sdist_path()
    if not (target.is_file() and file_sha256(target) == SDIST_SHA256):
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    # The sdist of this package only: ":all:" would build its build
                    # dependencies from source too, each in a new isolated environment.
                    "--no-binary",
                    "llama-cpp-python",
                    f"llama-cpp-python=={VERSION}",
                    "--dest",
                    tmp,
                ],
                check=True,
            )
            downloaded = Path(tmp) / SDIST_NAME
            digest = file_sha256(downloaded)
            if digest != SDIST_SHA256:
                raise RuntimeError(f"{SDIST_NAME} has SHA-256 {digest}, expected {SDIST_SHA256}")
            shutil.move(downloaded, target)
    if not (converter_dir() / "convert_hf_to_gguf.py").is_file():
        _unpack_converter(target, converter_dir())
    return target


# The "data" filter (Python 3.11.4+; Debian bookworm has 3.11.2) also sanitizes modes.
_SAFE_EXTRACT = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _check_member(member: tarfile.TarInfo) -> None:
    """Only plain files and folders inside the destination, on every Python."""
    path = Path(member.name)
    if not (member.isfile() or member.isdir()) or path.is_absolute() or ".." in path.parts:
        raise tarfile.TarError(f"{SDIST_NAME}: refusing to unpack {member.name!r}")


def _unpack_converter(sdist: Path, destination: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".converter-"))
    try:
        with tarfile.open(sdist) as archive:
            members = [
                m
                for m in archive.getmembers()
                if m.name.startswith(_VENDOR) and m.name[len(_VENDOR) :].startswith(_MEMBERS)
            ]
            for member in members:
                member.name = member.name[len(_VENDOR) :]
                _check_member(member)
            archive.extractall(staging, members=members, **_SAFE_EXTRACT)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


if __name__ == "__main__":
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m llmft_assets.export.converter fetch")
    print(fetch())
