"""Colour names in Chinese, as merchants and buyers use them in titles, specs and search.

A colour is named by its nearest reference in CIELAB (ΔE76). The references are chosen to sit
where the everyday names sit (藏青色 is a dark navy, 卡其色 a greyish tan, 米色 a warm off-white);
neutrals are decided first by chroma and lightness, so that a grey never comes out as 蓝色.
"""

from __future__ import annotations

import functools
import math

# (name, sRGB reference); a name may have several references. Order matters only for ties.
NAMED_COLORS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("红色", (200, 30, 40)),
    ("酒红色", (115, 20, 40)),
    ("酒红色", (128, 0, 0)),
    ("玫红色", (215, 40, 120)),
    ("粉色", (240, 165, 185)),
    ("橙色", (240, 130, 30)),
    ("黄色", (240, 210, 40)),
    ("米色", (232, 220, 195)),
    ("卡其色", (190, 170, 125)),
    ("棕色", (125, 75, 40)),
    ("军绿色", (85, 95, 50)),
    ("绿色", (40, 150, 60)),
    ("浅绿色", (150, 215, 150)),
    ("青色", (0, 165, 170)),
    ("天蓝色", (120, 180, 230)),
    ("蓝色", (30, 80, 200)),
    ("藏青色", (30, 40, 80)),
    ("藏青色", (0, 0, 128)),
    ("紫色", (115, 55, 160)),
    ("浅紫色", (195, 165, 225)),
)
NEUTRALS = ("黑色", "深灰色", "灰色", "浅灰色", "白色")

# Colour-cast directions in the YCbCr chroma plane: (zh, en, Cb, Cr) of the pure colour.
CAST_DIRECTIONS: tuple[tuple[str, str, float, float], ...] = (
    ("红", "red", -43.0, 127.5),
    ("黄", "yellow", -127.5, 20.7),
    ("绿", "green", -84.5, -106.8),
    ("青", "cyan", 43.0, -127.5),
    ("蓝", "blue", 127.5, -20.7),
    ("紫红", "magenta", 84.5, 106.8),
)


def _lin(c: float) -> float:
    c /= 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def to_lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    r, g, b = (_lin(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


_REF_LAB = tuple((name, to_lab(rgb)) for name, rgb in NAMED_COLORS)


@functools.lru_cache(maxsize=4096)
def name_color(rgb: tuple[int, int, int]) -> str:
    L, a, b = to_lab(rgb)
    chroma = math.hypot(a, b)
    if chroma < 9 or (L < 22 and chroma < 16) or (L > 93 and chroma < 12):
        if L < 22:
            return "黑色"
        if L < 45:
            return "深灰色"
        if L < 70:
            return "灰色"
        if L < 90:
            return "浅灰色"
        return "白色"
    return min(_REF_LAB, key=lambda ref: (L - ref[1][0]) ** 2 + (a - ref[1][1]) ** 2 + (b - ref[1][2]) ** 2)[0]
