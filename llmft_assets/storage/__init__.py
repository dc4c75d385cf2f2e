"""Where artifacts live, without Dagster: a local folder or S3 behind one `ArtifactStore`.

`layout` names where each asset keeps its files; `artifacts` writes files atomically and model
trees as content-addressed versions behind a pointer; `backends` speaks to the folder or the
bucket with retries; `checkpoints` keeps training checkpoints in the store; `tensor_tree`
stores optimizer and RNG state as safetensors and JSON instead of pickles.
"""
