"""One dynamic partition per document, registered by `document_catalog` when it is found.

Each source has its own partition set (a post is not a book), named by its `Source`;
`cleaned_documents` spans them all. Document ids carry their source as a prefix (`blog-...`,
`gutenberg-...`), so the same key names a document in its source's set and in `documents`.
"""

import dagster as dg

from llmft_assets.sources.registry import SOURCES

SOURCE_PARTITIONS = {
    source.name: dg.DynamicPartitionsDefinition(name=source.partitions) for source in SOURCES
}
document_partitions = dg.DynamicPartitionsDefinition(name="documents")

# A backfill over thousands of documents runs as one run per range, not one per document.
ONE_RUN_PER_RANGE = dg.BackfillPolicy.single_run()
