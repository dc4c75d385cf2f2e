"""The model stages as the assets call them: training from the saved dataset folder, and the
merge scored on the validation sequences training scored."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from llmft_assets.modeling.evaluation import EvalSequences, hf_perplexity
from llmft_assets.modeling.settings import Quantization
from llmft_assets.modeling.stage import LOSS_CURVES, MergeReport, run_merge, run_training
from llmft_assets.modeling.training import NoCheckpointSync, TrainingJob
from llmft_assets.training_data.formats import DatasetFormat
from llmft_assets_tests.export.test_stage import training_report
from llmft_assets_tests.modeling.conftest import SENTENCES
from llmft_assets_tests.modeling.test_training import SETTINGS, dataset_for

PNG = b"\x89PNG\r\n\x1a\n"


def test_run_training_trains_on_the_saved_dataset_and_draws_its_curves(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset_for(DatasetFormat.completion, tmp_path).save_to_disk(tmp_path / "dataset")
    settings = SETTINGS.model_copy(update={"max_steps": 2})
    job = TrainingJob(tiny_model_dir, tmp_path / "dataset", DatasetFormat.completion, settings)
    adapter, report, sequences = run_training(
        job, tmp_path / "work", NoCheckpointSync(), log=lambda _: None
    )
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (adapter / LOSS_CURVES).read_bytes()[:8] == PNG
    assert report.steps == 2 and report.format is DatasetFormat.completion
    assert report.eval_tokens == sequences.scored_tokens > 0


def test_run_merge_scores_the_saved_merged_weights(
    tiny_model_dir: Path, adapter_dir: Path, tokenizer: PreTrainedTokenizerBase, tmp_path: Path
) -> None:
    ids = [tokenizer(sentence).input_ids for sentence in SENTENCES[:3]]
    sequences = EvalSequences(token_ids=ids, labels=ids)
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32), adapter_dir
    )
    training = dataclasses.replace(
        training_report(DatasetFormat.completion),
        fine_tuned_perplexity=hf_perplexity(adapted, sequences),
    )
    report = run_merge(tiny_model_dir, adapter_dir, sequences, training, tmp_path / "merged")

    assert MergeReport.from_json(report.to_json()) == report
    assert report.parity.top1_agreement == 1.0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged", dtype=torch.float32)
    assert report.perplexity == pytest.approx(hf_perplexity(merged, sequences), rel=1e-6)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert report.perplexity != pytest.approx(hf_perplexity(base, sequences), rel=1e-3)
    # Trained on the unquantized base: merging moves nothing but float16 rounding.
    assert report.trained_quantization is Quantization.none
    assert report.trained_perplexity == training.fine_tuned_perplexity
    assert abs(report.quantization_gap) < 1e-3
