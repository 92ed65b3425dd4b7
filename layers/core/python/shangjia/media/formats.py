"""Decide a file's format from its first bytes, never from its name.

``sniff`` returns a short name. ``IMAGE_FORMATS`` are the ones we decode; ``REFUSED`` are
vector/script formats that must never reach a renderer (SVG, MVG, PostScript, PDF, HTML);
everything else recognised is a real format we do not accept (BMP, TIFF, PSD, ICO ...).
"""

from __future__ import annotations

IMAGE_FORMATS = ("jpeg", "png", "gif", "webp", "avif", "heif")
VIDEO_FORMATS = ("mp4", "mov", "3gp", "webm", "avi", "flv", "mpeg-ts", "wmv")
REFUSED = ("svg", "xml", "mvg", "postscript", "pdf", "html", "text")

# ISO-BMFF brands (the ftyp box) → format.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_QT_BRANDS = {b"qt  "}
_3GP_PREFIX = (b"3gp", b"3g2")

_SIMPLE: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"8BPS", "psd"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"\x00\x00\x02\x00", "cur"),
    (b"\x00\x00\x00\x0cjP  ", "jpeg2000"),
    (b"\xff\x4f\xff\x51", "jpeg2000"),
    (b"\xff\x0a", "jpegxl"),
    (b"\x00\x00\x00\x0cJXL ", "jpegxl"),
    (b"%PDF", "pdf"),
    (b"%!", "postscript"),
    (b"\xc5\xd0\xd3\xc6", "postscript"),
    (b"\x1a\x45\xdf\xa3", "webm"),
    (b"FLV", "flv"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "wmv"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
)


def sniff(data: bytes) -> str | None:
    head = bytes(data[:4096])
    if not head:
        return None
    for magic, fmt in _SIMPLE:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12]
        return {b"WEBP": "webp", b"AVI ": "avi", b"WAVE": "wav"}.get(kind, "riff")
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _ftyp(head)
    if head[:1] == b"\x47" and len(head) >= 189 and head[188:189] == b"\x47":
        return "mpeg-ts"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"   # QuickTime without ftyp
    return _text_kind(head)


def _ftyp(head: bytes) -> str:
    size = int.from_bytes(head[:4], "big")
    size = min(max(size, 16), len(head))
    major = head[8:12]
    brands = [major] + [head[i:i + 4] for i in range(16, size - 3, 4)]
    if any(b in _AVIF_BRANDS for b in brands):
        return "avif"
    if any(b in _HEIF_BRANDS for b in brands):
        return "heif"
    if major in _QT_BRANDS:
        return "mov"
    if major.startswith(_3GP_PREFIX):
        return "3gp"
    return "mp4"


def _text_kind(head: bytes) -> str | None:
    """Vector images, scripts and other text files: recognised so that they can be refused by name."""
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\xfe\xff \t\r\n").lower()
    if b"<svg" in text[:4096]:
        return "svg"
    if text.startswith(b"<?xml") or text.startswith(b"<!doctype svg"):
        return "xml"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "html"
    if b"graphic-context" in text or text.startswith((b"viewbox", b"push ", b"image over")):
        return "mvg"   # ImageMagick drawing script (ImageTragick)
    sample = head[:1024]
    printable = sum(1 for b in sample if b in b"\t\r\n" or 32 <= b < 127 or b >= 0x80)
    if printable == len(sample) and b"\x00" not in sample:
        return "text"
    return None


def declared_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """Width × height as the file's header declares it, read without a decoder (None if not found).

    Used to refuse pixel bombs before any decoder allocates, and to name their size.
    """
    try:
        if fmt == "png" and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if fmt == "gif" and len(data) >= 10:
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if fmt == "webp":
            return _webp_size(data)
        if fmt == "jpeg":
            return _jpeg_size(data)
    except (IndexError, ValueError):
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if kind == b"VP8L" and len(data) >= 25:
        b = int.from_bytes(data[21:25], "little")
        return 1 + (b & 0x3FFF), 1 + ((b >> 14) & 0x3FFF)
    if kind == b"VP8 " and len(data) >= 30:
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    for _ in range(512):                      # bounded walk over the header segments
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if i + 2 > n:
            return None
        length = int.from_bytes(data[i:i + 2], "big")
        if marker in _SOF:
            if i + 7 > n:
                return None
            return int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 3:i + 5], "big")
        if marker == 0xDA or length < 2:
            return None
        i += length
    return None
