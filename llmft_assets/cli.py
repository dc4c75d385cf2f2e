"""`python -m llmft_assets`: the pipeline from the command line.

`pipeline` materializes every asset, step by step, with `dagster asset materialize`.

`clean PATH...` shows what cleaning does to a document before it goes into a run: it reads
each file as the sources do (regular files only, bounded in bytes and time) and calls the
same `clean_document` as the `cleaned_documents` asset. A bad file gets an error line (on
stderr, or as an `error` field with --jsonl) and the other files still print.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from llmft_assets.cleaning.documents import DocumentKind, clean_document
from llmft_assets.errors import DocumentError
from llmft_assets.sources.naming import document_id
from llmft_assets.sources.policy import FetchPolicy
from llmft_assets.sources.reading import read_file


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmft_assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    clean = commands.add_parser("clean", help="print the cleaned text of documents")
    clean.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    clean.add_argument("--kind", choices=[k.value for k in DocumentKind], help="skip detection")
    clean.add_argument("--jsonl", action="store_true", help="one JSON object per file")
    pipeline = commands.add_parser(
        "pipeline", help="materialize every asset into the instance in $DAGSTER_HOME"
    )
    pipeline.add_argument("--config", type=Path, help="run config YAML (ops: {asset: ...})")
    args = parser.parse_args(argv)
    if args.command == "pipeline":
        from llmft_assets.pipeline import run_pipeline

        return run_pipeline(args.config)
    return _clean(args.paths, DocumentKind(args.kind) if args.kind else None, args.jsonl)


def _clean(paths: list[Path], kind: DocumentKind | None, jsonl: bool) -> int:
    failures = 0
    policy = FetchPolicy()
    for index, path in enumerate(paths):
        try:
            data = read_file(path, policy)
            document = clean_document(
                data,
                doc_id=document_id("file", path.stem),
                source="file",
                kind=kind,
                file_name=path.name,
            )
        except (OSError, DocumentError) as error:
            failures += 1
            message = (
                error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            )
            if jsonl:
                print(json.dumps({"path": str(path), "error": message}, ensure_ascii=False))
            else:
                print(f"error: {path}: {message}", file=sys.stderr)
            continue
        if jsonl:
            record = {
                "path": str(path),
                "kind": document.kind,
                "title": document.title,
                "text": document.text,
            }
            print(json.dumps(record, ensure_ascii=False))
        else:
            if len(paths) > 1:
                separator = "\n" if index else ""
                print(f"{separator}==> {path} ({document.kind}): {document.title} <==")
            print(document.text)
    return 1 if failures else 0
