"""The `gguf_model` stage: the merged model as llama.cpp GGUF files (f16 and the
quantizations asked for), each smoke-tested and scored on the validation sequences training
scored, and an Ollama Modelfile for the first quantization (f16 when none is asked for).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmft_assets.export.gguf import (
    F16,
    QUANTIZATIONS,
    SmokeTest,
    convert_to_f16,
    quantize,
    smoke_generate,
)
from llmft_assets.export.modelfile import default_system_prompt, modelfile
from llmft_assets.hashing import file_sha256
from llmft_assets.modeling.evaluation import EvalSequences, gguf_perplexity
from llmft_assets.modeling.stage import MergeReport
from llmft_assets.modeling.training import TrainingReport
from llmft_assets.reports import Report
from llmft_assets.training_data.formats import CHAT_FORMATS

MODELFILE = "Modelfile"
CONTEXT_PER_TRAINING_LENGTH = 4  # Ollama's num_ctx, in training sequence lengths


class ExportSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    quantizations: list[str] = Field(
        default_factory=lambda: ["Q4_K_M", "Q8_0"],
        description=f"Besides f16: any of {', '.join(QUANTIZATIONS)}.",
    )
    smoke_prompt: str = Field(
        default="Write a blog post titled “Why your data pipeline needs tests”.",
        description="Asked of every GGUF (as a chat turn for chat formats, else continued).",
    )
    max_new_tokens: int = Field(
        default=1024,
        ge=1,
        description="The smoke test's limit: the answer must end (EOS) within it.",
    )

    @field_validator("quantizations")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        """Refused before the (long) f16 conversion runs, not after."""
        unknown = [name for name in names if name not in QUANTIZATIONS]
        if unknown:
            raise ValueError(
                f"unknown quantization {', '.join(unknown)}: one of {', '.join(QUANTIZATIONS)}"
                f" ({F16} is always written)"
            )
        return names


@dataclass(frozen=True)
class GGUFFile:
    file: str
    size_bytes: int
    sha256: str
    perplexity: float
    smoke: SmokeTest


@dataclass(frozen=True)
class ExportReport(Report):
    """What `gguf_model` wrote, and the perplexity of every model on the way there."""

    chat: bool  # smoke-tested as a chat turn
    base_perplexity: float
    adapter_perplexity: float
    merged_perplexity: float
    files: dict[str, GGUFFile]  # by GGUF type: f16 first, then the quantizations
    modelfile_uses: str  # the GGUF type the Modelfile names
    modelfile: str


def run_export(
    merged_dir: Path,
    sequences: EvalSequences,
    training: TrainingReport,
    merge: MergeReport,
    settings: ExportSettings,
    out_dir: Path,
) -> ExportReport:
    """Write the GGUF files and the Modelfile to `out_dir` (an existing, empty folder)."""
    from transformers import AutoTokenizer

    chat = training.format in CHAT_FORMATS
    paths = {F16: convert_to_f16(merged_dir, out_dir / f"model-{F16}.gguf")}
    for name in settings.quantizations:
        paths[name] = quantize(paths[F16], out_dir / f"model-{name}.gguf", name)
    files = {
        name: GGUFFile(
            file=path.name,
            size_bytes=path.stat().st_size,
            sha256=file_sha256(path),
            smoke=smoke_generate(path, settings.smoke_prompt, settings.max_new_tokens, chat),
            perplexity=gguf_perplexity(path, sequences),
        )
        for name, path in paths.items()
    }
    default = settings.quantizations[0] if settings.quantizations else F16
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    text = modelfile(
        paths[default].name,
        tokenizer.chat_template,
        str(tokenizer.eos_token),
        training.format,
        num_ctx=training.max_length * CONTEXT_PER_TRAINING_LENGTH,
        system=default_system_prompt(tokenizer),
    )
    (out_dir / MODELFILE).write_text(text)
    return ExportReport(
        chat=chat,
        base_perplexity=training.base_perplexity,
        adapter_perplexity=training.fine_tuned_perplexity,
        merged_perplexity=merge.perplexity,
        files=files,
        modelfile_uses=default,
        modelfile=text,
    )
