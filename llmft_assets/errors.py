"""The two ways input goes wrong: one bad document, or a whole source that cannot be used.

A `DocumentError` is set aside with its reason and the run goes on; a `SourceError` stops
the step, because nothing downstream would be meaningful without that source.
"""


class DocumentError(ValueError):
    """One document cannot be used; the message says why in words a user can act on."""


class SourceError(RuntimeError):
    """A whole source (folder, bucket prefix, API) is unusable; the message names it."""
