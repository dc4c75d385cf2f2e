"""Chunking, without Dagster: cleaned documents into chunks sized in a tokenizer's tokens.

`stage.run_chunking` is the `text_chunks` stage (duplicates dropped, book prose reflowed, each
document chunked; a `ChunkingReport`); `chunker` splits one text at paragraph and sentence
bounds, `reflow` joins hard-wrapped prose, `tokens` counts tokens exactly and fast.
"""
