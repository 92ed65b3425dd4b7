"""What merchants use (and editors and ops on their behalf): uploads, batches, products, reports,
the template, listings, stock, notices, resubmit. Every object is checked against the caller's
scope (``auth.policy.check_scope``): outside it, the answer is the missing object's 404."""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from shangjia.api import models as M
from shangjia.api.context import BadRequest, NotFound, allowed, api, principal
from shangjia.auth import policy
from shangjia.pipeline import keys

LINK_TTL_S = 900                  # a download or upload link lives 15 minutes
UPLOAD_FOLDER = "uploads"


# --- shaping -----------------------------------------------------------------------------------

def located(f: dict[str, Any]) -> dict[str, Any]:
    """A stored finding (``Finding.to_dict`` or a readiness ``finding_view``) as the API shows it."""
    return {"row": f.get("row"), "column": f.get("column"), "field": f.get("field"), "code": f.get("code", "?"),
            "severity": f.get("severity") or "error",
            "message": f.get("message") or f.get("message_en") or "", "message_zh": f.get("message_zh") or "",
            "hint": f.get("hint") or f.get("hint_en") or None, "hint_zh": f.get("hint_zh") or None,
            "channel": f.get("channel") or (f.get("params") or {}).get("channel")}


def _listing_items(store, merchant_id: str, spu: str) -> list[dict[str, Any]]:
    return store.query(keys.product_pk(merchant_id, spu), sk_prefix="LISTING#")


