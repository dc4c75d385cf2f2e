"""How patient and how trusting reading one document is, wherever it lives.

One model for every source: HTTP downloads use all of it; local files and S3 objects use the
size cap and the deadline. Each source's settings extend it, and its Dagster resource is
those settings, so the fields below are also the resources' config.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024


class FetchPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    connect_timeout_s: float = Field(default=10.0, description="Connect timeout of one request.")
    timeout_s: float = Field(default=60.0, description="Read timeout of one HTTP request.")
    max_attempts: int = Field(default=4, description="Attempts per download (5xx, timeouts).")
    backoff_s: float = Field(
        default=1.0, description="Wait before the first retry; it doubles for each next one."
    )
    max_bytes: int = Field(
        default=50 * MIB, description="Documents larger than this are set aside."
    )
    deadline_s: float = Field(
        default=600.0,
        description="Longest one document's transfer or read may take, however slowly its"
        " bytes trickle in.",
    )
