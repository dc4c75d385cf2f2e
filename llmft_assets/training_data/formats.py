"""Training records from chunks, in the formats fine-tuning scripts expect.

- `completion`: {"text": chunk}; the model learns to continue the corpus.
- `conversations`: ShareGPT turns; a human asks for the post (or book passage) by title.
- `messages`: the same exchange as role/content messages; the base model's chat template is
  applied at training time.
- `input_response`: {"input": request, "response": chunk}; the loss is masked on the input.
"""

from __future__ import annotations

from enum import StrEnum

from llmft_assets.sources.registry import source_named

# Opens an input_response completion: what the model writes between request and response.
PROMPT_SEPARATOR = "\n\n"


class DatasetFormat(StrEnum):
    # Lowercase names: Dagster's launchpad shows and takes an enum's names.
    completion = "completion"
    conversations = "conversations"
    messages = "messages"
    input_response = "input_response"


CHAT_FORMATS = frozenset({DatasetFormat.conversations, DatasetFormat.messages})


def request_for(source: str, title: str, part: int, parts: int) -> str:
    """What a user would ask for to get this chunk; its source names the kind of text."""
    kind = source_named(source).request
    if parts == 1:
        return f"Write a {kind} titled “{title}”."
    return f"Write part {part} of {parts} of the {kind} titled “{title}”."


def to_record(fmt: DatasetFormat, request: str, chunk: str) -> dict[str, object]:
    if fmt is DatasetFormat.completion:
        return {"text": chunk}
    if fmt is DatasetFormat.conversations:
        return {
            "conversations": [
                {"from": "human", "value": request},
                {"from": "gpt", "value": chunk},
            ]
        }
    if fmt is DatasetFormat.messages:
        return {
            "messages": [
                {"role": "user", "content": request},
                {"role": "assistant", "content": chunk},
            ]
        }
    return {"input": request, "response": chunk}
