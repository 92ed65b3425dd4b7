"""Merchant profiles: tier (VIP = annual sales over 5 million CNY), shipping templates, channels."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from shangjia.pipeline import keys
from shangjia.ports import Store
from shangjia.topology import CHANNELS

VIP_ANNUAL_SALES_FEN = 5_000_000 * 100
# What a new merchant has until it names its own (the template workbook offers the same list).
DEFAULT_SHIPPING_TEMPLATES = ("默认运费模板", "全国包邮", "偏远地区不包邮")


def is_vip(profile: dict[str, Any]) -> bool:
    return profile.get("tier") == "vip" or int(profile.get("annual_sales_fen", 0)) > VIP_ANNUAL_SALES_FEN


def put_merchant(store: Store, merchant_id: str, *, name: str, annual_sales_cny: int,
                 shipping_templates: list[str] | None = None, channels: list[str] | None = None,
                 priority_window_for_categories: bool = False,
                 promo_below_cost: dict[str, str] | None = None) -> dict[str, Any]:
    """``promo_below_cost``: per category prefix, whether a promo price below cost is an "error"
    (the product is refused) or a "warning" (the default for every category not named)."""
    from shangjia.validation import check_promo_below_cost

    if not merchant_id or "/" in merchant_id or "#" in merchant_id:
        raise ValueError(f"bad merchant id {merchant_id!r}")
    channels = list(channels or CHANNELS)
    unknown = set(channels) - set(CHANNELS)
    if unknown:
        raise ValueError(f"unknown channels {sorted(unknown)}")
    pk, sk = keys.merchant(merchant_id)
    profile = {
        "pk": pk, "sk": sk, "merchant_id": merchant_id, "name": name,
        "annual_sales_fen": annual_sales_cny * 100,
        "tier": "vip" if annual_sales_cny * 100 > VIP_ANNUAL_SALES_FEN else "ordinary",
        "shipping_templates": list(shipping_templates or DEFAULT_SHIPPING_TEMPLATES),
        "channels": channels,
        "priority_window_for_categories": priority_window_for_categories,
        "promo_below_cost": check_promo_below_cost(promo_below_cost),
    }
    # Re-adding a merchant updates what this call names and keeps what others set on the profile
    # (import defaults, ...): a profile write that wiped them would lose the merchant's settings.
    profile = {**(store.get(pk, sk) or {}), **profile}
    store.put(profile)
    _forget(merchant_id)
    return profile


# One Lambda invocation reads a merchant's profile once (``invocation_memo``: the SQS handlers, the
# review workflow's steps and the scheduled functions hold it while they run): a validate batch of
# ten products of one sheet read it ten times. A warm container also keeps what it read for
# ``PROFILE_TTL_S`` (``SHANGJIA_MERCHANT_TTL_S``, 30 s; 0: off) across invocations: the media and
# review steps run once per product and each read the profile (about one read per SKU at merchant
# scale). A profile change (tier, channels, templates) is therefore seen by a warm container up to
# that long after it is written; this process's own writes (``put_merchant``) are seen at once.
# Outside an invocation (the API, the CLI, tests) every call reads.
_MEMO: ContextVar[dict[str, dict[str, Any] | None] | None] = ContextVar("merchant_memo", default=None)
_WARM: dict[str, tuple[float, dict[str, Any] | None]] = {}
_WARM_LOCK = threading.Lock()


def profile_ttl_s() -> float:
    try:
        return max(0.0, float(os.environ.get("SHANGJIA_MERCHANT_TTL_S", "30")))
    except ValueError:
        return 30.0


@contextmanager
def invocation_memo():
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def get_merchant(store: Store, merchant_id: str) -> dict[str, Any] | None:
    memo = _MEMO.get()
    if memo is None:
        return store.get(*keys.merchant(merchant_id))
    if merchant_id not in memo:
        memo[merchant_id] = _warm_read(store, merchant_id)
    found = memo[merchant_id]
    return dict(found) if found is not None else None


def _warm_read(store: Store, merchant_id: str) -> dict[str, Any] | None:
    """The profile as this container last read it, if that was under ``profile_ttl_s`` ago."""
    ttl, now = profile_ttl_s(), time.monotonic()
    if ttl > 0:
        with _WARM_LOCK:
            hit = _WARM.get(merchant_id)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    found = store.get(*keys.merchant(merchant_id))
    if ttl > 0:
        with _WARM_LOCK:
            _WARM[merchant_id] = (now, found)
    return found


def forget_profiles() -> None:
    """Drop what this container keeps of merchants' profiles (tests; ops after a bulk change)."""
    with _WARM_LOCK:
        _WARM.clear()


def _forget(merchant_id: str) -> None:
    with _WARM_LOCK:
        _WARM.pop(merchant_id, None)
    memo = _MEMO.get()
    if memo is not None:
        memo.pop(merchant_id, None)


def set_import_defaults(store: Store, merchant_id: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """Replace the merchant's import defaults (``shangjia.inbound.defaults``: the values imported
    products take for the fields their source does not carry), checked first; ``ValueError`` if a
    value is refused or the merchant does not exist. The stored defaults."""
    from shangjia.inbound.defaults import check_import_defaults

    profile = get_merchant(store, merchant_id)
    if profile is None:
        raise ValueError(f"unknown merchant {merchant_id!r}")
    checked = check_import_defaults(defaults, shipping_templates=list(profile.get("shipping_templates") or []))
    store.update(*keys.merchant(merchant_id), "SET import_defaults = :d", values={":d": checked})
    _forget(merchant_id)
    return checked


def import_defaults(profile: dict[str, Any] | None) -> dict[str, Any]:
    """The merchant's import defaults ({} when none are set)."""
    return dict((profile or {}).get("import_defaults") or {})
