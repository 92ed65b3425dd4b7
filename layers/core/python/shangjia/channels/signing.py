"""Every platform's request and push signature in one place. Pure standard library.

Rules and sources are in ``../shared/CHANNEL-APIS.md`` (SDK repository, file and commit); each
function names the SDK file its rule was read in. Text is hashed as UTF-8, never URL-encoded.
Hex case is the platform's: Douyin, WeChat, Jushuitan and our webhook lower case; Taobao and
Pinduoduo upper case.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from decimal import Decimal

__all__ = [
    "SignatureError", "SIG_MISSING", "SIG_MALFORMED", "SIG_STALE", "SIG_MISMATCH",
    "douyin_param_json", "douyin_sign_string", "douyin_sign", "douyin_spi_sign",
    "douyin_event_sign", "verify_douyin_event", "wechat_push_signature", "verify_wechat_push",
    "taobao_sign_string", "taobao_sign", "pdd_sign_string", "pdd_sign", "jushuitan_sign",
    "WEBHOOK_HEADER", "webhook_signature_header", "verify_webhook",
]

SIG_MISSING, SIG_MALFORMED, SIG_STALE, SIG_MISMATCH = "SIG_MISSING", "SIG_MALFORMED", "SIG_STALE", "SIG_MISMATCH"


class SignatureError(Exception):
    """A pushed request failed verification; ``code`` is one of the ``SIG_*`` constants."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()  # noqa: S324 — the platforms' protocol, not our choice


