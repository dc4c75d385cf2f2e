"""llmft: your own text into a fine-tuned, quantized language model, as Dagster assets.

The core packages (sources, cleaning, chunking, training_data, modeling, export, storage)
import no Dagster: each stage is one settings model, one `run_<stage>` function and one typed
report (`reports.Report`). `defs` puts thin assets over them; `definitions.defs` is the code
location.

Loading the code location must stay cheap, because Dagster loads it in every run worker,
sensor tick and `dagster asset materialize`: the model libraries (torch, transformers, peft,
trl, datasets, bitsandbytes, matplotlib, safetensors) are imported inside the functions that
use them, and by type annotations only under `TYPE_CHECKING`. A test guards this.
"""
