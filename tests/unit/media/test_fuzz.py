"""Mangled files (seeded bit flips, cuts, insertions) never raise out of the media core."""

from __future__ import annotations

import random

import pytest

from shangjia.media import probe_video, process_image

from .conftest import encode, product_photo
from .test_video import mp4


def _mangle(rnd: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(b))
        op = rnd.random()
        if op < 0.6:
            b[i] = rnd.randrange(256)
        elif op < 0.8:
            del b[i:i + rnd.randint(1, 50)]
        else:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 20)))
    if rnd.random() < 0.2:
        b = b[:rnd.randrange(1, len(b))]
    return bytes(b)


@pytest.mark.parametrize("fmt, kw", [("JPEG", {"quality": 80}), ("JPEG", {"progressive": True}), ("PNG", {}),
                                     ("GIF", {}), ("WEBP", {}), ("AVIF", {}), ("HEIF", {})])
def test_mangled_images_end_as_results(fmt, kw):
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    src = product_photo(200, 160)
    data = encode(src.convert("P") if fmt == "GIF" else src, fmt, **kw)
    rnd = random.Random(fmt + str(kw))
    for _ in range(60):
        r = process_image(_mangle(rnd, data), name="m", slot="main")
        assert r.ok or r.findings


def test_mangled_videos_end_as_results():
    rnd = random.Random(7)
    bases = [mp4(10), mp4(20, moov_last=True), mp4(5, version=1, brand=b"qt  ")]
    for _ in range(1500):
        v = probe_video(_mangle(rnd, rnd.choice(bases)), name="m.mp4")
        assert v.ok or v.findings
