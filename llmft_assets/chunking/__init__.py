"""Chunking, without Dagster: cleaned documents into chunks sized in a tokenizer's tokens.

`stage.run_batch_chunking` is the `batch_chunks` stage (a batch's documents chunked and
fingerprinted in resumable shards), `stage.run_chunking` the `text_chunks` stage (every
batch's shards merged, duplicates dropped; a `ChunkingReport`); `chunker` splits one text at
paragraph and sentence bounds, `reflow` joins hard-wrapped prose, `tokens` counts tokens
exactly and fast.
"""