def _hmac(key: str, msg: str, digest) -> str:
    return hmac.new(key.encode("utf-8"), msg.encode("utf-8"), digest).hexdigest()


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of two ASCII-ish strings (bytes, so non-ASCII input cannot raise)."""
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


# --- Douyin (抖店) --------------------------------------------------------------------------

def _go_float(f: float) -> str:
    """A float as Go's ``encoding/json`` writes it (official SDK ``utils.Marshal``): positional
    for 1e-6 <= |f| < 1e21, else exponent with ``e-07`` cleaned to ``e-7`` — i.e. ES6
    Number-to-string; integral floats in the positional range come out as integers (``1.0`` ->
    ``1``, as SKIT ``JsonUtility`` too)."""
    if not math.isfinite(f):
        raise ValueError(f"param_json cannot carry {f!r}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        r = repr(f)                                   # shortest round-trip digits, exponent form here
        mant, _, exp = r.partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{digits.zfill(2) if sign == '+' else digits}"
    if f == 0:
        return "0"
    # shortest round-trip digits, positional: 1.0 -> "1", 1e16 -> "10000000000000000",
    # 8.551274266649145e18 -> "8551274266649145000" (not the float's exact 8551274266649145344)
    return format(Decimal(repr(f)).normalize(), "f")


def _canon(o) -> str:
    if isinstance(o, str):
        # no escaping of / < > & or non-ASCII (Go SetEscapeHTML(false), PHP JSON_UNESCAPED_*);
        # U+2028/U+2029 stay escaped as both official encoders do
        return json.dumps(o, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if o is None or isinstance(o, bool):
        return json.dumps(o)
    if isinstance(o, int):
        return str(o)
    if isinstance(o, float):
        return _go_float(o)
    if isinstance(o, dict):
        if not all(isinstance(k, str) for k in o):
            raise TypeError("param_json object keys must be strings")
        return "{" + ",".join(_canon(k) + ":" + _canon(o[k]) for k in sorted(o)) + "}"
    if isinstance(o, (list, tuple)):
        return "[" + ",".join(_canon(v) for v in o) + "]"
    raise TypeError(f"param_json cannot carry a {type(o).__name__}")


def douyin_param_json(params: dict | str) -> str:
    """The ``param_json`` string that is both signed and sent.

    dict: keys sorted at every depth (objects inside arrays too), separators ``,`` ``:``, no
    escaping of ``/ < > &`` or non-ASCII, integral floats as ints, ``{}`` when empty — the official
    Go SDK ``utils/sign_util.go`` ``Marshal`` (zsmhub/doudian-sdk), PHP ``recKSort`` +
    ``JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE``, Java ``sortParamJson``. Sort order is code
    point order, which is Go's UTF-8 byte order. str: returned verbatim (the caller vouches for it).
    """
    if isinstance(params, str):
        return params
    if not isinstance(params, dict):
        raise TypeError("param_json must be a dict or an already-serialised str")
    return _canon(params)


def douyin_sign_string(app_key, app_secret, method, param_json: str, timestamp: str, v: str = "2") -> str:
    """``secret + "app_key"K + "method"M + "param_json"P + "timestamp"T + "v"V + secret``.
    ``access_token`` and ``sign_method`` are not signed. Source: official Go SDK
    ``utils/sign_util.go`` ``Sign`` (zsmhub/doudian-sdk); SKIT ``DouyinShopRequestSignInterceptor.cs``."""
    return (f"{app_secret}app_key{app_key}method{method}param_json{param_json}"
            f"timestamp{timestamp}v{v}{app_secret}")


def douyin_sign(app_key, app_secret, method, param_json: str, timestamp: str, v: str = "2",
                sign_method: str = "hmac-sha256") -> str:
    """Lower-hex HMAC-SHA256(key=secret, sign string) (official Go SDK ``Hmac``), or MD5 of the
    sign string (official Java ``SignUtil.sign``; SKIT ``Constants/SignAlgorithms.cs``)."""
    s = douyin_sign_string(app_key, app_secret, method, param_json, timestamp, v)
    if sign_method == "hmac-sha256":
        return _hmac(app_secret, s, hashlib.sha256)
    if sign_method == "md5":
        return _md5(s)
    raise ValueError(f"unknown Douyin sign_method {sign_method!r} (hmac-sha256 | md5)")


def douyin_spi_sign(app_key: str, app_secret: str, param_json: dict | str, timestamp: str,
                    sign_method: str = "md5") -> str:
    """SPI (Douyin calling us): ``secret + "app_key"K + "param_json"P + "timestamp"T + secret``,
    HMAC-SHA256 when ``sign_method`` is ``hmac-sha256`` (code 2), else MD5. Source: official Go
    SDK ``utils/sign_util.go`` ``SpiSign``; westng ``SignUtil::spiSign``."""
    s = f"{app_secret}app_key{app_key}param_json{douyin_param_json(param_json)}timestamp{timestamp}{app_secret}"
    if sign_method in ("hmac-sha256", "2", 2):
        return _hmac(app_secret, s, hashlib.sha256)
    return _md5(s)


def douyin_event_sign(app_key: str, app_secret: str, raw_body: bytes) -> str:
    """Push header ``event-sign`` = lower-hex MD5(app_key + raw body + secret), over the raw
    bytes (no whitespace stripping). Source: zsmhub ``message/doudian_sign.go`` ``VerifySign``;
    SKIT ``DouyinShopClientEventExtensions.cs`` ``VerifyEventSignature``."""
    return hashlib.md5(app_key.encode("utf-8") + bytes(raw_body) + app_secret.encode("utf-8")).hexdigest()  # noqa: S324


def verify_douyin_event(app_key, app_secret, raw_body: bytes, event_sign: str) -> bool:
    """Constant time, case-insensitive (SKIT compares ``OrdinalIgnoreCase``)."""
    if not event_sign:
        return False
    return _same(douyin_event_sign(app_key, app_secret, raw_body), event_sign.strip().lower())


# --- WeChat (微信小店 push) --------------------------------------------------------------------

def wechat_push_signature(token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> str:
    """Lower-hex SHA1 of the sorted, concatenated ``token, timestamp, nonce`` (plain mode,
    WxJava ``BaseWxChannelServiceImpl.checkSignature``), plus ``Encrypt`` for the encrypted
    mode's ``msg_signature`` (WeChat's general push scheme, WxJava ``SHA1.gen``)."""
    parts = [token, timestamp, nonce] + ([encrypt] if encrypt is not None else [])
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324


def verify_wechat_push(token, timestamp, nonce, signature, encrypt=None) -> bool:
    if not signature:
        return False
    return _same(wechat_push_signature(token, timestamp, nonce, encrypt), signature.strip().lower())


# --- Taobao TOP ---------------------------------------------------------------------------------

def _value(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    raise TypeError(f"sign parameter values are strings (got {type(v).__name__})")


def taobao_sign_string(secret: str, params: dict[str, str], sign_method: str = "md5") -> str:
    """What is digested: ``concat(k + v)`` over keys in sorted order, skipping ``sign`` and
    empty keys or values (``StringUtils.areNotEmpty``), wrapped in the secret for md5 only.
    Source: official TOP Java SDK ``com/taobao/api/internal/util/TaobaoUtils.java``
    ``signTopRequest`` (top-sdk-java-20200706, in opendingtalk/alibaba-dingtalk-service-sdk)."""
    if sign_method not in ("md5", "hmac", "hmac-sha256"):
        raise ValueError(f"unknown TOP sign_method {sign_method!r} (md5 | hmac | hmac-sha256)")
    if params.get("sign_method") not in (None, "", sign_method):
        raise ValueError(f"params say sign_method={params['sign_method']!r} but signing with {sign_method!r}")
    q = "".join(k + _value(params[k]) for k in sorted(params)
                if k and k != "sign" and params[k] is not None and _value(params[k]) != "")
    return f"{secret}{q}{secret}" if sign_method == "md5" else q


def taobao_sign(secret: str, params: dict[str, str], sign_method: str = "md5") -> str:
    """Upper hex of MD5(secret+q+secret), HMAC-MD5(secret, q) or HMAC-SHA256(secret, q)
    (``TaobaoUtils.signTopRequest``, ``byte2hex``). ``sign_method`` is itself a signed param."""
    s = taobao_sign_string(secret, params, sign_method)
    if sign_method == "md5":
        return _md5(s).upper()
    return _hmac(secret, s, hashlib.md5 if sign_method == "hmac" else hashlib.sha256).upper()


# --- Pinduoduo ----------------------------------------------------------------------------------

def _pdd_value(v) -> str:
    """JS ``String(v)``, objects and arrays ``JSON.stringify``'d (insertion order, compact): that
    exact string must also be what is sent."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return _value(v)


