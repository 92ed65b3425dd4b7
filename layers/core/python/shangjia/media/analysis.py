"""Checks and tags computed on the decoded picture (Pillow only, no numpy: cold start matters).

- sharpness: variance of the Laplacian over the product region (not the empty background);
- background: share of the border that is white (or was transparent), else solid / complex;
- colour cast: mean chroma of the bright, near-neutral pixels (what should be white or grey);
- dominant colours: posterized histogram of the product region, named in Chinese;
- perceptual hash: 64-bit dHash, for near-duplicate detection across a product's images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PIL import Image, ImageChops, ImageFilter, ImageStat

from . import MediaLimits
from .colors import CAST_DIRECTIONS, name_color

_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)
_WHITE_LUT = [255 if v >= 236 else 0 for v in range(256)]
_BRIGHT_LUT = [255 if v >= 110 else 0 for v in range(256)]
_NEUTRAL_LUT = [255 if abs(v - 128) < 26 else 0 for v in range(256)]
_SENTINEL = (1, 2, 3)
#: Sharpness is judged at about the size a phone shows the main image (≈ 400 CSS px).
SHARPNESS_SIDE = 400    # a colour posterize() can never produce: marks background pixels


@dataclass(slots=True)
class Analysis:
    phash: int
    background: str                       # "white" | "transparent" | "solid" | "complex"
    white_border: float                   # 0..1
    sharpness: float | None               # None when there is too little product to judge
    cast: tuple[str, str, float] | None   # (zh, en, strength) or None
    colors: list[tuple[str, float]]       # [(name_zh, share 0..1)], biggest first
    findings: list[tuple[str, dict]] = field(default_factory=list)

    def tags(self, width: int, height: int) -> dict:
        r = width / height
        orientation = "square" if abs(r - 1) <= 0.05 else ("landscape" if r > 1 else "portrait")
        names = [n for n, _ in self.colors]
        bg_word = {"white": "白底", "transparent": "透明底", "solid": "纯色背景", "complex": "场景图"}[self.background]
        keywords = names + [bg_word]
        attributes = {"背景": bg_word, "构图": {"square": "方图", "landscape": "横图", "portrait": "竖图"}[orientation]}
        if names:
            attributes["颜色"] = names[0]
        return {
            "colors": names,
            "color_shares": {n: round(s, 3) for n, s in self.colors},
            "background": self.background,
            "orientation": orientation,
            "keywords": keywords,
            "attributes": attributes,
            "sharpness": None if self.sharpness is None else round(self.sharpness, 1),
        }


def analyse(content: Image.Image, small: Image.Image | None = None, *, alpha_border: float | None, slot: str,
            limits: MediaLimits) -> Analysis:
    """``content``: the RGB picture as the main/detail rendition shows it, before padding;
    ``small``: the same fitted within 128 px (made here when not given)."""
    small = small if small is not None else fit_within(content, 128)
    white_small = _white_mask(small)
    white_border = border_share(white_small)

    if alpha_border is not None and alpha_border >= limits.white_border_min:
        background = "transparent"
    elif white_border >= limits.white_border_min:
        background = "white"
    elif _border_is_solid(small):
        background = "solid"
    else:
        background = "complex"
    clean_bg = background in ("white", "transparent")

    findings: list[tuple[str, dict]] = []

    # sharpness: on the full content picture, over the product region only
    sharpness = _sharpness(content, white_small if clean_bg else None)
    if sharpness is not None and sharpness < limits.blur_threshold:
        findings.append(("MEDIA_BLURRY", {"score": round(sharpness, 1), "threshold": limits.blur_threshold}))

    if slot == "main" and not clean_bg:
        findings.append(("MEDIA_BACKGROUND_NOT_WHITE", {"white_pct": round(white_border * 100)}))

    # a scene's bright pixels are often sky, snow or lamps, honestly tinted: ask twice as much there
    cast = _cast(small, limits.cast_threshold * (2 if background == "complex" else 1))
    if cast is not None:
        findings.append(("MEDIA_COLOR_CAST", {"cast_zh": cast[0], "cast_en": cast[1], "strength": round(cast[2], 1)}))

    colors = _colors(small, white_small if clean_bg else None, centre_only=background == "complex")
    return Analysis(phash=dhash(small), background=background, white_border=white_border, sharpness=sharpness,
                    cast=cast, colors=colors, findings=findings)


# --------------------------------------------------------------------------------------------

def fit_within(im: Image.Image, side: int) -> Image.Image:
    if max(im.size) <= side:
        return im
    s = side / max(im.size)
    return im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))),
                     Image.Resampling.BILINEAR, reducing_gap=1.0)   # analysis only: box-reduce first


def _white_mask(rgb: Image.Image) -> Image.Image:
    r, g, b = (c.point(_WHITE_LUT) for c in rgb.split())
    return ImageChops.darker(ImageChops.darker(r, g), b)


def border_share(mask: Image.Image, band: float = 0.04) -> float:
    """Mean of a 0/255 mask over a band around the picture's edge, 0..1."""
    w, h = mask.size
    b = max(1, round(min(w, h) * band))
    total = covered = 0.0
    for box in ((0, 0, w, b), (0, h - b, w, h), (0, b, b, h - b), (w - b, b, w, h - b)):
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        region = mask.crop(box)
        n = region.width * region.height
        total += n
        covered += ImageStat.Stat(region).mean[0] / 255 * n
    return covered / total if total else 0.0


