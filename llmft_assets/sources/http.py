"""Bounded HTTP downloads: timeouts, retries with backoff on 5xx/429/timeouts, a size cap."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import requests

from llmft_assets.sources.policy import FetchPolicy

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = "llmft/0.1 (+https://github.com/llmft)"


class FetchError(Exception):
    """A download failed for good (after retries, or with a status that retrying won't fix)."""


def fetch_bytes(url: str, policy: FetchPolicy, session: requests.Session | None = None) -> bytes:
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
                timeout=(policy.connect_timeout_s, policy.timeout_s),
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


def _read_capped(response: requests.Response, url: str, policy: FetchPolicy) -> bytes:
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
