"""An Ollama Modelfile for the exported GGUF, with the template the model was trained on."""

from __future__ import annotations

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


def modelfile(
    gguf_name: str,
    chat_template: str | None,
    eos_token: str,
    chat: bool,
    num_ctx: int,
    temperature: float = 0.7,
) -> str:
    """Modelfile text. `chat` says whether the model was trained on chat turns; a model
    trained on plain text continues its prompt instead."""
    template, stops = PLAIN_TEMPLATE, [eos_token]
    if chat and chat_template and "<|im_start|>" in chat_template:
        template, stops = CHATML_TEMPLATE, ["<|im_start|>", "<|im_end|>"]
    elif chat and chat_template and "<|start_header_id|>" in chat_template:
        template, stops = LLAMA3_TEMPLATE, ["<|start_header_id|>", "<|eot_id|>"]
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    lines += [f'PARAMETER stop "{stop}"' for stop in dict.fromkeys(stops)]
    lines += [f"PARAMETER temperature {temperature}", f"PARAMETER num_ctx {num_ctx}"]
    return "\n".join(lines) + "\n"
