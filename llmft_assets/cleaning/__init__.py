"""One raw document in, its text out (`documents.clean_document`): decoding, then by kind a
post's main article (`html`), a book without Project Gutenberg's header and licence
(`gutenberg`) or a note as written (`text`); boilerplate-only input is an error, not text.
`dedup` finds duplicate documents for chunking."""
