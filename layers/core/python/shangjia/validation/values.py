"""Parsers for cell text: money in fen (no float anywhere), integers, booleans, lists,
key:value pairs, dimensions, EAN-13, image references. Each returns a value or raises
``ValueError`` whose message is the reason shown to the merchant."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_MONEY_NOISE = re.compile(r"(?i)[¥￥$\s]|rmb|cny|元|人民币")
_THOUSANDS_COMMA = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(\.\d{3}){2,}(,\d+)?$|^\d{1,3}(\.\d{3})+,\d+$")
_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$")
_PLAIN = re.compile(r"^\d+(\.\d+)?$")


def to_fen(text: str) -> int:
    """"¥1,299.00" / "1.299,00" / "1299元" / "12.5" -> fen. At most two decimals."""
    if text.isdigit() and text.isascii():                       # fast paths: "1299", "12.5", "12.50"
        return int(text) * 100
    a, dot, b = text.partition(".")
    if dot and a.isdigit() and b.isdigit() and len(b) <= 2 and text.isascii():
        return int(a) * 100 + int(b.ljust(2, "0"))
    s = _MONEY_NOISE.sub("", text).replace("'", "").replace("\u2009", "")
    if s.startswith("-"):
        raise ValueError("negative")
    if _PLAIN.match(s):
        pass
    elif _THOUSANDS_COMMA.match(s):
        s = s.replace(",", "")
    elif _THOUSANDS_DOT.match(s):                 # 1.299,00 / 1.299.000
        s = s.replace(".", "").replace(",", ".")
    elif _DECIMAL_COMMA.match(s):                 # 1299,00
        s = s.replace(",", ".")
    else:
        raise ValueError("not an amount")
    dot = s.find(".")
    if dot >= 0 and len(s) - dot - 1 > 2:        # "1.200": 1,200 or 1.20? Refused, not guessed
        raise ValueError("more than two decimals")
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ValueError("not an amount") from None
    fen = d * 100
    if fen != fen.to_integral_value():
        raise ValueError("more than two decimals")
    return int(fen)


def fen_text(fen: int | None) -> str:
    return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"


def to_int(text: str) -> int:
    s = text.replace(",", "").strip()
    if s.endswith(".0"):
        s = s[:-2]
    elif "." in s and set(s.split(".", 1)[1]) <= {"0"}:
        s = s.split(".", 1)[0]
    if not s.lstrip("-").isdigit():
        raise ValueError("not a whole number")
    return int(s)


def to_decimal(text: str, unit: str = "") -> Decimal:
    s = text.strip().lower()
    if unit and s.endswith(unit):
        s = s[: -len(unit)].strip()
    try:
        d = Decimal(s.replace(",", ""))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not d.is_finite() or abs(d.adjusted()) > 18:    # 1E+99999999 would take minutes to print
        raise ValueError("not a number")
    return d


_TRUE = {"是", "y", "yes", "true", "1", "对", "√", "易碎", "t"}
_FALSE = {"否", "n", "no", "false", "0", "不是", "×", "x", "f", "非易碎"}


def to_bool(text: str) -> bool:
    s = text.strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError("not yes/no")


def split_list(text: str, seps: str) -> list[str]:
    pattern = _split_re(seps)
    return [p.strip() for p in pattern.split(text) if p.strip()]


_SPLIT_CACHE: dict[str, re.Pattern] = {}


def _split_re(seps: str) -> re.Pattern:
    r = _SPLIT_CACHE.get(seps)
    if r is None:
        r = _SPLIT_CACHE[seps] = re.compile("[" + re.escape(seps) + "]+")
    return r


_KV_SEP = re.compile(r"[;；\n|]+")
_KV_PAIR = re.compile(r"^\s*([^:：=]+?)\s*[:：=]\s*(.+?)\s*$")


def split_kv(text: str) -> tuple[dict[str, str], list[str]]:
    """"颜色:红色;尺码:XL" -> ({"颜色": "红色", "尺码": "XL"}, [bad items])."""
    out: dict[str, str] = {}
    bad: list[str] = []
    for item in _KV_SEP.split(text):
        item = item.strip()
        if not item:
            continue
        m = _KV_PAIR.match(item)
        if m:
            out[m.group(1)] = m.group(2)
        else:
            bad.append(item)
    return out, bad


_DIMS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:cm)?\s*[x*×X/]\s*(\d+(?:\.\d+)?)\s*(?:cm)?\s*[x*×X/]\s*(\d+(?:\.\d+)?)\s*(?:cm)?\s*$", re.I)


def to_dims(text: str) -> list[int | float]:
    m = _DIMS.match(text)
    if not m:
        raise ValueError("not L×W×H")
    out: list[int | float] = []
    for g in m.groups():
        if g.isdigit():                           # whole centimetres, the common case
            n = int(g)
            if n <= 0:
                raise ValueError("a side is 0")
            out.append(n)
            continue
        d = Decimal(g)
        if d <= 0:
            raise ValueError("a side is 0")
        out.append(int(d) if d == d.to_integral_value() else float(d))
    return out


def ean13_check_digit(first12: str) -> int:
    s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12))
    return (10 - s % 10) % 10


def check_ean13(code: str) -> int | None:
    """None when valid; else the expected check digit. ValueError when not 13 digits."""
    if len(code) != 13 or not code.isdigit():
        raise ValueError("not 13 digits")
    exp = ean13_check_digit(code[:12])
    return None if exp == int(code[12]) else exp


IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic"})
VIDEO_EXTS = frozenset({".mp4", ".mov", ".m4v"})


_SIMPLE_NAME = re.compile(r"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff .()-]*\.([A-Za-z0-9]{2,5})$")


def check_ref(ref: str, exts: frozenset[str]) -> str:
    """A media reference as written -> normalised (backslashes to /). ValueError with a reason."""
    m = _SIMPLE_NAME.match(ref)
    if m and "." + m.group(1).lower() in exts:                  # a plain file name: the common case
        return ref
    r = ref.strip().replace("\\", "/")
    low = r.lower()
    if low.startswith("http://"):
        raise ValueError("use an https link")
    if low.startswith("https://"):
        if " " in r or len(r) > 2048:
            raise ValueError("not a valid link")
        path = low.split("?", 1)[0].split("#", 1)[0]
    else:
        if "://" in low or low.startswith(("/", "~")) or (len(r) > 1 and r[1] == ":"):
            raise ValueError("absolute paths and other schemes are not allowed")
        if any(seg == ".." for seg in r.split("/")):
            raise ValueError("'..' is not allowed")
        path = low
    dot = path.rfind(".")
    if dot < 0 or path[dot:] not in exts:
        raise ValueError("file type must be one of " + " ".join(sorted(exts)))
    return r


# ---- remembered parses -----------------------------------------------------------------------
# A sheet repeats its prices, weights, sizes and spec values across SKUs and products; each
# distinct text is parsed once. A failed parse is remembered as None (the caller reports it).
# The tables are bounded: full, they start over.

class Memo(dict):
    """``memo[text]`` -> ``fn(text)``, or None when ``fn`` raises ValueError; at most ``size`` kept."""

    __slots__ = ("fn", "size")

    def __init__(self, fn, size: int = 50_000) -> None:
        super().__init__()
        self.fn = fn
        self.size = size

    def __missing__(self, text: str):
        try:
            v = self.fn(text)
        except ValueError:
            v = None
        if len(self) >= self.size:
            self.clear()
        self[text] = v
        return v


def _weight(text: str) -> tuple[Decimal, str]:
    d = to_decimal(text, "kg")
    return d, (text if _CANON_DEC.fullmatch(text) else format(d.normalize(), "f"))


_CANON_DEC = re.compile(r"(?:0|[1-9]\d*)(?:\.\d*[1-9])?")

FEN = Memo(to_fen)
WEIGHT = Memo(_weight)
DIMS = Memo(lambda t: tuple(to_dims(t)))
SPEC_KV = Memo(split_kv)


_REFS_CACHE: dict[frozenset, re.Pattern] = {}


def plain_refs(text: str, exts: frozenset[str]) -> list[str] | None:
    """The common shape of a media cell, "a.jpg;b.jpg;c.jpg" (plain names, the allowed types,
    ';' between, no repeats), checked by one regex; None for anything else (then each reference
    goes through ``check_ref``, which gives the reasons)."""
    r = _REFS_CACHE.get(exts)
    if r is None:
        name = r"[\w\u4e00-\u9fff][\w\u4e00-\u9fff .()-]*\.(?i:%s)" % "|".join(
            re.escape(e[1:]) for e in sorted(exts, key=len, reverse=True))
        r = _REFS_CACHE[exts] = re.compile(r"%s(?:;%s)*" % (name, name))
    if not r.fullmatch(text):
        return None
    refs = text.split(";")
    return refs if len(set(refs)) == len(refs) else None
