"""What an attachment really is, from its first bytes: the platform's stated type and the
file name are the sender's word, the magic bytes are the file's own.

Only raster images, MP4 video and PDF are kept. SVG and HTML are refused whatever they
claim to be: both can carry script, and an operator's browser must never run a member of
the public's file."""

from __future__ import annotations

from enum import StrEnum

from socialdesk.objectstore import RASTER, ContentType

__all__ = ["RASTER", "SNIFF_BYTES", "ContentType", "Reason", "declared_refusal", "sniff"]

SNIFF_BYTES = 512  # enough for every signature below and for an SVG/HTML prologue


class Reason(StrEnum):
    """Why an attachment was not kept; the console shows it as "attachment refused: ..."."""

    too_large = "too_large"
    forbidden_type = "forbidden_type"  # SVG or HTML: script a browser could run
    unknown_type = "unknown_type"  # none of the kept types by its magic bytes
    empty = "empty"
    expired = "expired"  # asked for after the platform's link stopped working
    not_allowed_host = "not_allowed_host"  # a link outside the platforms' media hosts
    fetch_failed = "fetch_failed"  # the platform answered with an error, or not at all


def sniff(head: bytes) -> ContentType | Reason:
    """The kept type the bytes start with, or why they are refused."""
    if not head:
        return Reason.empty
    if head.startswith(b"\xff\xd8\xff"):
        return ContentType.jpeg
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ContentType.png
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ContentType.gif
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ContentType.webp
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return ContentType.mp4
    if head.startswith(b"%PDF-"):
        return ContentType.pdf
    if _looks_like_markup(head):
        return Reason.forbidden_type
    return Reason.unknown_type


# ISO base media brands of MP4 video as phones and platforms write it (not QuickTime).
_MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1"})
_MARKUP = (b"<svg", b"<?xml", b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<!--")


def _looks_like_markup(head: bytes) -> bool:
    """SVG, XML or HTML, after any byte-order mark and white space."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return text.startswith(_MARKUP) or b"<svg" in text


def declared_refusal(declared: str | None) -> Reason | None:
    """A type the platform itself names as SVG or HTML is refused before it is fetched."""
    d = (declared or "").lower()
    if "svg" in d or "html" in d or "xml" in d:
        return Reason.forbidden_type
    return None
