"""Document ids that are safe as Dagster partition keys, file names and S3 keys.

Names arrive from file names, URLs and APIs, so they are reduced to `[a-z0-9._-]`, never
start with a dot, and are bounded in length; when that changed the name, a short hash of the
original keeps two different inputs from colliding.
"""

from __future__ import annotations

import hashlib
import re

MAX_ID_CHARS = 96
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def document_id(source: str, name: str) -> str:
    """`document_id("blog", "My Post!.html")` -> `blog-my-post-3f2a9c1d`."""
    safe = _UNSAFE.sub("-", name.lower()).strip("-.")
    safe = re.sub(r"-{2,}", "-", safe)
    if not safe or safe != name or len(safe) > MAX_ID_CHARS - len(source) - 10:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe[: MAX_ID_CHARS - len(source) - 10]}-{digest}".strip("-")
    return f"{source}-{safe}"
