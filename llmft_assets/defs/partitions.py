"""One dynamic partition per document, registered by `document_catalog` when it is found.

Each source has its own partition set (a post is not a book); `cleaned_documents` spans
both. Document ids carry their source as a prefix (`blog-...`, `gutenberg-...`), so the same
key names a document in its source's set and in `documents`.
"""

import dagster as dg

blog_post_partitions = dg.DynamicPartitionsDefinition(name="blog_posts")
book_partitions = dg.DynamicPartitionsDefinition(name="gutenberg_books")
document_partitions = dg.DynamicPartitionsDefinition(name="documents")

# A backfill over thousands of documents runs as one run per range, not one per document.
ONE_RUN_PER_RANGE = dg.BackfillPolicy.single_run()
