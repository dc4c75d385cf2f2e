"""Bytes to text: the bytes decide the encoding, never the charset a header declares."""

from __future__ import annotations

import codecs
import random

import pytest

from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.errors import DocumentError

PROSE = "The lantern-maker's daughter kept the accounts, and could add a column of figures.\n"


def test_utf8_bom_is_removed() -> None:
    decoded = decode_text(codecs.BOM_UTF8 + "Café “Lumière”\n".encode())
    assert decoded.text == "Café “Lumière”\n"
    assert decoded.encoding == "utf-8"
    assert not decoded.text.startswith("\ufeff")


def test_strict_utf8() -> None:
    text = "Ångström, naïve façade — “quoted” ‘single’ 9½ €5\n"
    decoded = decode_text(text.encode("utf-8"))
    assert (decoded.text, decoded.encoding) == (text, "utf-8")


def test_cp1252_quotes_and_dashes_even_when_the_header_claims_utf8() -> None:
    data = (
        b"Character set encoding: UTF-8\r\n\r\n"
        b"\x93Thy holy child Jesus.\x94\x97Acts iv. 30. Christ\x92s Childhood.\r\n"
    )
    decoded = decode_text(data)
    assert decoded.encoding == "cp1252"
    assert decoded.text == (
        "Character set encoding: UTF-8\n\n"
        "“Thy holy child Jesus.”—Acts iv. 30. Christ’s Childhood.\n"
    )


def test_latin1_accents_without_cp1252_range_decode_the_same() -> None:
    decoded = decode_text("Les Misérables, à la façon de l'été\n".encode("latin-1"))
    assert decoded.text == "Les Misérables, à la façon de l'été\n"
    assert decoded.encoding in ("cp1252", "latin-1")


def test_latin1_fallback_when_bytes_hit_cp1252_holes() -> None:
    # 0x81 has no character in Windows-1252; a stray one must not make the file undecodable.
    data = (PROSE * 3).encode("latin-1") + b"Caf\xe9 cr\xe8me \x81 br\xfbl\xe9e.\n"
    decoded = decode_text(data)
    assert decoded.encoding == "latin-1"
    assert "Café crème  brûlée." in decoded.text
    assert "\x81" not in decoded.text
    assert decoded.text.startswith(PROSE)


@pytest.mark.parametrize("hole", [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"])
def test_every_cp1252_hole_selects_latin1(hole: bytes) -> None:
    decoded = decode_text((PROSE * 3).encode() + b"na\xefve " + hole + b"\n")
    assert decoded.encoding == "latin-1"
    assert "naïve" in decoded.text


def test_crlf_and_lone_cr_are_normalized_to_lf() -> None:
    decoded = decode_text(b"one\r\ntwo\rthree\nfour\r\n\r\nfive")
    assert decoded.text == "one\ntwo\nthree\nfour\n\nfive"
    assert "\r" not in decode_text("é\r\nè\r".encode("cp1252")).text


@pytest.mark.parametrize("data", [b"", b"   ", b"\r\n\r\n\t \n", codecs.BOM_UTF8 + b"  \n"])
def test_empty_and_whitespace_only_documents_are_rejected(data: bytes) -> None:
    with pytest.raises(DocumentError, match="empty"):
        decode_text(data)


@pytest.mark.parametrize(
    "data",
    [
        b"Some text\x00with a NUL byte in it",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"GGUF\x03\x00\x00\x00\x00\x00",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
    ],
    ids=["nul", "pdf", "zip", "png", "gguf", "gzip"],
)
def test_binary_content_is_rejected(data: bytes) -> None:
    with pytest.raises(DocumentError, match="binary"):
        decode_text(data)


def test_random_bytes_are_rejected() -> None:
    noise = random.Random(20240601).randbytes(8192)
    with pytest.raises(DocumentError):
        decode_text(noise)


def test_random_bytes_without_nul_are_rejected_as_undecodable() -> None:
    rng = random.Random(7)
    noise = bytes(rng.randrange(1, 256) for _ in range(8192))
    with pytest.raises(DocumentError, match="undecodable"):
        decode_text(noise)


def test_errors_are_document_errors_and_value_errors() -> None:
    with pytest.raises(DocumentError) as caught:
        decode_text(b"\x00\x01\x02")
    assert isinstance(caught.value, ValueError)
    assert type(caught.value).__module__ == "llmft_assets.errors"


def test_stray_control_characters_are_removed_and_form_feeds_become_newlines() -> None:
    decoded = decode_text((PROSE * 3).encode() + b"Chapter\x0cTwo\x07\n")
    assert decoded.text.endswith("Chapter\nTwo\n")