def _border_is_solid(rgb: Image.Image) -> bool:
    w, h = rgb.size
    b = max(1, round(min(w, h) * 0.04))
    strip = Image.new("RGB", (w * 2 + h * 2, b))
    x = 0
    for box, rot in (((0, 0, w, b), False), ((0, h - b, w, h), False), ((0, 0, b, h), True), ((w - b, 0, w, h), True)):
        part = rgb.crop(box)
        if rot:
            part = part.transpose(Image.Transpose.ROTATE_90)
        strip.paste(part, (x, 0))
        x += part.width
    return all(sd < 14 for sd in ImageStat.Stat(strip.crop((0, 0, x, b))).stddev)


def _sharpness(content: Image.Image, white_small: Image.Image | None) -> float | None:
    gray = fit_within(content, SHARPNESS_SIDE).convert("L")
    lap = gray.filter(_LAPLACIAN)
    mask = None
    if white_small is not None:
        # the product region: not-white pixels, grown a little so that its outline counts
        # (dilated on the small picture, then scaled up: a rank filter at full size costs more)
        fg = ImageChops.invert(white_small).filter(ImageFilter.MaxFilter(3))
        if ImageStat.Stat(fg).mean[0] / 255 < 0.02:
            return None
        mask = fg.resize(gray.size, Image.Resampling.NEAREST)
    return float(ImageStat.Stat(lap, mask).var[0])


def _cast(small: Image.Image, threshold: float) -> tuple[str, str, float] | None:
    y, cb, cr = small.convert("YCbCr").split()
    mask = ImageChops.darker(ImageChops.darker(y.point(_BRIGHT_LUT), cb.point(_NEUTRAL_LUT)), cr.point(_NEUTRAL_LUT))
    share = ImageStat.Stat(mask).mean[0] / 255
    if share < 0.05:
        return None
    dcb = ImageStat.Stat(cb, mask).mean[0] - 128
    dcr = ImageStat.Stat(cr, mask).mean[0] - 128
    strength = math.hypot(dcb, dcr)
    if strength < threshold:
        return None
    zh, en = max(CAST_DIRECTIONS, key=lambda d: (dcb * d[2] + dcr * d[3]))[:2]
    return zh, en, strength


def _colors(small: Image.Image, white_mask: Image.Image | None, *, centre_only: bool) -> list[tuple[str, float]]:
    from PIL import ImageOps

    im = small
    if centre_only:   # a scene: the product is usually in the middle
        w, h = im.size
        im = im.crop((round(w * 0.2), round(h * 0.2), round(w * 0.8), round(h * 0.8)))
        white_mask = None
    post = ImageOps.posterize(im, 3)
    if white_mask is not None:
        post = Image.composite(Image.new("RGB", post.size, _SENTINEL), post, white_mask)
    counts = post.getcolors(maxcolors=post.width * post.height + 1) or []
    shares: dict[str, int] = {}
    fg = 0
    for n, rgb in counts:
        if rgb == _SENTINEL:
            continue
        fg += n
        name = name_color(tuple(min(255, c + 16) for c in rgb))
        shares[name] = shares.get(name, 0) + n
    if fg == 0 or fg < 0.01 * post.width * post.height:
        return [("白色", 1.0)] if white_mask is not None else []
    out = sorted(((k, v / fg) for k, v in shares.items()), key=lambda kv: -kv[1])
    return [(k, s) for k, s in out if s >= 0.12][:3] or out[:1]


def dhash(im: Image.Image) -> int:
    """64-bit difference hash: each bit says whether a pixel is brighter than its right neighbour."""
    g = im.convert("L").resize((9, 8), Image.Resampling.BOX)
    px = g.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col] < px[row * 9 + col + 1])
    return bits


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
