"""Export, without Dagster: a merged model to llama.cpp GGUF files and an Ollama Modelfile.

`stage.run_export` is the `gguf_model` stage (f16 and the quantizations `ExportSettings` asks
for, each smoke-tested and scored; an `ExportReport`); `gguf` converts, quantizes and
smoke-tests, with `GGUF_TYPES`, the one table of GGUF kinds and their perplexity bounds;
`converter` fetches llama.cpp's converter; `modelfile` writes the Modelfile.
"""
