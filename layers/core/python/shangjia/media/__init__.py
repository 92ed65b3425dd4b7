"""Media: product images and videos, from untrusted bytes to WebP renditions, checks and tags.

The pure processing core the media Lambda calls (the handler owns S3, queues and the
"start review once the last image is done" logic). Importing this package is cheap: Pillow,
pillow-heif and the network modules load only when a function that needs them runs.

    result = process_image(data, name="a.jpg", slot="main")
    result.ok, result.renditions[0].key, [f.code for f in result.findings], result.tags
    product_checks([main, *gallery])        # duplicates, gallery count ...
    probe_video(data, name="v.mp4")         # duration, container, codec (no ffmpeg)
    fetch_url(url, max_bytes=..., timeout_s=...)   # SSRF-safe download
    extract_zip_images(zip_bytes, limits=MediaLimits())

Nothing here raises for bad input (except ``fetch_url`` and ``extract_zip_images``, which raise
``FindingError`` as their contract says); an exception out of this package is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator, Literal, Sequence

from shangjia.errors import Finding


Slot = Literal["main", "gallery", "detail"]
SLOTS: tuple[str, ...] = ("main", "gallery", "detail")

#: Bump when a change to processing should produce new rendition keys (new pixels).
PIPELINE_VERSION = "1"


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """Every bound the media core enforces, in one place (the handler may build one from settings)."""

    # untrusted input
    max_bytes: int = 25 * 1024 * 1024          # one image file
    max_pixels: int = 50_000_000               # declared width × height, checked before decoding (JPEG)
    max_pixels_full_decode: int = 25_000_000   # formats decoded at full size (PNG, WebP, GIF, HEIF, AVIF):
    #                                            Pillow's WebP decode peaks near 16 bytes/pixel (≈ 400 MB here)
    # renditions
    main_size: int = 800                       # main and gallery: square, padded on white
    thumb_size: int = 240
    detail_width: int = 750                    # detail images: fixed width, height follows
    detail_max_height: int = 12_000
    webp_quality: int = 80
    webp_method: int = 4                       # 0 fastest .. 6 smallest; 4 is libwebp's default
    thumb_webp_method: int = 2                 # thumbnails: half the encode time for ~0.3 KB more
    # the 240 px thumbnail is made and stored only when asked for (``shangjia media``, offline): no
    # channel or page fetches it (channels re-host main/gallery/detail, pages and the review board
    # show those scaled by the browser), and each stored rendition is an S3 PUT ($5 per million)
    thumbnail: bool = True
    # checks
    main_min_side: int = 800                   # main: short side below this is an error
    gallery_min_side: int = 800                # gallery: a warning
    square_tolerance: float = 0.25             # main/gallery aspect outside 1±this is a warning
    detail_max_aspect: float = 3.0             # detail wider than this (w/h) is a warning
    blur_threshold: float = 60.0               # variance of the Laplacian on the product region
    white_border_min: float = 0.85             # main: share of the border that must be white
    cast_threshold: float = 12.0               # mean chroma (YCbCr units) of near-neutral pixels
    near_duplicate_distance: int = 6           # dHash Hamming distance (of 64)
    gallery_min: int = 3
    gallery_max: int = 9
    # video
    video_max_bytes: int = 100 * 1024 * 1024
    video_max_seconds: float = 30.0
    video_containers: tuple[str, ...] = ("mp4", "mov")
    video_codecs: tuple[str, ...] = ("h264",)
    # zip archives uploaded beside a sheet
    zip_max_entries: int = 1000
    zip_max_entry_bytes: int = 25 * 1024 * 1024
    zip_max_total_bytes: int = 512 * 1024 * 1024
    zip_max_ratio: int = 200                   # uncompressed / compressed, per entry


DEFAULT_LIMITS = MediaLimits()
# What the pipeline's media stage makes and stores: the renditions channels and pages fetch.
PIPELINE_LIMITS = MediaLimits(thumbnail=False)


@dataclass(slots=True)
class Rendition:
    name: str               # "main" | "gallery" | "thumb" | "detail"
    width: int
    height: int
    data: bytes
    content_type: str       # "image/webp"
    key: str                # "r/<sha256 of source>/<params hash>/<name>.webp"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "width": self.width, "height": self.height,
                "bytes": len(self.data), "content_type": self.content_type, "key": self.key}


@dataclass(slots=True)
class ImageResult:
    ok: bool
    source_sha256: str
    source_format: str | None
    width: int | None                      # of the source, after EXIF orientation
    height: int | None
    renditions: list[Rendition]
    findings: list[Finding]
    tags: dict                             # {"colors": [...], "background": ..., "orientation": ...}
    phash: int | None                      # 64-bit dHash of the picture (before padding)
    name: str = ""
    slot: str = ""

    @property
    def error(self) -> Finding | None:
        """The first error finding, if any (what ended or failed this image)."""
        return next((f for f in self.findings if f.is_error), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: rendition keys and sizes, never the bytes."""
        err = self.error
        d: dict[str, Any] = {
            "name": self.name, "slot": self.slot, "ok": self.ok,
            "source_sha256": self.source_sha256, "source_format": self.source_format,
            "width": self.width, "height": self.height,
            "renditions": [r.to_dict() for r in self.renditions],
            "findings": [f.to_dict() for f in self.findings],
            "tags": self.tags,
            "phash": None if self.phash is None else f"{self.phash:016x}",
        }
        if err is not None:
            d["error"] = {"code": err.code, "message_zh": err.message_zh, "message_en": err.message_en}
        return d


