"""A merged Hugging Face model to llama.cpp GGUF files: f16, quantized, smoke-tested."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

from llmft_assets.export.converter import converter_script


@dataclass(frozen=True)
class GGUFType:
    """A kind of GGUF file the export writes."""

    ftype: int  # llama.cpp's file type
    max_perplexity_drift: float  # |perplexity / the merged model's - 1| its check allows


F16 = "f16"  # what the converter writes, and every quantization starts from
# The one table of GGUF kinds: the export's choices and their checks' bounds (by bits/weight).
GGUF_TYPES = {
    F16: GGUFType(llama_cpp.LLAMA_FTYPE_MOSTLY_F16, 0.10),
    "Q8_0": GGUFType(llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, 0.10),
    "Q6_K": GGUFType(llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K, 0.15),
    "Q5_K_M": GGUFType(llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M, 0.15),
    "Q4_K_M": GGUFType(llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, 0.25),
    "Q4_0": GGUFType(llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0, 0.25),
}
QUANTIZATIONS = tuple(name for name in GGUF_TYPES if name != F16)


class ExportError(RuntimeError):
    """Conversion or quantization failed; the message carries llama.cpp's own words."""


def convert_to_f16(model_dir: Path, out_file: Path) -> Path:
    """Run llama.cpp's converter in place, so it uses the gguf-py of its own revision."""
    result = subprocess.run(
        [
            sys.executable,
            str(converter_script()),
            str(model_dir),
            "--outfile",
            str(out_file),
            "--outtype",
            F16,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not out_file.is_file():
        raise ExportError(f"convert_hf_to_gguf.py failed:\n{result.stderr[-4000:]}")
    return out_file


def quantize(f16_file: Path, out_file: Path, quantization: str) -> Path:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; one of {QUANTIZATIONS}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = GGUF_TYPES[quantization].ftype
    code = llama_cpp.llama_model_quantize(str(f16_file).encode(), str(out_file).encode(), params)
    if code != 0 or not out_file.is_file():
        raise ExportError(f"llama_model_quantize to {quantization} returned {code}")
    return out_file


@dataclass(frozen=True)
class SmokeTest:
    prompt: str
    text: str
    finish_reason: str  # "stop": EOS or a stop string within the limit; "length": cut off
    completion_tokens: int


# llama.cpp's customary penalty: without it greedy decoding of a small model loops forever.
REPEAT_PENALTY = 1.1


def smoke_generate(model_file: Path, prompt: str, max_tokens: int, chat: bool) -> SmokeTest:
    """Greedy generation through llama.cpp; as a chat turn when the model has a template."""
    if max_tokens < 1:  # llama.cpp reads 0 or less as "until the context is full"
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    llama = llama_cpp.Llama(model_path=str(model_file), n_ctx=2048, verbose=False, seed=0)
    try:
        if chat:
            out = llama.create_chat_completion(
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0,
                repeat_penalty=REPEAT_PENALTY,
            )
            text = out["choices"][0]["message"]["content"] or ""
        else:
            out = llama.create_completion(
                prompt, max_tokens=max_tokens, temperature=0, repeat_penalty=REPEAT_PENALTY
            )
            text = out["choices"][0]["text"]
    finally:
        llama.close()
    return SmokeTest(
        prompt=prompt,
        text=text,
        finish_reason=str(out["choices"][0]["finish_reason"]),
        completion_tokens=int(out["usage"]["completion_tokens"]),
    )
