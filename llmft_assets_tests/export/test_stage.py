"""The export stage: its settings refused before anything runs, and a merged model exported
to GGUF files, each scored and smoke-tested, with a Modelfile, in one typed report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from transformers import AutoModelForCausalLM, AutoTokenizer

from llmft_assets.export.stage import MODELFILE, ExportReport, ExportSettings, run_export
from llmft_assets.hashing import file_sha256
from llmft_assets.modeling.evaluation import EvalSequences, hf_perplexity
from llmft_assets.modeling.merge import MergeParity
from llmft_assets.modeling.settings import Quantization, TrainingSettings, resolve_hardware
from llmft_assets.modeling.stage import MergeReport
from llmft_assets.modeling.training import TrainingReport
from llmft_assets.training_data.formats import DatasetFormat

MAX_LENGTH = 128


@pytest.mark.parametrize(
    ("quantizations", "message"),
    [(["Q3_K"], "unknown quantization Q3_K"), (["Q8_0", "f16"], "f16 is always written")],
)
def test_an_unknown_quantization_is_refused_in_the_settings(
    quantizations: list[str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ExportSettings(quantizations=quantizations)


def test_a_smoke_limit_below_one_is_refused_in_the_settings() -> None:
    with pytest.raises(ValidationError, match="max_new_tokens"):
        ExportSettings(max_new_tokens=0)


def training_report(fmt: DatasetFormat) -> TrainingReport:
    return TrainingReport(
        format=fmt,
        max_length=MAX_LENGTH,
        hardware=resolve_hardware(TrainingSettings()),
        batch_size=2,
        gradient_checkpointing=False,
        steps=4,
        resumed_from_step=0,
        train_tokens=1000,
        train_seconds=2.0,
        tokens_per_second=500.0,
        steady_tokens_per_second=500.0,
        peak_memory_mib=100.0,
        base_perplexity=30.0,
        fine_tuned_perplexity=20.0,
        eval_tokens=50,
        train_loss=((2, 3.5), (4, 3.0)),
        eval_loss=((4, 3.1),),
    )


@pytest.mark.slow
def test_run_export_writes_scored_gguf_files_and_a_modelfile(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = [tokenizer(text).input_ids for text in ("Data pipelines move rows.", "Tests fail.")]
    sequences = EvalSequences(token_ids=ids, labels=ids)
    merge = MergeReport(MergeParity(0.01, 1e-6, 1.0), 21.0, Quantization.none, 20.0)
    settings = ExportSettings(quantizations=["Q8_0"], max_new_tokens=4)

    report = run_export(
        tiny_model_dir,
        sequences,
        training_report(DatasetFormat.messages),
        merge,
        settings,
        tmp_path,
    )

    assert ExportReport.from_json(report.to_json()) == report
    assert list(report.files) == ["f16", "Q8_0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        MODELFILE,
        "model-Q8_0.gguf",
        "model-f16.gguf",
    ]
    for exported in report.files.values():
        path = tmp_path / exported.file
        assert (exported.size_bytes, exported.sha256) == (path.stat().st_size, file_sha256(path))
        assert exported.smoke.prompt == settings.smoke_prompt
        assert 0 < exported.smoke.completion_tokens <= settings.max_new_tokens
    # Scored on the same token ids as the HF model: f16 barely moves the perplexity.
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert report.files["f16"].perplexity == pytest.approx(
        hf_perplexity(model, sequences), rel=0.01
    )
    assert report.files["Q8_0"].perplexity != report.files["f16"].perplexity
    # The perplexities of the steps before, carried over for the table.
    assert (report.base_perplexity, report.adapter_perplexity, report.merged_perplexity) == (
        30.0,
        20.0,
        21.0,
    )
    # Chat data: the Modelfile prompts in ChatML, for the first quantization asked for.
    assert report.chat and report.modelfile_uses == "Q8_0"
    assert (tmp_path / MODELFILE).read_text() == report.modelfile
    assert report.modelfile.startswith("FROM ./model-Q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in report.modelfile
    assert f"PARAMETER num_ctx {4 * MAX_LENGTH}\n" in report.modelfile


@pytest.mark.slow
def test_run_export_without_quantizations_writes_and_names_f16(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = [tokenizer("Data pipelines move rows.").input_ids]
    report = run_export(
        tiny_model_dir,
        EvalSequences(token_ids=ids, labels=ids),
        training_report(DatasetFormat.completion),
        MergeReport(MergeParity(0.01, 1e-6, 1.0), 21.0, Quantization.none, 20.0),
        ExportSettings(quantizations=[], max_new_tokens=2),
        tmp_path,
    )
    assert list(report.files) == ["f16"] and report.modelfile_uses == "f16"
    assert not report.chat
    assert report.modelfile.startswith("FROM ./model-f16.gguf\n")