@dataclass(slots=True)
class VideoResult:
    ok: bool
    name: str
    container: str | None                  # "mp4" | "mov" | "webm" | ...
    codec: str | None                      # "h264" | "h265" | "av1" | ...
    duration_s: float | None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        err = next((f for f in self.findings if f.is_error), None)
        d: dict[str, Any] = {
            "name": self.name, "ok": self.ok, "kind": "video", "container": self.container,
            "codec": self.codec, "duration_s": self.duration_s, "width": self.width,
            "height": self.height, "size_bytes": self.size_bytes,
            "findings": [f.to_dict() for f in self.findings],
        }
        if err is not None:
            d["error"] = {"code": err.code, "message_zh": err.message_zh, "message_en": err.message_en}
        return d


def process_image(data: bytes, *, name: str, slot: Slot, limits: MediaLimits | None = None) -> ImageResult:
    """Untrusted image bytes → renditions, findings and tags. Never raises for bad input."""
    from .image import process_image as _impl

    return _impl(data, name=name, slot=slot, limits=limits or DEFAULT_LIMITS)


def product_checks(results: Sequence[ImageResult], *, limits: MediaLimits | None = None) -> list[Finding]:
    """Checks across one product's images: duplicates, near-duplicates, gallery count, main present."""
    from .product import product_checks as _impl

    return _impl(results, limits=limits or DEFAULT_LIMITS)


def probe_video(data: bytes | BinaryIO, *, name: str, limits: MediaLimits | None = None) -> VideoResult:
    """Duration, container and codec of a video, read from its boxes (no ffmpeg). Never raises for bad input."""
    from .video import probe_video as _impl

    return _impl(data, name=name, limits=limits or DEFAULT_LIMITS)


def fetch_url(url: str, *, max_bytes: int, timeout_s: float, max_redirects: int = 3, resolver=None,
              accept: Sequence[str] = ("image/",), allow_http: bool = False,
              allowed_networks: Sequence[str] = ()) -> bytes:
    """Download an image over https, refusing internal addresses. Raises ``FindingError(MEDIA_URL_*)``."""
    from .fetch import fetch_url as _impl

    return _impl(url, max_bytes=max_bytes, timeout_s=timeout_s, max_redirects=max_redirects,
                 resolver=resolver, accept=accept, allow_http=allow_http, allowed_networks=allowed_networks)


def extract_zip_images(data: bytes, *, limits: MediaLimits | None = None) -> Iterator[tuple[str, bytes]]:
    """(relative path, bytes) of each media file in a zip. Raises ``FindingError(MEDIA_ZIP_*)``."""
    from .archive import extract_zip_images as _impl

    return _impl(data, limits=limits or DEFAULT_LIMITS)


def resolve_reference(ref: str, available) -> str | None:
    """The uploaded file (S3 key or zip path) a sheet's image reference names, or None."""
    from .refs import resolve_reference as _impl

    return _impl(ref, available)


def sniff(data: bytes) -> str | None:
    """The format decided by content: "jpeg", "png", "svg", "mp4", ... or None."""
    from .formats import sniff as _impl

    return _impl(data)


__all__ = [
    "Slot", "SLOTS", "MediaLimits", "DEFAULT_LIMITS", "PIPELINE_LIMITS", "Rendition", "ImageResult", "VideoResult",
    "process_image", "product_checks", "probe_video", "fetch_url", "extract_zip_images", "sniff",
    "resolve_reference",
    "PIPELINE_VERSION",
]
