"""The dataset card (README.md) saved beside the dataset: sources, counts and licence."""

from __future__ import annotations

import pandas as pd

from llmft_assets.sources.registry import SOURCES
from llmft_assets.training_data.formats import DatasetFormat


def dataset_card(
    documents: pd.DataFrame,
    splits: dict[str, tuple[int, int]],
    fmt: DatasetFormat,
    tokenizer_name: str,
) -> str:
    """`documents`: one row per document (doc_id, source, title, url, language); `splits`:
    each split's records and tokens. Per document, not per chunk, so that the card of a large
    corpus needs no chunk in memory."""
    by_source = documents.groupby("source").size().to_dict()
    counts = ", ".join(f"{by_source[s.name]} {s.plural}" for s in SOURCES if s.name in by_source)
    languages = sorted({lang for lang in documents.get("language", []) if lang}) or ["en"]
    rows = "\n".join(
        f"| {name} | {records} | {tokens} |" for name, (records, tokens) in splits.items()
    )
    sources = "\n".join(
        f"- `{r.doc_id}`: {r.title} ({r.source}{', ' + r.url if r.url else ''})"
        for r in documents.sort_values("doc_id").itertuples()
    )
    language_lines = "\n".join(f"- {lang}" for lang in languages)
    return f"""---
license: other
language:
{language_lines}
task_categories:
- text-generation
pretty_name: llmft training dataset
---

# llmft training dataset

Built by the llmft Dagster pipeline from {len(documents)} documents
({counts}),
cleaned, deduplicated and chunked in tokens of `{tokenizer_name}`. Format: `{fmt.value}`.
Train and validation are split by document: no document is in both.

| split | records | tokens |
|---|---|---|
{rows}

## Licence

- Project Gutenberg books are in the public domain in the United States. Their Project
  Gutenberg header, licence and footer were removed, so the texts carry no Project Gutenberg
  trademark; check the copyright law of your country before redistributing.
- Blog posts keep their authors' copyright; use them only with the authors' permission.

## Sources

{sources}
"""
