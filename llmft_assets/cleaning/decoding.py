"""Bytes to text for documents of unknown origin: BOM, UTF-8, then Windows-1252/Latin-1.

Project Gutenberg files are often re-encoded while their header still says UTF-8, so the
bytes decide, never the declared charset: strict UTF-8 first, then cp1252 (which maps the
0x80-0x9F range to curly quotes and dashes), then Latin-1 if cp1252 has holes in the data.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from llmft_assets.errors import DocumentError

# Signatures of common binary formats that are sometimes dropped into text folders.
_BINARY_MAGIC = (
    b"%PDF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x7fELF",
    b"GGUF",
)
_CP1252_HOLES = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
# Control characters other than tab, newline, carriage return and form feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_RATIO = 0.01


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def decode_text(data: bytes) -> DecodedText:
    """Decode a document's bytes and normalize line endings to LF.

    Raises DocumentError for empty, binary or undecodable input.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _normalized(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError as error:
            raise DocumentError(f"undecodable bytes: broken UTF-16 ({error.reason})") from None
    if not data.removeprefix(codecs.BOM_UTF8).strip():
        raise DocumentError("empty document (no text content)")
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data[:65536]:
        raise DocumentError("binary content, not text (NUL bytes or a known binary signature)")

    if data.startswith(codecs.BOM_UTF8):
        text, encoding = _decode_utf8_or_legacy(data[len(codecs.BOM_UTF8) :])
    else:
        text, encoding = _decode_utf8_or_legacy(data)
    return _normalized(text, encoding)


def _normalized(text: str, encoding: str) -> DecodedText:
    if not text.strip():
        raise DocumentError("empty document (no text content)")
    controls = len(_CONTROL.findall(text))
    if controls > _MAX_CONTROL_RATIO * len(text):
        raise DocumentError(
            f"undecodable bytes: {controls} control characters in {len(text)} after decoding"
            f" as {encoding}"
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    return DecodedText(text=_CONTROL.sub("", text) if controls else text, encoding=encoding)


def _decode_utf8_or_legacy(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if not _CP1252_HOLES.search(data):
        return data.decode("cp1252"), "cp1252"
    return data.decode("latin-1"), "latin-1"
