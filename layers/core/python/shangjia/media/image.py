"""process_image: untrusted bytes → one decoded sRGB picture → every rendition, checks and tags.

Decode once, resize many: JPEGs are decoded at reduced size (libjpeg DCT scaling, ``draft``)
when the largest rendition allows it; the orientation, colour profile and alpha are settled once
on that decoded picture; each rendition is resized from it (the thumbnail from the main one).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
import struct
import warnings

from PIL import Image, ImageOps

from shangjia.errors import Finding, finding, has_errors

from . import PIPELINE_VERSION, ImageResult, MediaLimits, Rendition
from .analysis import analyse, border_share, fit_within
from .formats import IMAGE_FORMATS, REFUSED, declared_size, sniff

# Pillow formats a sniffed format may be opened with (MPO is a multi-picture JPEG; frame 0 is a JPEG).
_PIL_FORMATS = {
    "jpeg": ["JPEG", "MPO"],
    "png": ["PNG"],
    "gif": ["GIF"],
    "webp": ["WEBP"],
    "avif": ["AVIF"],
    "heif": ["HEIF"],
}
_LANCZOS = Image.Resampling.LANCZOS
WHITE = (255, 255, 255)


class _Fail(Exception):
    """One error finding ends this image."""

    def __init__(self, f: Finding) -> None:
        super().__init__(f.code)
        self.finding = f
        self.size: tuple[int, int] | None = None   # the declared size, when it is what failed


# --------------------------------------------------------------------------------------------
# rendition plan

@functools.lru_cache(maxsize=64)
def _plan(slot: str, limits: MediaLimits) -> tuple[tuple[str, str, int, int, str], ...]:
    """(name, fit, width, height, params-hash) for each rendition of a slot."""
    big = "gallery" if slot == "gallery" else "main"
    specs: list[tuple[str, str, int, int]]
    if slot == "detail":
        specs = [("detail", "width", limits.detail_width, 0)]
    else:
        specs = [(big, "pad", limits.main_size, limits.main_size)]
    if limits.thumbnail:
        specs.append(("thumb", "pad", limits.thumb_size, limits.thumb_size))
    out = []
    for name, fit, w, h in specs:
        method = limits.thumb_webp_method if name == "thumb" else limits.webp_method
        params = json.dumps([PIPELINE_VERSION, fit, w, h, "webp", limits.webp_quality, method,
                             "white", "srgb"], separators=(",", ":"))
        out.append((name, fit, w, h, hashlib.sha256(params.encode()).hexdigest()[:12]))
    return tuple(out)


def rendition_key(source_sha256: str, params_hash: str, name: str) -> str:
    return f"r/{source_sha256}/{params_hash}/{name}.webp"


# --------------------------------------------------------------------------------------------
# entry point

def process_image(data: bytes, *, name: str, slot: str, limits: MediaLimits) -> ImageResult:
    if slot not in ("main", "gallery", "detail"):
        raise ValueError(f"unknown slot {slot!r}")   # a caller's bug, not bad input
    data = bytes(data) if not isinstance(data, bytes) else data
    sha = hashlib.sha256(data).hexdigest()
    res = ImageResult(ok=False, source_sha256=sha, source_format=None, width=None, height=None,
                      renditions=[], findings=[], tags={}, phash=None, name=name, slot=slot)
    try:
        _run(data, res, name=name, slot=slot, limits=limits)
    except _Fail as e:
        res.findings.append(e.finding)
        if e.size and res.width is None:
            res.width, res.height = e.size
    res.ok = not has_errors(res.findings)
    return res


def _run(data: bytes, res: ImageResult, *, name: str, slot: str, limits: MediaLimits) -> None:
    f = functools.partial(finding, file=name)
    if not data:
        raise _Fail(f("MEDIA_EMPTY"))
    if len(data) > limits.max_bytes:
        raise _Fail(f("MEDIA_FILE_TOO_LARGE", size_mb=_mb(len(data)), limit_mb=_mb(limits.max_bytes)))
    fmt = sniff(data)
    res.source_format = fmt
    if fmt is None:
        raise _Fail(f("MEDIA_UNREADABLE", reason="unknown file type / 无法识别的文件类型"))
    if fmt in REFUSED:
        raise _Fail(f("MEDIA_FORMAT_REFUSED", format=fmt.upper()))
    if fmt not in IMAGE_FORMATS:
        raise _Fail(f("MEDIA_FORMAT_UNSUPPORTED", format=fmt.upper()))

    plan = _plan(slot, limits)
    pic = _decode(data, fmt, plan, limits, f)
    res.width, res.height = pic.width, pic.height
    res.findings.extend(pic.findings)

    # renditions
    sha = res.source_sha256
    content = None          # the picture as the biggest rendition shows it (before padding)
    made: list[tuple[str, Image.Image, str]] = []
    for rname, fit, w, h, ph in plan:
        if fit == "width":
            th = max(1, round(pic.height * w / pic.width))
            if th > limits.detail_max_height:
                res.findings.append(f("MEDIA_DETAIL_TOO_TALL", width=w, height=th, limit=limits.detail_max_height))
                continue
            img = pic.image if pic.image.size == (w, th) else pic.image.resize((w, th), _LANCZOS, reducing_gap=2.0)
            content = img
        else:
            # the thumbnail comes from the main picture, not from the (bigger) decoded source
            img, fitted = _pad(content if content is not None else pic.image, w, h,
                               gap=1.0 if content is not None else 2.0)
            if content is None:
                content = fitted
        made.append((rname, img, ph))
    if content is None:
        content = pic.image
    # blank: one colour everywhere (checked on a small copy, before spending on encoding)
    small = fit_within(content, 128)
    if all(hi - lo <= 2 for lo, hi in small.getextrema()):
        raise _Fail(f("MEDIA_BLANK"))
    # slot checks on the source dimensions
    res.findings.extend(_size_checks(pic.width, pic.height, slot, limits, f))
    for rname, img, ph in made:
        method = limits.thumb_webp_method if rname == "thumb" else limits.webp_method
        res.renditions.append(Rendition(rname, img.width, img.height, _webp(img, limits.webp_quality, method),
                                        "image/webp",
                                        rendition_key(sha, ph, rname)))

    # checks and tags on the picture as it will be seen
    a = analyse(content, small, alpha_border=pic.alpha_border, slot=slot, limits=limits)
    res.phash = a.phash
    res.tags = a.tags(pic.width, pic.height)
    res.findings.extend(f(code, **params) for code, params in a.findings)


# --------------------------------------------------------------------------------------------
# decoding

class _Picture:
    __slots__ = ("image", "width", "height", "findings", "alpha_border")

    def __init__(self, image, width, height, findings, alpha_border):
        self.image = image              # RGB, sRGB, oriented, alpha composited on white
        self.width = width              # source size after orientation (before draft scaling)
        self.height = height
        self.findings = findings
        self.alpha_border = alpha_border  # share of the border that was transparent (None: no alpha)


# What Pillow and its plugins raise for malformed input (the AVIF and HEIF decoders raise
# RuntimeError; struct.error is a ValueError-like error from header parsing).
_DECODER_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, ZeroDivisionError,
                   OverflowError, MemoryError, AttributeError, RuntimeError, struct.error)

_BOMB_RE = re.compile(r"\((\d+) pixels\)")


def _open(data: bytes, fmt: str, f, limits: MediaLimits) -> Image.Image:
    if fmt == "heif":
        _register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=_PIL_FORMATS[fmt])
        except Image.DecompressionBombError as e:
            m = _BOMB_RE.search(str(e))
            mp = round(int(m.group(1)) / 1e6, 1) if m else "?"
            raise _Fail(f("MEDIA_TOO_MANY_PIXELS", width="?", height="?", megapixels=mp,
                          limit_mp=round(_pixel_limit(fmt, limits) / 1e6))) from None
        except _DECODER_ERRORS as e:
            raise _Fail(_unreadable(e, f)) from None


def _unreadable(e: BaseException, f) -> Finding:
    msg = str(e)
    if "truncated" in msg.lower() or isinstance(e, EOFError):
        return f("MEDIA_TRUNCATED")
    return f("MEDIA_UNREADABLE", reason=(msg or type(e).__name__)[:120])


@functools.cache
def _register_heif() -> None:
    import pillow_heif  # noqa: PLC0415  (43 ms: only when a HEIF file arrives)

    pillow_heif.register_heif_opener()


def _pixel_limit(fmt: str, limits: MediaLimits) -> int:
    """JPEGs decode at reduced size (draft); every other format is decoded whole first."""
    return limits.max_pixels if fmt == "jpeg" else min(limits.max_pixels, limits.max_pixels_full_decode)


def _too_many_pixels(w: int, h: int, limit: int, f) -> _Fail:
    e = _Fail(f("MEDIA_TOO_MANY_PIXELS", width=w, height=h, megapixels=round(w * h / 1e6, 1),
                limit_mp=round(limit / 1e6)))
    e.size = (w, h)
    return e


def _decode(data: bytes, fmt: str, plan, limits: MediaLimits, f) -> _Picture:
    limit = _pixel_limit(fmt, limits)
    declared = declared_size(data, fmt)
    if declared and declared[0] * declared[1] > limit:
        raise _too_many_pixels(*declared, limit, f)
    im = _open(data, fmt, f, limits)
    findings: list[Finding] = []
    w0, h0 = im.size
    if w0 <= 0 or h0 <= 0:
        raise _Fail(f("MEDIA_UNREADABLE", reason=f"size {w0}×{h0}"))
    if w0 * h0 > limit:
        raise _too_many_pixels(w0, h0, limit, f)
    try:
        frames = getattr(im, "n_frames", 1) if getattr(im, "is_animated", False) else 1
        if frames > 1:
            findings.append(f("MEDIA_ANIMATED", frames=frames))
            im.seek(0)
        orientation = _orientation(im)
        swap = orientation in (5, 6, 7, 8)
        ow, oh = (h0, w0) if swap else (w0, h0)
        if im.format in ("JPEG", "MPO"):
            scale = _needed_scale(ow, oh, plan)
            if scale < 1:
                req = (max(1, math.ceil(w0 * scale)), max(1, math.ceil(h0 * scale)))
                im.draft("RGB", req)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
        icc = im.info.get("icc_profile")
        transparency = im.info.get("transparency")
        if orientation not in (None, 1):
            im = ImageOps.exif_transpose(im) or im
        # shrink big non-JPEG pictures early (box filter, keeping >= 2× what the largest rendition
        # needs, as reducing_gap=2 would): colour and alpha work then runs on far fewer pixels
        factor = int(1 / (2 * _needed_scale(im.width, im.height, plan)))
        rgb, alpha = _to_rgb(im, icc, transparency, reduce_by=factor)
    except _Fail:
        raise
    except _DECODER_ERRORS as e:
        raise _Fail(_unreadable(e, f)) from None

    alpha_border = None
    if alpha is not None:
        lo, hi = alpha.getextrema()
        if hi == 0:
            raise _Fail(f("MEDIA_BLANK"))
        if lo == 255:
            alpha = None
        else:
            alpha_border = border_share(alpha.point(lambda v: 255 if v < 16 else 0))
            bg = Image.new("RGB", rgb.size, WHITE)
            bg.paste(rgb, mask=alpha)
            rgb = bg
    return _Picture(rgb, ow, oh, findings, alpha_border)


def _orientation(im: Image.Image) -> int | None:
    try:
        v = im.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not fail the image
        return None
    return v if isinstance(v, int) and 1 <= v <= 8 else None


def _needed_scale(w: int, h: int, plan) -> float:
    """The largest scale any rendition needs from a w×h (oriented) source."""
    s = 0.0
    for _name, fit, tw, th, _ph in plan:
        s = max(s, tw / w if fit == "width" else min(tw / w, th / h))
    return s


def _to_rgb(im: Image.Image, icc: bytes | None, transparency, *, reduce_by: int = 1
            ) -> tuple[Image.Image, Image.Image | None]:
    """Any mode → (RGB in sRGB, alpha or None), box-reduced by ``reduce_by`` when it is 2 or more."""
    mode = im.mode
    # 1. normalise to one of L, RGB, CMYK, RGBA
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        i32 = im.convert("I") if mode != "F" else im
        alpha = None
        if isinstance(transparency, int) and mode != "F":
            from PIL import ImageMath

            alpha = ImageMath.lambda_eval(lambda a: a["convert"](a["notequal"](a["i"], transparency) * 255, "L"),
                                          i=i32)
        hi = i32.getextrema()[1]
        im = i32.point(lambda v: v * (1 / 256)).convert("L") if hi > 255 else i32.convert("L")
        if alpha is not None:
            im = Image.merge("RGBA", (im, im, im, alpha))
        icc = None            # a 16-bit grey profile does not apply to the 8-bit copy
    elif mode in ("P", "PA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
    elif mode in ("YCbCr", "HSV", "LAB"):
        im = im.convert("RGB")
    elif mode == "1":
        im = im.convert("L")
    elif transparency is not None and mode in ("L", "RGB"):
        im = im.convert("RGBA")   # tRNS colour key
    if im.mode not in ("L", "RGB", "CMYK", "RGBA"):
        im = im.convert("RGB")
    # 2. shrink (Pillow premultiplies RGBA for this, so transparent pixels do not bleed in)
    if reduce_by >= 2:
        im = im.reduce(reduce_by)
    # 3. alpha aside, colour profile to sRGB, then RGB
    alpha = None
    if im.mode == "RGBA":
        alpha = im.getchannel("A")
        im = im.convert("RGB")
    if icc:
        converted = _icc_to_srgb(im, icc)
        if converted is not None:
            return converted, alpha
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im, alpha


@functools.lru_cache(maxsize=1)
def _srgb():
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")


@functools.lru_cache(maxsize=32)
def _transform(icc_sha: str, icc: bytes, in_mode: str):
    """A cached lcms transform from an embedded profile to sRGB, or None for sRGB itself / a bad profile."""
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = (ImageCms.getProfileDescription(src) or "").lower()
        if in_mode == "RGB" and "srgb" in desc:
            return None
        return ImageCms.buildTransform(src, _srgb(), in_mode, "RGB",
                                       renderingIntent=ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _icc_to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    if im.mode not in ("RGB", "CMYK", "L"):
        return None
    t = _transform(hashlib.sha1(icc).hexdigest(), icc, im.mode)
    if t is None:
        return None
    from PIL import ImageCms

    try:
        return ImageCms.applyTransform(im, t)
    except (ImageCms.PyCMSError, ValueError, OSError):
        return None


# --------------------------------------------------------------------------------------------
# renditions

def _pad(src: Image.Image, w: int, h: int, *, gap: float = 2.0) -> tuple[Image.Image, Image.Image]:
    """Fit src inside w×h keeping its proportions, centred on white. Returns (canvas, fitted picture).

    ``gap``: Pillow's reducing_gap — shrink by an integer factor with a box filter first when the
    scale is at least ``gap`` times that factor, then LANCZOS; 2.0 is visually the same as plain
    LANCZOS (Pillow's docs); 1.0 (box-reduce as far as possible) only for the 240 px thumbnail.
    """
    s = min(w / src.width, h / src.height)
    nw, nh = max(1, min(w, round(src.width * s))), max(1, min(h, round(src.height * s)))
    fitted = src if (nw, nh) == src.size else src.resize((nw, nh), _LANCZOS, reducing_gap=gap)
    if (nw, nh) == (w, h):
        return fitted, fitted
    canvas = Image.new("RGB", (w, h), WHITE)
    canvas.paste(fitted, ((w - nw) // 2, (h - nh) // 2))
    return canvas, fitted


def _webp(img: Image.Image, quality: int, method: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=quality, method=method)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# checks on the source size

def _size_checks(w: int, h: int, slot: str, limits: MediaLimits, f) -> list[Finding]:
    out: list[Finding] = []
    ratio = w / h
    slot_zh = {"main": "主图", "gallery": "轮播图", "detail": "详情图"}[slot]
    if slot in ("main", "gallery"):
        need = limits.main_min_side if slot == "main" else limits.gallery_min_side
        if min(w, h) < need:
            out.append(f("MEDIA_TOO_SMALL", width=w, height=h, min_side=need, slot=slot, slot_zh=slot_zh,
                         severity="error" if slot == "main" else "warning"))
        if abs(math.log(ratio)) > math.log(1 + limits.square_tolerance):
            out.append(f("MEDIA_ASPECT", ratio=f"{ratio:.2f}", expected="1:1", slot=slot, slot_zh=slot_zh))
    else:
        if w < limits.detail_width:
            out.append(f("MEDIA_DETAIL_NARROW", width=w, min_width=limits.detail_width))
        if ratio > limits.detail_max_aspect:
            out.append(f("MEDIA_ASPECT", ratio=f"{ratio:.2f}", expected=f"≤ {limits.detail_max_aspect:g}:1",
                         slot=slot, slot_zh=slot_zh))
    return out


def _mb(n: int) -> float:
    return round(n / (1024 * 1024), 1)
