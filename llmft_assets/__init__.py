"""llmft: your own text into a fine-tuned, quantized language model, as Dagster assets.

The core packages (sources, cleaning, chunking, training_data, modeling, export, storage)
import no Dagster: each stage is one settings model, one `run_<stage>` function and one typed
report (`reports.Report`). `defs` puts thin assets over them; `definitions.defs` is the code
location.
"""