def _listing_states(listings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {li["sk"].split("#", 1)[1]: {"state": li.get("state") or "?", "reason": li.get("reason")} for li in listings}


def _readiness(item: dict[str, Any]) -> dict[str, Any]:
    return {ch: {"ready": bool(v.get("ready")), "findings": [located(f) for f in v.get("findings") or []]}
            for ch, v in (item.get("readiness") or {}).items()}


def product_row(store, item: dict[str, Any]) -> dict[str, Any]:
    p = item.get("product") or {}
    return {"merchant_id": item["merchant_id"], "spu": item["spu_code"], "title": p.get("title"),
            "category": p.get("category"), "status": item.get("status", "?"),
            "errors": [located(f) for f in item.get("findings") or [] if f.get("severity", "error") == "error"],
            "listings": _listing_states(_listing_items(store, item["merchant_id"], item["spu_code"])),
            "readiness": _readiness(item)}


def product_detail(store, item: dict[str, Any], *, cost: bool) -> dict[str, Any]:
    """The product as the caller may see it: never the raw cells (they hold the cost price)."""
    p = item.get("product") or {}
    findings = item.get("findings") or []
    skus = [{"sku_code": str(s.get("sku_code") or ""), "spec": dict(s.get("spec") or {}),
             "price_fen": s.get("price_fen"), "market_price_fen": s.get("market_price_fen"),
             "promo_price_fen": s.get("promo_price_fen"), "stock": s.get("stock"), "row": s.get("row"),
             "cost_price_fen": s.get("cost_price_fen") if cost else None}
            for s in p.get("skus") or []]
    return {"merchant_id": item["merchant_id"], "spu": item["spu_code"], "title": p.get("title"),
            "category": p.get("category"), "brand": p.get("brand"), "status": item.get("status", "?"),
            "batch_id": item.get("batch_id"), "updated_at": item.get("updated_at"), "skus": skus,
            "errors": [located(f) for f in findings if f.get("severity", "error") == "error"],
            "warnings": [located(f) for f in findings if f.get("severity") == "warning"],
            "listings": _listing_states(_listing_items(store, item["merchant_id"], item["spu_code"])),
            "readiness": _readiness(item), "cost_visible": cost}


def batch_view(summary: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
    key = summary.get("key")
    return {"batch_id": summary["batch_id"], "merchant_id": summary["merchant_id"],
            "source": str(batch.get("source") or summary.get("kind") or "sheet"),
            "filename": posixpath.basename(key) if key else None, "key": key, "status": summary["status"],
            "created_at": summary.get("created_at"),
            "counts": {"products_total": summary.get("products_total"), "products_seen": summary.get("products_seen"),
                       "products_sent": summary.get("products_sent"), "refused": summary.get("refused"),
                       "unchanged": summary.get("unchanged"), "skus": summary.get("skus")},
            "progress": dict(summary.get("by_status") or {}), "settled": bool(summary.get("settled")),
            "report_ready": bool(batch.get("report_json_key")), "rejection": summary.get("rejection")}


def scoped_batch(batch_id: str) -> dict[str, Any]:
    """The batch, if the caller may see it; else the same 404 as a missing one."""
    a = api()
    b = a.store.get(*keys.batch(batch_id))
    if not b:
        raise NotFound(batch_id)
    policy.check_scope(a.store, principal(), b.get("merchant_id"))
    return b


def _merchant_param(merchant_id: str | None) -> list[str] | None:
    """Which merchants a list covers: the one asked for (if in scope, else 404), or every merchant
    in scope (None: every merchant, ops without a filter)."""
    a, p = api(), principal()
    if merchant_id:
        policy.check_scope(a.store, p, merchant_id)
        return [merchant_id]
    seen = policy.visible_merchants(a.store, p)
    return None if seen is None else sorted(seen)


# --- routes ------------------------------------------------------------------------------------

def me() -> M.Me:
    p = allowed("me")
    seen = policy.visible_merchants(api().store, p)
    return M.Me(id=p.id, username=p.username, role=p.role, merchant_id=p.merchant_id,
                merchants=sorted(seen) if seen is not None and p.role != "reviewer" else [])


def _upload_limit(filename: str) -> int:
    from shangjia.media import DEFAULT_LIMITS
    from shangjia.media.archive import MEDIA_EXTENSIONS
    from shangjia.pipeline.ingest import MAX_SHEET_BYTES
    from shangjia.sheets import SHEET_SUFFIXES

    ext = posixpath.splitext(filename.lower())[1]
    if ext == ".json":                  # a feed is parsed whole: its own, smaller limit
        from shangjia.sheets import Limits

        return Limits().max_feed_bytes
    if ext in SHEET_SUFFIXES:
        return MAX_SHEET_BYTES          # read in ranged blocks, never whole
    if ext == ".zip":
        return DEFAULT_LIMITS.zip_max_total_bytes
    if ext in (".mp4", ".mov", ".m4v"):
        return DEFAULT_LIMITS.video_max_bytes
    if ext in MEDIA_EXTENSIONS:
        return DEFAULT_LIMITS.max_bytes
    raise BadRequest("API_BODY_FIELD", field="filename",
                     reason="a sheet (.xlsx .xls .csv ...), a .zip of images, an image or a video")


def start_upload(body: M.UploadRequest) -> M.UploadTicket:
    p = allowed("upload")
    merchant_id = body.merchant_id or p.merchant_id
    if not merchant_id:
        raise BadRequest("API_BODY_FIELD", field="merchant_id", reason="staff name the merchant they upload for")
    if p.role == "merchant" and merchant_id != p.merchant_id:
        raise NotFound(merchant_id)
    policy.check_scope(api().store, p, merchant_id)
    name = body.filename.strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not name or name.startswith(".") or any(ord(c) < 32 for c in name):
        raise BadRequest("API_BODY_FIELD", field="filename", reason="a plain file name")
    limit = _upload_limit(name)
    upload_id = body.upload_id or uuid.uuid4().hex
    key = f"{merchant_id}/{UPLOAD_FOLDER}/{upload_id}/{name}"
    from shangjia.pipeline.batches import META_MODE

    meta = {META_MODE: body.mode} if body.mode else {}
    post = api().links.presign_post("drop", key, max_bytes=limit, metadata=meta, expires_s=LINK_TTL_S)
    return M.UploadTicket(url=post["url"], fields=post["fields"], key=key, expires_in=LINK_TTL_S, max_bytes=limit,
                          upload_id=upload_id)


def list_batches(merchant_id: Annotated[str | None, Query()] = None,
                 status: Annotated[str | None, Query()] = None) -> M.BatchList:
    allowed("read")
    from shangjia.pipeline.views import batch_summary, listed

    a = api()
    merchants = _merchant_param(merchant_id)
    if merchants is None:
        raise BadRequest("API_PARAM_INVALID", field="merchant_id", reason="ops name the merchant")
    items = []
    for m in merchants:
        for b in listed(a.deps, f"BATCHES#{m}"):
            if status and b.get("status") != status:
                continue
            items.append(batch_view(batch_summary(a.deps, b), b))
    items.sort(key=lambda x: x.get("created_at") or "", reverse=True)
    return M.BatchList(items=items)


def get_batch(batch_id: str) -> M.BatchSummary:
    allowed("read")
    from shangjia.pipeline.views import batch_summary

    b = scoped_batch(batch_id)
    return M.BatchSummary(**batch_view(batch_summary(api().deps, b), b))


def batch_products(batch_id: str) -> M.ProductList:
    allowed("read")
    from shangjia.pipeline.views import batch_products as products_of

    scoped_batch(batch_id)
    a = api()
    items = [product_row(a.store, p) for p in products_of(a.deps, batch_id) if p.get("batch_id") == batch_id]
    items.sort(key=lambda r: r["spu"])
    return M.ProductList(items=items)


def batch_report(batch_id: str) -> M.ReportLinks:
    allowed("read")
    b = scoped_batch(batch_id)
    if not b.get("report_json_key"):
        raise NotFound(batch_id)               # not written yet: the batch is still being validated
    links = api().links
    stem = posixpath.splitext(posixpath.basename(b.get("key") or "report"))[0]
    xlsx = b.get("report_key")
    return M.ReportLinks(
        xlsx_url=links.presign_get("reports", xlsx, expires_s=LINK_TTL_S, filename=f"{stem}-report.xlsx") if xlsx
        else None,
        json_url=links.presign_get("reports", b["report_json_key"], expires_s=LINK_TTL_S), expires_in=LINK_TTL_S)


def template() -> M.Link:
    """The upload template (with the merchant's shipping templates for a merchant), written to the
    reports bucket once per content and handed out as a short-lived link."""
    p = allowed("template")
    import io

    from shangjia.pipeline.merchants import DEFAULT_SHIPPING_TEMPLATES, get_merchant
    from shangjia.reports import write_template

    a = api()
    ships = list((get_merchant(a.store, p.merchant_id) or {}).get("shipping_templates") or []) if p.merchant_id \
        else []
    ships = ships or list(DEFAULT_SHIPPING_TEMPLATES)
    digest = hashlib.sha256("\x00".join(ships).encode()).hexdigest()[:16]
    key = f"templates/{digest}/shangjia-template.xlsx"
    if not a.links.exists("reports", key):
        buf = io.BytesIO()
        write_template(buf, shipping_templates=ships)
        from shangjia.pipeline.batches import XLSX_TYPE

        a.deps.blobs.put("reports", key, buf.getvalue(), content_type=XLSX_TYPE)
    return M.Link(url=a.links.presign_get("reports", key, expires_s=LINK_TTL_S, filename="商品上传模板.xlsx"),
                  expires_in=LINK_TTL_S)


def scoped_product(merchant_id: str, spu: str) -> dict[str, Any]:
    a = api()
    policy.check_scope(a.store, principal(), merchant_id)
    from shangjia.pipeline.products import get_product

    item = get_product(a.deps, merchant_id, spu)
    if not item:
        raise NotFound(spu)
    return item


def get_product(merchant_id: str, spu: str) -> M.ProductDetail:
    p = allowed("read")
    item = scoped_product(merchant_id, spu)
    return M.ProductDetail(**product_detail(api().store, item, cost=policy.sees_cost_price(p, merchant_id)))


def resubmit(merchant_id: str, spu: str) -> M.Resubmitted:
    p = allowed("resubmit")
    item = scoped_product(merchant_id, spu)
    from shangjia.api.resubmit import resubmit_product

    out = resubmit_product(api().deps, item, actor=p.username)
    return M.Resubmitted(**out)


def list_listings(merchant_id: Annotated[str | None, Query()] = None) -> M.ListingList:
    allowed("read")
    from shangjia.pipeline.views import listed
    from shangjia.topology import CHANNELS

    a = api()
    merchants = _merchant_param(merchant_id)
    if merchants is None:
        raise BadRequest("API_PARAM_INVALID", field="merchant_id", reason="ops name the merchant")
    wanted = set(merchants)
    items = []
    for ch in CHANNELS:
        for li in listed(a.deps, f"LISTINGS#{ch}"):
            if li.get("merchant_id") in wanted:
                items.append({"spu": li.get("spu_code", "?"), "channel": ch, "state": li.get("state") or "?",
                              "reason": li.get("reason"),
                              "platform_id": str(li["platform_product_id"]) if li.get("platform_product_id") else None,
                              "updated_at": li.get("updated_at")})
    items.sort(key=lambda x: (x["spu"], x["channel"]))
    return M.ListingList(items=items)


def stock(merchant_id: str, sku: str) -> M.Stock:
    allowed("read")
    a = api()
    policy.check_scope(a.store, principal(), merchant_id)
    from shangjia.stock import StockLedger

    ledger = StockLedger(a.store, a.deps.clock)
    level = ledger.levels(merchant_id, sku)
    if level is None:
        raise NotFound(sku)
    return M.Stock(merchant_id=merchant_id, sku_code=sku, on_hand=level.on_hand, reserved=level.reserved,
                   available=level.available(), buffers=dict(level.buffers),
                   movements=ledger.movements(merchant_id, sku, limit=100))


def notices(merchant_id: Annotated[str | None, Query()] = None) -> M.NoticeList:
    """Batch notices (settled or refused), newest first: ``pipeline.notices`` writes and reads them."""
    allowed("read")
    from shangjia.pipeline.notices import merchant_notices

    a = api()
    merchants = _merchant_param(merchant_id)
    if merchants is None:
        raise BadRequest("API_PARAM_INVALID", field="merchant_id", reason="ops name the merchant")
    items = [n | {"merchant_id": m} for m in merchants for n in merchant_notices(a.deps, m, limit=100)]
    items.sort(key=lambda x: str(x.get("at") or ""), reverse=True)
    return M.NoticeList(items=items)
