"""Ollama Modelfiles: the template and stop tokens the model was trained with."""

from __future__ import annotations

import re

import pytest

from llmft_assets.export.modelfile import (
    CHATML_TEMPLATE,
    LLAMA3_TEMPLATE,
    PLAIN_TEMPLATE,
    default_system_prompt,
    modelfile,
)
from llmft_assets.training_data.formats import DatasetFormat
from llmft_assets_tests.tiny_model import smollm2_tokenizer

LLAMA3_CHAT_TEMPLATE = (
    "{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>"
    "\n\n{{ message['content'] }}<|eot_id|>{% endfor %}"
)


def parse(text: str) -> dict[str, object]:
    assert text.endswith("\n")
    template = re.search(r'^TEMPLATE """(.*?)"""$', text, flags=re.M | re.S)
    assert template is not None
    return {
        "from": re.findall(r"^FROM (.+)$", text, flags=re.M),
        "template": template.group(1),
        "stops": re.findall(r'^PARAMETER stop "(.*)"$', text, flags=re.M),
        "parameters": dict(re.findall(r"^PARAMETER (?!stop )(\S+) (.+)$", text, flags=re.M)),
    }


def test_a_chatml_chat_model_gets_the_chatml_template_and_stops() -> None:
    tokenizer = smollm2_tokenizer()  # SmolLM2: a ChatML template, EOS <|im_end|>
    text = modelfile(
        "model-Q4_K_M.gguf",
        tokenizer.chat_template,
        tokenizer.eos_token,
        fmt=DatasetFormat.messages,
        num_ctx=2048,
    )
    parsed = parse(text)
    assert parsed["from"] == ["./model-Q4_K_M.gguf"]
    assert parsed["template"] == CHATML_TEMPLATE
    assert parsed["stops"] == ["<|im_start|>", "<|im_end|>"]  # no duplicate of EOS
    assert parsed["parameters"] == {"temperature": "0.7", "num_ctx": "2048"}


def test_a_llama3_chat_model_gets_the_llama3_template_and_stops() -> None:
    parsed = parse(
        modelfile(
            "m.gguf", LLAMA3_CHAT_TEMPLATE, "<|eot_id|>", fmt=DatasetFormat.messages, num_ctx=8192
        )
    )
    assert parsed["template"] == LLAMA3_TEMPLATE
    assert parsed["stops"] == ["<|start_header_id|>", "<|eot_id|>"]
    assert parsed["parameters"]["num_ctx"] == "8192"


@pytest.mark.parametrize("template", [CHATML_TEMPLATE, LLAMA3_CHAT_TEMPLATE, None])
def test_a_completion_model_continues_its_prompt_and_stops_at_eos(template: str | None) -> None:
    """Trained on plain text, a model never saw chat turns: no chat template, whatever the
    tokenizer ships, and its own EOS ends the answer."""
    parsed = parse(
        modelfile("m.gguf", template, "<|im_end|>", fmt=DatasetFormat.completion, num_ctx=1024)
    )
    assert parsed["template"] == PLAIN_TEMPLATE
    assert parsed["stops"] == ["<|im_end|>"]


def test_parameters_and_from_line() -> None:
    text = modelfile(
        "model f16.gguf", None, "</s>", fmt=DatasetFormat.completion, num_ctx=512, temperature=0.2
    )
    parsed = parse(text)
    assert text.startswith("FROM ./model f16.gguf\n")
    assert parsed["from"] == ["./model f16.gguf"]
    assert parsed["parameters"] == {"temperature": "0.2", "num_ctx": "512"}
    assert parsed["stops"] == ["</s>"]


def test_the_templates_fill_the_prompt_and_the_response() -> None:
    for template in (CHATML_TEMPLATE, LLAMA3_TEMPLATE, PLAIN_TEMPLATE):
        assert "{{ .Prompt }}" in template and "{{ .Response }}" in template
    assert "{{ .System }}" in CHATML_TEMPLATE and "{{ .System }}" in LLAMA3_TEMPLATE
    # The ChatML turn is exactly what SmolLM2's own template writes for a user message.
    tokenizer = smollm2_tokenizer()
    rendered = tokenizer.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "P"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    ollama = CHATML_TEMPLATE.replace("{{ if .System }}", "").replace("{{ if .Prompt }}", "")
    ollama = ollama.replace("{{ end }}", "").replace("{{ .System }}", "S")
    ollama = ollama.replace("{{ .Prompt }}", "P").split("{{ .Response }}")[0]
    assert ollama == rendered


def test_an_input_response_model_continues_its_prompt() -> None:
    """It learned to write the separator before its response: the prompt goes in as is."""
    parsed = parse(modelfile("m.gguf", None, "<|im_end|>", DatasetFormat.input_response, 512))
    assert parsed["template"] == PLAIN_TEMPLATE


def test_the_default_system_prompt_of_the_template_is_kept() -> None:
    tokenizer = smollm2_tokenizer()
    system = default_system_prompt(tokenizer)
    assert system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    text = modelfile(
        "m.gguf", tokenizer.chat_template, "<|im_end|>", DatasetFormat.messages, 512, system
    )
    assert f'SYSTEM """{system}"""' in text
    plain = modelfile(
        "m.gguf", tokenizer.chat_template, "<|im_end|>", DatasetFormat.completion, 512, system
    )
    assert "SYSTEM" not in plain  # a completion model has no system turn
