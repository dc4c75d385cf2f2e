"""A Gutendex-shaped HTTP server on 127.0.0.1 that also serves the book files, with switches
for the ways a real server misbehaves: 500s (a few times or always), hanging past the client's
read timeout, malformed JSON, a 404 for one download, a body larger than the client's cap."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from llmft_assets.sources.policy import FetchPolicy

REAL_GUTENDEX = "https://gutendex.com"
_HANG_LIMIT_S = 10.0


def fast_policy(**overrides: object) -> FetchPolicy:
    """Fast backoff, so retries cost milliseconds. The read timeout stays generous: tests that
    need a timeout to fire (against a hanging server) pass a small one themselves."""
    values: dict[str, object] = {
        "connect_timeout_s": 5.0,
        "timeout_s": 5.0,
        "max_attempts": 3,
        "backoff_s": 0.01,
        "max_bytes": 1 << 20,
    }
    values.update(overrides)
    return FetchPolicy(**values)  # type: ignore[arg-type]


@dataclass
class Served:
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    send_length: bool = True  # False: no Content-Length, the body ends when the socket closes


@dataclass
class SeenRequest:
    path: str
    query: dict[str, list[str]]

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class FakeGutendex:
    url: str = ""
    page_size: int = 4
    next_base: str = REAL_GUTENDEX  # the host `next`/`previous` URLs name, as the real API does
    books: list[dict[str, object]] = field(default_factory=list)
    files: dict[str, Served] = field(default_factory=dict)
    # Switches ---------------------------------------------------------------------------
    fail_next: int = 0  # answer 500 to this many requests, then behave
    fail_always: bool = False
    fail_status: int = 500
    hang_next: int = 0  # send nothing for this many requests (past the client's timeout)
    hang_always: bool = False
    stall_body_next: int = 0  # send headers and part of the body, then stall
    malformed_json: bool = False
    not_found: set[str] = field(default_factory=set)  # paths answered with 404
    # What the server saw ----------------------------------------------------------------
    requests: list[SeenRequest] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_to(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    def serve(self, path: str, served: Served | bytes) -> str:
        """Serve `served` at `path` and return its absolute URL."""
        self.files[path] = served if isinstance(served, Served) else Served(served)
        return self.url + path

    def add_book(
        self,
        book_id: int,
        title: str = "",
        *,
        formats: dict[str, str] | None = None,
        text: bytes | None = None,
        languages: tuple[str, ...] = ("en",),
        subjects: tuple[str, ...] = ("Horror tales",),
        bookshelves: tuple[str, ...] = ("Horror",),
        authors: tuple[str, ...] = ("Doe, Jane",),
    ) -> dict[str, object]:
        """A book record shaped like the real API's, its text served by this server."""
        if formats is None:
            formats = {
                "text/html": f"{self.url}/ebooks/{book_id}.html.images",
                "application/epub+zip": f"{self.url}/ebooks/{book_id}.epub3.images",
                "text/plain; charset=us-ascii": f"{self.url}/ebooks/{book_id}.txt.utf-8",
                "application/rdf+xml": f"{self.url}/ebooks/{book_id}.rdf",
            }
        for url in formats.values():
            if url.startswith(self.url) and url.endswith((".txt", ".txt.utf-8")):
                body = text if text is not None else f"The text of book {book_id}.\n".encode()
                self.files.setdefault(url.removeprefix(self.url), Served(body))
        record: dict[str, object] = {
            "id": book_id,
            "title": title or f"Book {book_id}",
            "authors": [{"name": a, "birth_year": 1850, "death_year": 1920} for a in authors],
            "summaries": [],
            "editors": [],
            "translators": [],
            "subjects": list(subjects),
            "bookshelves": list(bookshelves),
            "languages": list(languages),
            "copyright": False,
            "media_type": "Text",
            "formats": formats,
            "download_count": 1000 - book_id,
        }
        self.books.append(record)
        return record

    # Server side ------------------------------------------------------------------------

    def listing(self, query: dict[str, list[str]]) -> dict[str, object]:
        topic = (query.get("topic") or [""])[0].lower()
        languages = set(",".join(query.get("languages") or []).split(",")) - {""}
        mime_type = (query.get("mime_type") or [""])[0]
        page = int((query.get("page") or ["1"])[0])
        matches = [
            b
            for b in self.books
            if (
                not topic or any(topic in s.lower() for s in [*b["subjects"], *b["bookshelves"]])  # type: ignore[misc]
            )
            and (not languages or languages & set(b["languages"]))  # type: ignore[arg-type]
            and (not mime_type or any(k.startswith(mime_type) for k in b["formats"]))  # type: ignore[attr-defined]
        ]
        start = (page - 1) * self.page_size
        kept = {k: v[0] for k, v in query.items() if k != "page"}

        def link(number: int) -> str | None:
            if number < 1 or (number - 1) * self.page_size >= len(matches):
                return None
            params = {**kept, "page": str(number)} if number > 1 else kept
            return f"{self.next_base}/books/?{urlencode(sorted(params.items()))}"

        return {
            "count": len(matches),
            "next": link(page + 1),
            "previous": link(page - 1),
            "results": matches[start : start + self.page_size],
        }


def _handler(state: FakeGutendex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            # A client that gave up (a timeout test) leaves nothing to answer.
            with suppress(BrokenPipeError, ConnectionResetError):
                self._answer()

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path).rstrip("/") or "/"
            with state.lock:
                state.requests.append(SeenRequest(path, parse_qs(parts.query)))
                hang = state.hang_always or state.hang_next > 0
                state.hang_next = max(0, state.hang_next - 1)
                fail = state.fail_always or state.fail_next > 0
                state.fail_next = max(0, state.fail_next - 1)
                stall = state.stall_body_next > 0
                state.stall_body_next = max(0, state.stall_body_next - 1)
            if hang:
                state.release.wait(_HANG_LIMIT_S)
                return
            if fail:
                self._send(state.fail_status, b'{"detail": "server error"}', "application/json")
                return
            if path in state.not_found:
                self._send(404, b'{"detail": "Not found."}', "application/json")
                return
            if path == "/books":
                if state.malformed_json:
                    body = b'{"count": 3, "next": null, "results": [{"id": 1, "title": '
                else:
                    body = json.dumps(state.listing(parse_qs(parts.query))).encode()
                self._send(200, body, "application/json")
                return
            served = state.files.get(path)
            if served is None:
                self._send(404, b'{"detail": "Not found."}', "application/json")
                return
            if stall:
                self.send_response(200)
                self.send_header("Content-Type", served.content_type)
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body[: len(served.body) // 2])
                self.wfile.flush()
                state.release.wait(_HANG_LIMIT_S)
                return
            self._send(200, served.body, served.content_type, served.send_length)

        def _send(self, status: int, body: bytes, content_type: str, length: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is expected in these tests


@contextmanager
def running(state: FakeGutendex) -> Iterator[FakeGutendex]:
    """Serve `state` on a free port of 127.0.0.1 until the block ends."""
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    host, port = server.server_address[:2]
    state.url = f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()  # let hung handlers finish
        server.shutdown()
        server.server_close()
        thread.join()
