"""One dynamic partition per batch of documents, registered by `document_catalog` when it makes
the batch (see sources/batches.py for why batches, not documents).

Each source has its own partition set of its batches (a post is not a book), named by its
`Source`; `cleaned_documents` spans them all. Batch keys carry their source as a prefix
(`blog-batch-00000`), so the same key names a batch in its source's set and in
`document_batches`.
"""

import dagster as dg

from llmft_assets.sources.registry import SOURCES

SOURCE_PARTITIONS = {
    source.name: dg.DynamicPartitionsDefinition(name=source.partitions) for source in SOURCES
}
document_batches = dg.DynamicPartitionsDefinition(name="document_batches")

# A backfill runs one run per batch: the deployment's run launcher (a process, a Docker
# container, an ECS task or a Kubernetes job per run) runs batches side by side, as many as its
# run coordinator allows. Dagster's CLI refuses --partition-range for such assets: one command
# per batch (--partition), as the pipeline command does.
ONE_RUN_PER_BATCH = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
