"""LoRA training on a tiny Llama: pad token, record shapes, loss masks, report and resume."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from bitsandbytes.nn import Linear4bit
from datasets import Dataset, DatasetDict
from peft import PeftModel
from safetensors.torch import load_file
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast
from transformers.trainer_pt_utils import safe_globals

from llmft_assets.modeling.evaluation import IGNORE, hf_perplexity
from llmft_assets.modeling.settings import (
    Device,
    Optimizer,
    Precision,
    Quantization,
    TrainingSettings,
    cpu_computes_bf16,
)
from llmft_assets.modeling.training import (
    TrainingReport,
    load_adapted_model,
    pick_pad_token,
    to_trl_records,
    train_lora,
)
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import LocalBackend
from llmft_assets.storage.checkpoints import StoreCheckpoints
from llmft_assets.training_data.formats import (
    PROMPT_SEPARATOR,
    DatasetFormat,
    request_for,
    to_record,
)
from llmft_assets_tests.modeling.conftest import chunk_table
from llmft_assets_tests.storage.test_tensor_tree import assert_same
from llmft_assets_tests.training_data.conftest import built

SETTINGS = TrainingSettings(
    lora_r=4,
    lora_alpha=8,
    learning_rate=5e-3,
    max_steps=4,
    batch_size=2,
    max_length=128,
    eval_steps=2,
    save_steps=2,
    max_eval_samples=4,
)


def word_level_tokenizer(words: list[str], **special: str) -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=words[0]))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, **special)


def dataset_for(fmt: DatasetFormat, folder: Path) -> DatasetDict:
    dataset, plan = built(chunk_table(), fmt, 0.3, 0, folder)
    assert plan.validation_docs and plan.train_docs
    return dataset


def checkpoints_in(root: Path) -> StoreCheckpoints:
    return StoreCheckpoints(ArtifactStore(LocalBackend(root / "store"), root / "cache"), "ckpt")


# pick_pad_token -------------------------------------------------------------------------------


def test_pad_token_for_smollm2_is_not_eos(tokenizer) -> None:
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"  # as the GGUF ships it
    pad = pick_pad_token(tokenizer)
    assert pad != tokenizer.eos_token
    assert pad in tokenizer.get_vocab()
    assert tokenizer.convert_tokens_to_ids(pad) != tokenizer.eos_token_id


def test_a_pad_token_other_than_eos_is_kept() -> None:
    words = ["<unk>", "<eos>", "<my-pad>", "hello"]
    tok = word_level_tokenizer(words, eos_token="<eos>", pad_token="<my-pad>", unk_token="<unk>")
    assert pick_pad_token(tok) == "<my-pad>"


def test_pad_falls_back_to_a_known_pad_token_or_unk() -> None:
    with_pad = word_level_tokenizer(["<eos>", "<pad>", "hello"], eos_token="<eos>")
    assert pick_pad_token(with_pad) == "<pad>"
    with_unk = word_level_tokenizer(
        ["<eos>", "<unk>", "hello"], eos_token="<eos>", pad_token="<eos>", unk_token="<unk>"
    )
    assert pick_pad_token(with_unk) == "<unk>"


def test_pad_token_refuses_a_tokenizer_with_only_eos() -> None:
    only_eos = word_level_tokenizer(
        ["<|im_end|>", "hello", "world"], eos_token="<|im_end|>", pad_token="<|im_end|>"
    )
    with pytest.raises(ValueError, match="other than EOS"):
        pick_pad_token(only_eos)
    # unk that is EOS itself is no way out either
    eos_is_unk = word_level_tokenizer(["<eos>", "hello"], eos_token="<eos>", unk_token="<eos>")
    with pytest.raises(ValueError):
        pick_pad_token(eos_is_unk)


# to_trl_records ------------------------------------------------------------------------------

REQUEST = request_for("blog", "Kimball is not dead", 1, 2)
CHUNK = "Star schemas still answer the questions people ask."


def _stored(fmt: DatasetFormat) -> Dataset:
    record = to_record(fmt, REQUEST, CHUNK)
    return Dataset.from_list([{**record, "doc_id": "blog-1", "position": 0}] * 2)


def test_completion_records_are_text_only() -> None:
    records = to_trl_records(_stored(DatasetFormat.completion), DatasetFormat.completion)
    assert records.column_names == ["text"]
    assert records[0] == {"text": CHUNK}


def test_input_response_records_are_prompt_completion_strings() -> None:
    fmt = DatasetFormat.input_response
    records = to_trl_records(_stored(fmt), fmt)
    assert sorted(records.column_names) == ["completion", "prompt"]
    assert records[0] == {"prompt": REQUEST, "completion": PROMPT_SEPARATOR + CHUNK}


@pytest.mark.parametrize("fmt", [DatasetFormat.conversations, DatasetFormat.messages])
def test_chat_records_are_conversational_prompt_and_completion(fmt: DatasetFormat) -> None:
    records = to_trl_records(_stored(fmt), fmt)
    assert sorted(records.column_names) == ["completion", "prompt"]
    assert records[1]["prompt"] == [{"role": "user", "content": REQUEST}]
    assert records[1]["completion"] == [{"role": "assistant", "content": CHUNK}]


def test_sharegpt_roles_are_mapped_and_only_the_last_turn_is_the_completion() -> None:
    conversation = [
        {"from": "system", "value": "Write like the blog."},
        {"from": "human", "value": REQUEST},
        {"from": "gpt", "value": "Part one."},
        {"from": "human", "value": "Go on."},
        {"from": "gpt", "value": CHUNK},
    ]
    dataset = Dataset.from_list([{"conversations": conversation}])
    records = to_trl_records(dataset, DatasetFormat.conversations)
    assert [t["role"] for t in records[0]["prompt"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert [t["content"] for t in records[0]["prompt"]][1:] == [REQUEST, "Part one.", "Go on."]
    assert records[0]["completion"] == [{"role": "assistant", "content": CHUNK}]


# train_lora ----------------------------------------------------------------------------------


def test_train_lora_on_completion_text(tiny_model_dir: Path, tmp_path: Path) -> None:
    dataset = dataset_for(DatasetFormat.completion, tmp_path)
    checkpoints = checkpoints_in(tmp_path)
    logs: list[str] = []
    adapter, report, sequences = train_lora(
        tiny_model_dir,
        dataset,
        DatasetFormat.completion,
        SETTINGS,
        tmp_path / "work",
        checkpoints,
        log=logs.append,
    )

    # The adapter folder: weights, config and the tokenizer with its non-EOS pad token.
    assert adapter == tmp_path / "work" / "adapter"
    names = {p.name for p in adapter.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= names
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 8)
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    lora_b = [t for k, t in weights.items() if "lora_B" in k]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: it trained
    saved = AutoTokenizer.from_pretrained(adapter)
    assert saved.eos_token == "<|im_end|>"
    assert saved.pad_token_id is not None and saved.pad_token_id != saved.eos_token_id

    # The report, which round-trips through JSON as the same typed value.
    assert TrainingReport.from_json(report.to_json()) == report
    assert report.format is DatasetFormat.completion
    assert report.max_length == SETTINGS.max_length
    assert report.hardware.device is Device.cpu
    assert report.hardware.quantization is Quantization.none
    assert report.hardware.optimizer == "adamw_torch"
    assert report.hardware.precision is (Precision.bf16 if cpu_computes_bf16() else Precision.fp32)
    assert report.steps == SETTINGS.max_steps
    assert report.resumed_from_step == 0
    assert report.train_tokens > 0
    assert report.tokens_per_second == pytest.approx(report.train_tokens / report.train_seconds)
    assert math.isfinite(report.base_perplexity) and report.base_perplexity > 1
    assert math.isfinite(report.fine_tuned_perplexity) and report.fine_tuned_perplexity > 1
    assert report.fine_tuned_perplexity != report.base_perplexity
    assert report.eval_tokens == sequences.scored_tokens > 0
    assert [step for step, _ in report.eval_loss] == [2, 4]
    assert report.train_loss and report.train_loss[-1][0] == 4
    assert all(math.isfinite(loss) for _, loss in report.train_loss + report.eval_loss)
    assert checkpoints.steps() == [2, 4]
    assert "stored checkpoint-4" in logs
    assert not any(line.startswith("resuming") for line in logs)

    # The perplexities are those of the base and of base + adapter on the returned sequences.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert hf_perplexity(base, sequences) == pytest.approx(report.base_perplexity, rel=1e-4)
    adapted = load_adapted_model(tiny_model_dir, adapter, report.hardware)
    assert hf_perplexity(adapted, sequences) == pytest.approx(
        report.fine_tuned_perplexity, rel=1e-4
    )

    # Plain text is scored everywhere, and every sequence ends in a scored EOS.
    texts = set(dataset["validation"]["text"])
    assert 0 < len(sequences.token_ids) <= SETTINGS.max_eval_samples
    for ids, labels in zip(sequences.token_ids, sequences.labels, strict=True):
        assert labels == ids
        assert labels[-1] == saved.eos_token_id
        assert saved.pad_token_id not in ids
        assert saved.decode(ids[:-1]) in texts


def _request_and_chunk(record: dict, fmt: DatasetFormat) -> tuple[str, str]:
    if fmt is DatasetFormat.input_response:
        return record["input"], record["response"]
    if fmt is DatasetFormat.conversations:
        return record["conversations"][0]["value"], record["conversations"][1]["value"]
    return record["messages"][0]["content"], record["messages"][1]["content"]


def _masked_split(ids: list[int], labels: list[int]) -> int:
    """Where scoring starts; checks the mask is one prompt prefix, then the scored response."""
    start = next(i for i, label in enumerate(labels) if label != IGNORE)
    assert start > 0, "the prompt is scored"
    assert all(label == IGNORE for label in labels[:start])
    assert labels[start:] == ids[start:], "a response token is masked or mislabelled"
    return start


@pytest.mark.parametrize(
    "fmt",
    [DatasetFormat.messages, DatasetFormat.conversations, DatasetFormat.input_response],
)
def test_prompt_formats_score_only_the_response(
    fmt: DatasetFormat, tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset = dataset_for(fmt, tmp_path)
    settings = SETTINGS.model_copy(update={"max_steps": 2, "max_length": 256})
    adapter, report, sequences = train_lora(
        tiny_model_dir, dataset, fmt, settings, tmp_path / "work", checkpoints_in(tmp_path)
    )
    assert report.steps == 2 and report.train_tokens > 0
    assert math.isfinite(report.fine_tuned_perplexity)
    tok = AutoTokenizer.from_pretrained(adapter)

    pairs = [_request_and_chunk(dict(r), fmt) for r in dataset["validation"]]
    assert sequences.token_ids
    for ids, labels in zip(sequences.token_ids, sequences.labels, strict=True):
        start = _masked_split(ids, labels)
        prompt, response = tok.decode(ids[:start]), tok.decode(ids[start:])
        matches = [(q, a) for q, a in pairs if q in prompt]
        assert len(matches) == 1, prompt
        chunk = matches[0][1]
        assert chunk not in prompt
        if fmt is DatasetFormat.input_response:
            assert prompt.endswith("”.")  # the request ends on text: no token straddles it
            response = response.removeprefix(PROMPT_SEPARATOR)  # the model writes the break
        assert response.startswith(chunk)
        assert tok.eos_token_id in labels[start:], "EOS is not trained"
        if fmt is DatasetFormat.input_response:
            assert labels[-1] == tok.eos_token_id
        else:
            assert prompt.rstrip().endswith("<|im_start|>assistant")


# resume ---------------------------------------------------------------------------------------


class Crash(Exception):
    pass


class CrashAfterStoring:
    """A CheckpointSync that stores each checkpoint, then dies right after the named one."""

    def __init__(self, inner: StoreCheckpoints, crash_after: str) -> None:
        self.inner = inner
        self.crash_after = crash_after

    def latest(self, local_dir: Path) -> Path | None:
        return self.inner.latest(local_dir)

    def save(self, checkpoint: Path) -> None:
        self.inner.save(checkpoint)
        if checkpoint.name == self.crash_after:
            raise Crash(checkpoint.name)


@pytest.mark.slow  # trains, is killed and trains again
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset = dataset_for(DatasetFormat.completion, tmp_path)
    settings = SETTINGS.model_copy(update={"max_steps": 8, "eval_steps": 4})
    shared = checkpoints_in(tmp_path / "shared")

    with pytest.raises(Crash):
        train_lora(
            tiny_model_dir,
            dataset,
            DatasetFormat.completion,
            settings,
            tmp_path / "run-a",
            CrashAfterStoring(shared, "checkpoint-4"),
            log=lambda _: None,
        )
    assert shared.steps() == [2, 4]
    stored_state = shared.store.read_tree("ckpt/checkpoint-4") / "trainer_state.json"
    tokens_before_crash = json.loads(stored_state.read_text())["num_input_tokens_seen"]
    assert tokens_before_crash > 0

    logs: list[str] = []
    adapter_b, report_b, _ = train_lora(
        tiny_model_dir,
        dataset,
        DatasetFormat.completion,
        settings,
        tmp_path / "run-b",  # a fresh machine: nothing local survived
        shared,
        log=logs.append,
    )
    assert any(line.startswith("resuming from checkpoint-4") for line in logs)
    assert report_b.resumed_from_step == 4
    assert report_b.steps == 8
    assert shared.steps() == [6, 8]

    adapter_c, report_c, _ = train_lora(
        tiny_model_dir,
        dataset,
        DatasetFormat.completion,
        settings,
        tmp_path / "run-c",
        checkpoints_in(tmp_path / "uninterrupted"),
        log=lambda _: None,
    )
    assert report_c.resumed_from_step == 0 and report_c.steps == 8

    weights_b = load_file(str(adapter_b / "adapter_model.safetensors"))
    weights_c = load_file(str(adapter_c / "adapter_model.safetensors"))
    assert weights_b.keys() == weights_c.keys()
    for name, tensor in weights_c.items():
        torch.testing.assert_close(weights_b[name], tensor, rtol=1e-6, atol=1e-8, msg=name)
    assert any("lora_B" in k and t.abs().sum() > 0 for k, t in weights_c.items())
    assert report_b.fine_tuned_perplexity == pytest.approx(report_c.fine_tuned_perplexity)
    assert report_b.eval_loss[-1] == pytest.approx(report_c.eval_loss[-1])

    # The resumed run's throughput counts only the tokens it trained on itself.
    assert report_b.train_tokens < report_c.train_tokens
    assert report_b.train_tokens == report_c.train_tokens - tokens_before_crash
    assert report_b.tokens_per_second == pytest.approx(
        report_b.train_tokens / report_b.train_seconds
    )


# nf4 (QLoRA) on CPU ---------------------------------------------------------------------------

NF4_SETTINGS = TrainingSettings(
    **SETTINGS.model_dump()
    | {
        "quantization": "nf4",
        "optimizer": "paged_adamw_8bit",
        # Rank 64 takes the tiny model's LoRA matrices to bitsandbytes' 4096-element floor for
        # 8-bit optimizer state (smaller ones keep 32-bit state), so both kinds are exercised.
        "lora_r": 64,
        "lora_alpha": 64,
        "max_steps": 8,
    }
)


def test_train_lora_in_nf4_learns_says_so_and_its_adapter_reloads(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset = dataset_for(DatasetFormat.completion, tmp_path)
    logs: list[str] = []
    adapter, report, sequences = train_lora(
        tiny_model_dir,
        dataset,
        DatasetFormat.completion,
        NF4_SETTINGS,
        tmp_path / "work",
        checkpoints_in(tmp_path),
        log=logs.append,
    )
    assert report.hardware.device is Device.cpu
    assert report.hardware.quantization is Quantization.nf4
    assert report.hardware.optimizer is Optimizer.paged_adamw_8bit
    assert any("quantization nf4, optimizer paged_adamw_8bit" in line for line in logs)
    assert TrainingReport.from_json(report.to_json()) == report
    assert report.steps == 8

    # It learned: validation loss falls at every evaluation, and so does perplexity.
    eval_losses = [loss for _, loss in report.eval_loss]
    assert len(eval_losses) == 4 and eval_losses == sorted(eval_losses, reverse=True)
    assert report.fine_tuned_perplexity < report.base_perplexity

    # The adapter reloads onto the nf4 base and scores what training reported; onto the
    # 16-bit base it scores differently, so the report's figures are the nf4 model's.
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (64, 64)
    reloaded = load_adapted_model(tiny_model_dir, adapter, report.hardware)
    assert sum(isinstance(m, Linear4bit) for m in reloaded.modules()) == 2 * 7
    assert hf_perplexity(reloaded, sequences) == pytest.approx(
        report.fine_tuned_perplexity, rel=1e-4
    )
    assert hf_perplexity(reloaded, sequences, disable_adapter=True) == pytest.approx(
        report.base_perplexity, rel=1e-4
    )
    full = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    on_16bit = PeftModel.from_pretrained(full, adapter)
    assert hf_perplexity(on_16bit, sequences) != pytest.approx(
        report.fine_tuned_perplexity, rel=1e-3
    )


def test_nf4_on_an_already_quantized_base_is_refused_before_anything_is_written(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    base = shutil.copytree(tiny_model_dir, tmp_path / "fp8-base")
    config = json.loads((base / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "fp8", "weight_block_size": [128, 128]}
    (base / "config.json").write_text(json.dumps(config))
    checkpoints = checkpoints_in(tmp_path)
    with pytest.raises(ValueError, match=r"already quantized \(fp8\); nf4 needs 16- or 32-bit"):
        train_lora(
            base,
            dataset_for(DatasetFormat.completion, tmp_path),
            DatasetFormat.completion,
            NF4_SETTINGS,
            tmp_path / "work",
            checkpoints,
        )
    assert not (tmp_path / "work").exists() and checkpoints.steps() == []


# Losses are logged every eval_steps // 2 = 2 steps, as checkpoints are saved: each logged
# loss of the resumed run covers the same steps as the uninterrupted run's.
KILL_SETTINGS = NF4_SETTINGS.model_copy(update={"max_steps": 12, "eval_steps": 4})


def train_nf4_until_done(base_dir: Path, work_dir: Path, store_root: Path) -> TrainingReport:
    """The run the kill test interrupts (in a child process) and repeats (in this one)."""
    _, report, _ = train_lora(
        base_dir,
        dataset_for(DatasetFormat.completion, store_root.parent),
        DatasetFormat.completion,
        KILL_SETTINGS,
        work_dir,
        checkpoints_in(store_root),
        log=lambda _: None,
    )
    return report


_CHILD = """
import sys
from pathlib import Path
import torch
torch.set_num_threads(1)  # as this test process trains, so both compute the same steps
from llmft_assets_tests.modeling.test_training import train_nf4_until_done
train_nf4_until_done(*map(Path, sys.argv[1:]))
"""
_REPOSITORY = Path(__file__).parents[2]


@pytest.mark.slow  # trains, is killed and trains again
def test_nf4_training_killed_mid_run_resumes_with_its_8bit_optimizer_state(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    shared = checkpoints_in(tmp_path / "shared")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, tiny_model_dir, tmp_path / "run-a", tmp_path / "shared"],
        cwd=_REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not shared.steps() and time.monotonic() < deadline:
        assert child.poll() is None, "training ended before its first checkpoint was stored"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)  # the machine goes away mid-run
    child.wait()
    stored = shared.steps()
    assert stored and stored[-1] < KILL_SETTINGS.max_steps
    step = stored[-1]

    # The stored checkpoint holds no pickle, and turns back into the optimizer state the
    # trainer saved: bitsandbytes' 8-bit moments (uint8, with their quantization maps and
    # block scales) and the 32-bit state of the matrices below its size floor, bit for bit.
    name = f"checkpoint-{step}"
    stored_files = {p.name for p in shared.store.read_tree(f"ckpt/{name}").iterdir()}
    assert not any(file.endswith((".pt", ".pth", ".bin")) for file in stored_files)
    assert {"optimizer.pt.json", "optimizer.pt.safetensors"} <= stored_files
    restored_dir = shared.latest(tmp_path / "restored")
    with safe_globals():
        saved = torch.load(
            tmp_path / "run-a" / "trainer" / name / "optimizer.pt", weights_only=True
        )
        restored = torch.load(restored_dir / "optimizer.pt", weights_only=True)
    assert_same(restored, saved)
    quant_states = [s["__bnb_optimizer_quant_state__"] for s in restored["state"].values()]
    assert any(q["state1"].dtype == torch.uint8 and "qmap1" in q for q in quant_states)
    assert any(q["state1"].dtype == torch.float32 for q in quant_states)

    logs: list[str] = []
    _, resumed, _ = train_lora(
        tiny_model_dir,
        dataset_for(DatasetFormat.completion, tmp_path),
        DatasetFormat.completion,
        KILL_SETTINGS,
        tmp_path / "run-b",  # a fresh machine: nothing local survived
        shared,
        log=logs.append,
    )
    assert any(line.startswith(f"resuming from {name}") for line in logs)
    assert resumed.resumed_from_step == step
    assert resumed.steps == KILL_SETTINGS.max_steps
    uninterrupted = train_nf4_until_done(tiny_model_dir, tmp_path / "run-c", tmp_path / "c")
    assert uninterrupted.resumed_from_step == 0

    # Loss goes on where it left off: every step after the resume, and the last evaluation,
    # are those of the run that was never interrupted.
    after = {s: loss for s, loss in uninterrupted.train_loss if s > step}
    resumed_after = {s: loss for s, loss in resumed.train_loss if s > step}
    assert after and resumed_after == pytest.approx(after, rel=1e-6)
    assert resumed.eval_loss[-1] == pytest.approx(uninterrupted.eval_loss[-1], rel=1e-6)
    assert resumed.fine_tuned_perplexity == pytest.approx(
        uninterrupted.fine_tuned_perplexity, rel=1e-6
    )
