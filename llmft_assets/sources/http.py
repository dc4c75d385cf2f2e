"""Bounded HTTP downloads: timeouts, retries with backoff on 5xx/429/timeouts, a size cap."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlparse

import requests

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = "llmft/0.1 (+https://github.com/llmft)"


class FetchError(Exception):
    """A download failed for good (after retries, or with a status that retrying won't fix)."""


@dataclass(frozen=True)
class HttpPolicy:
    """How patient and how trusting a download is."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_attempts: int = 4
    backoff_s: float = 1.0
    max_bytes: int = 50 * 1024 * 1024
    deadline_s: float = 600.0  # one attempt's whole transfer, however slowly bytes trickle


def fetch_bytes(url: str, policy: HttpPolicy, session: requests.Session | None = None) -> bytes:
    """GET `url` and return its body, retrying transient failures with exponential backoff."""
    if urlparse(url).scheme not in ("http", "https"):
        raise FetchError(f"refusing to fetch non-HTTP URL {url!r}")
    http = session or requests.Session()
    last_problem = ""
    for attempt in range(policy.max_attempts):
        if attempt:
            time.sleep(policy.backoff_s * 2 ** (attempt - 1))
        try:
            with http.get(
                url,
                stream=True,
                timeout=(policy.connect_timeout_s, policy.read_timeout_s),
                headers={"User-Agent": _USER_AGENT},
            ) as response:
                if response.status_code in _RETRY_STATUS:
                    last_problem = f"HTTP {response.status_code}"
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code} for {url}")
                return _read_capped(response, url, policy)
        except (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as error:
            last_problem = f"{type(error).__name__}: {error}"
        except requests.RequestException as error:  # bad URL, redirect loop: retrying won't help
            raise FetchError(f"{url}: {type(error).__name__}: {error}") from error
    raise FetchError(f"{url} failed after {policy.max_attempts} attempts ({last_problem})")


def _read_capped(response: requests.Response, url: str, policy: HttpPolicy) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(f"{url} is {int(declared)} bytes, over the {policy.max_bytes}-byte cap")
    body = bytearray()
    started = time.monotonic()
    for block in response.iter_content(chunk_size=64 * 1024):
        body.extend(block)
        if len(body) > policy.max_bytes:
            raise FetchError(f"{url} exceeds the {policy.max_bytes}-byte cap")
        if time.monotonic() - started > policy.deadline_s:
            raise requests.Timeout(f"{url} took over {policy.deadline_s:.0f} s to download")
    return bytes(body)
