"""Helpers that build real image files in memory (the corpus covers the strange ones)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def product_photo(w: int, h: int, *, color=(200, 30, 40), bg=(255, 255, 255), seed: int = 1) -> Image.Image:
    """A product on a plain background: a textured, sharp-edged object in the middle."""
    rnd = random.Random(seed)
    im = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = w // 4, h // 4, 3 * w // 4, 3 * h // 4
    d.rectangle((x0, y0, x1, y1), fill=color)
    # texture: stitches and stripes, so that the picture has real detail (sharpness)
    step = max(4, min(w, h) // 60)
    for y in range(y0, y1, step * 2):
        d.line((x0, y, x1, y), fill=tuple(max(0, c - 60) for c in color), width=max(1, step // 3))
    for _ in range(40):
        cx, cy = rnd.randint(x0, x1), rnd.randint(y0, y1)
        d.ellipse((cx - step, cy - step, cx + step, cy + step), outline=tuple(min(255, c + 50) for c in color))
    return im


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.fixture
def red_jpeg() -> bytes:
    return encode(product_photo(1600, 1600), "JPEG", quality=90)
