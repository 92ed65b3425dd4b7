"""Checks across one product's images (after each went through process_image)."""

from __future__ import annotations

from typing import Sequence

from shangjia.errors import Finding, finding

from . import ImageResult, MediaLimits
from .analysis import hamming


def product_checks(results: Sequence[ImageResult], *, limits: MediaLimits) -> list[Finding]:
    """Duplicates and near-duplicates among main + gallery, gallery count, a usable main image.

    Near-duplicate: dHash distance within ``limits.near_duplicate_distance`` and the same dominant
    colour (the same shot in red and in blue shows two colour variants, which a gallery wants).

    Detail images are left out of the duplicate checks (a detail page often repeats the cover).
    Only images that processed ``ok`` count; failed ones already carry their own error.
    """
    out: list[Finding] = []
    usable = [r for r in results if r.ok]
    if results and not any(r.slot == "main" for r in usable):
        out.append(finding("MEDIA_MAIN_MISSING"))

    gallery = [r for r in usable if r.slot == "gallery"]
    if results:
        n = len(gallery)
        if not (limits.gallery_min <= n <= limits.gallery_max):
            out.append(finding("MEDIA_GALLERY_COUNT", field="gallery_images", value=n, count=n,
                               min=limits.gallery_min, max=limits.gallery_max))

    seen: list[ImageResult] = []
    for r in (x for x in usable if x.slot in ("main", "gallery")):
        for prev in seen:
            if r.source_sha256 == prev.source_sha256:
                out.append(finding("MEDIA_DUPLICATE", file=r.name, other=prev.name))
                break
            if r.phash is not None and prev.phash is not None:
                d = hamming(r.phash, prev.phash)
                # the same shot in another colour is a colour variant, not a duplicate
                if d <= limits.near_duplicate_distance and _main_color(r) == _main_color(prev):
                    out.append(finding("MEDIA_NEAR_DUPLICATE", file=r.name, other=prev.name, distance=d))
                    break
        seen.append(r)
    return out


def _main_color(r: ImageResult) -> str | None:
    colors = (r.tags or {}).get("colors") or []
    return colors[0] if colors else None
