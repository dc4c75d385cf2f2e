"""Where documents come from, and reading them safely.

- `registry.SOURCES`: one `source.Source` per source (`blog`, `gutenberg`, `notes`), each in
  its own module with its `SourceSettings` (discovery and fetching); everything else about a
  source (its asset, partition set, resource, request wording, reflow) derives from it.
- `policy.FetchPolicy`: the one model of timeouts, retries, size cap and deadline.
- `reading.read_file`: the one bounded reader of local files; `http.fetch_bytes` for the web;
  `catalog`: entries, folder/S3/URL listing and `fetch_document`; `gutendex`: the book API.
- `stages`: the ingestion stages as core functions with typed reports: `run_discovery`,
  `run_fetch`, `run_cleaning`.
"""