def pdd_sign_string(secret: str, params: dict[str, str]) -> str:
    """``secret + concat_{k sorted}(k + v) + secret`` over every parameter but ``sign`` (empty
    values included). Source: lywzx/pdd-node-sdk ``packages/core/src/libs/pdd-client.ts``
    ``sign()`` and the argument loop in ``request()``."""
    return secret + "".join(k + _pdd_value(params[k]) for k in sorted(params) if k != "sign") + secret


def pdd_sign(secret: str, params: dict[str, str]) -> str:
    """Upper-hex MD5 of ``pdd_sign_string`` (no ``sign_method`` on this platform)."""
    return _md5(pdd_sign_string(secret, params)).upper()


# --- Jushuitan (聚水潭) ----------------------------------------------------------------------------

def jushuitan_sign(secret: str, params: dict[str, str]) -> str:
    """Lower-hex MD5(secret + concat_{k sorted, k != sign}(k + v)) — the secret is a prefix
    only; empty values are included. Source: zmoyi/jushuitan ``src/Api/Common/Util.php``
    ``getSign``; itroadhd ``Client.php`` ``generateSign``; damon-dai ``util/core_helper.go``."""
    return _md5(secret + "".join(k + _value(params[k] if params[k] is not None else "")
                                 for k in sorted(params) if k and k != "sign"))


# --- our ERP webhooks (Stripe-style) ------------------------------------------------------------

WEBHOOK_HEADER = "X-Shangjia-Signature"
_MAX_HEADER = 4096


def _webhook_hex(secret: str, body: bytes, t: int) -> str:
    return hmac.new(secret.encode("utf-8"), f"{t}.".encode() + bytes(body), hashlib.sha256).hexdigest()


def webhook_signature_header(secret: str, body: bytes, t: int) -> str:
    """``t=<unix s>,v1=<hex HMAC-SHA256(secret, f"{t}." + raw body)>`` — Stripe's construction
    (stripe-python ``stripe/_webhook.py`` ``generate_signature_header``) over raw bytes."""
    if not secret:
        raise ValueError("webhook secret is empty")
    return f"t={int(t)},v1={_webhook_hex(secret, body, int(t))}"


def verify_webhook(header: str, body: bytes, secrets: list[str], now: int, tolerance_s: int = 300) -> None:
    """Accept if any ``v1`` matches any secret (rotation) under ``hmac.compare_digest`` and
    ``|now - t| <= tolerance_s`` — two-sided, unlike stripe-python ``verify_header`` which lets
    future timestamps through. Unknown schemes (``v0``…) are ignored. The signature is checked
    before the clock, so ``SIG_STALE`` means "authentic, but outside the window"."""
    if not secrets or any(not s for s in secrets):
        raise ValueError("verify_webhook needs at least one non-empty secret")
    if not header or not header.strip():
        raise SignatureError(SIG_MISSING, f"no {WEBHOOK_HEADER} header")
    if len(header) > _MAX_HEADER:
        raise SignatureError(SIG_MALFORMED, "signature header too long")
    ts: list[str] = []
    sigs: list[str] = []
    for item in header.split(","):
        key, eq, val = item.strip().partition("=")
        if not eq or not key:
            raise SignatureError(SIG_MALFORMED, f"item {item.strip()!r} is not key=value")
        if key == "t":
            ts.append(val)
        elif key == "v1":
            sigs.append(val.strip())
    if len(ts) != 1 or not (ts[0].isascii() and ts[0].isdigit()):
        raise SignatureError(SIG_MALFORMED, "need exactly one t=<unix seconds>")
    if not sigs:
        raise SignatureError(SIG_MALFORMED, "no v1 signature")
    t = int(ts[0])
    expected = [_webhook_hex(s, body, t) for s in secrets]
    # every pair is compared (no early exit), so timing does not tell which secret matched
    ok = False
    for e in expected:
        for s in sigs:
            ok |= _same(e, s)
    if not ok:
        raise SignatureError(SIG_MISMATCH, "no v1 matches any current secret")
    if abs(int(now) - t) > tolerance_s:
        raise SignatureError(SIG_STALE, f"timestamp {t} is {int(now) - t:+d} s from now (window ±{tolerance_s} s)")
