"""An Ollama Modelfile for the exported GGUF, with the template the model was trained on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from llmft_assets.training_data.formats import CHAT_FORMATS, DatasetFormat

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

CHATML_TEMPLATE = (
    "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n"
)
LLAMA3_TEMPLATE = (
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
    "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>"
)
PLAIN_TEMPLATE = "{{ .Prompt }}{{ .Response }}"
_CHATML_SYSTEM = re.compile(r"^<\|im_start\|>system\n(?P<system>.*?)<\|im_end\|>", re.S)


def default_system_prompt(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """The system turn a chat template adds by itself (SmolLM2 adds one), so Ollama prompts
    the model the way training did."""
    if not tokenizer.chat_template:
        return None
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "."}], tokenize=False)
    match = _CHATML_SYSTEM.match(rendered)
    return match.group("system") if match else None


def modelfile(
    gguf_name: str,
    chat_template: str | None,
    eos_token: str,
    fmt: DatasetFormat,
    num_ctx: int,
    system: str | None = None,
    temperature: float = 0.7,
) -> str:
    """Modelfile text for a model fine-tuned on data of format `fmt`: chat formats get the
    chat template and its stops; completion and input_response continue the prompt (an
    input_response model writes the separator before its response itself, as trained)."""
    template, stops = PLAIN_TEMPLATE, [eos_token]
    if fmt in CHAT_FORMATS and chat_template and "<|im_start|>" in chat_template:
        template, stops = CHATML_TEMPLATE, ["<|im_start|>", "<|im_end|>"]
    elif fmt in CHAT_FORMATS and chat_template and "<|start_header_id|>" in chat_template:
        template, stops = LLAMA3_TEMPLATE, ["<|start_header_id|>", "<|eot_id|>"]
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    if system and template in (CHATML_TEMPLATE, LLAMA3_TEMPLATE):
        lines.append(f'SYSTEM """{system}"""')
    lines += [f'PARAMETER stop "{stop}"' for stop in dict.fromkeys(stops)]
    lines += [f"PARAMETER temperature {temperature}", f"PARAMETER num_ctx {num_ctx}"]
    return "\n".join(lines) + "\n"
