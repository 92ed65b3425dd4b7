"""The ERP routes: ``POST /erp/v1/products``, ``/erp/v1/stock``, ``/erp/v1/uploads``.

Order of checks, each refusal a 4xx with a declared code and nothing changed: body size ->
client -> signature over the raw bytes (before any parsing) and its ±300 s window -> event id ->
the event's claim (a retry gets the first answer; same id, other body: 409) -> UTF-8 -> JSON ->
shape -> the merchant bound to the client -> the route's work. A refused request releases its
claim, so a corrected request may reuse the event id; an answered one keeps it for a week.

- products: the feed is mapped here (shape and mapping answered at once) and written as it came
  to the drop bucket (``<merchant>/erp/<client>/<event id>.json``): ingest makes it one batch
  and its products take the sheet rows' path (validation, media, review, publishing).
- stock: absolute levels go to the stock ledger (``apply_stock_level``); price changes become a
  revision sheet of the product (every SKU row, only the price filled: blank cells keep the
  current values) dropped in the bucket, so a new price is validated and reviewed like any edit.
- uploads: a presigned POST to the drop bucket for a big feed or an export sheet; the file then
  takes the bucket path like any upload.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from shangjia.errors import FindingError
from shangjia.inbound.verify import (CLIENT_HEADER, EVENT_HEADER, SIGNATURE_HEADER, EventLog, InboundError,
                                     body_hash, check_event_id, check_signature, client_for, signed_at)
from shangjia.observability import logger
from shangjia.pipeline.products import get_product

ROUTES = ("products", "stock", "uploads")
MAX_BODY_BYTES = 2 * 2**20           # bigger feeds: /erp/v1/uploads
MAX_STOCK_LINES = 1000
UPLOAD_MAX_BYTES = 200 * 2**20       # a JSON feed is parsed whole: sheets.Limits.max_feed_bytes
UPLOAD_EXPIRES_S = 900
MAX_ANSWER_FINDINGS = 200
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")

Presign = Callable[[str, str, int, int], dict[str, Any]]   # (bucket key, object key, max bytes, expires s)


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(e: InboundError) -> Reply:
    f = e.finding()
    body = {"code": f.code, "message_zh": f.message_zh, "message_en": f.message_en,
            "hint_zh": f.hint_zh, "hint_en": f.hint_en}
    headers = {"retry-after": "5"} if e.code == "INBOUND_EVENT_IN_PROGRESS" else {}
    return Reply(e.status, body, headers)


def handle(deps, route: str, headers: dict[str, str], raw: bytes, *, now: int,
           presign: Presign | None = None) -> Reply:
    """One request. ``headers`` lower-cased; ``raw`` the body's bytes as they came."""
    h = {k.lower(): v for k, v in headers.items()}
    client_name = h.get(CLIENT_HEADER.lower(), "")
    log = {"route": route, "client": client_name[:64], "event_id": h.get(EVENT_HEADER.lower(), "")[:128],
           "bytes": len(raw)}
    try:
        if route not in ROUTES:
            return Reply(404, {"message": "Not Found"})
        if len(raw) > MAX_BODY_BYTES:
            raise InboundError(413, "INBOUND_BODY_TOO_LARGE", size=len(raw), limit=MAX_BODY_BYTES)
        client = client_for(deps, client_name)
        check_signature(client, h.get(SIGNATURE_HEADER.lower()), raw, now)
        event_id = check_event_id(h.get(EVENT_HEADER.lower()))
    except InboundError as e:
        logger.warning("erp request refused", extra={**log, "status": e.status, "code": e.code})
        return error_reply(e)
    events = EventLog(deps.store, client.name)
    try:
        claim = events.claim(event_id, body_hash(raw), now)
    except InboundError as e:
        logger.warning("erp request refused", extra={**log, "status": e.status, "code": e.code})
        return error_reply(e)
    if claim.answer is not None:
        logger.info("erp event replayed", extra={**log, "status": claim.answer.get("status")})
        return Reply(int(claim.answer.get("status", 200)), claim.answer.get("body") or {},
                     {"x-shangjia-replayed": "true"})
    try:
        doc = _parse(raw)
        work = {"products": _products, "stock": _stock, "uploads": _uploads}[route]
        reply = work(deps, client, event_id, doc, presign=presign,
                     signed_at=signed_at(h.get(SIGNATURE_HEADER.lower(), "")))
    except InboundError as e:
        events.release(event_id, claim.owner)
        logger.warning("erp request refused", extra={**log, "status": e.status, "code": e.code})
        return error_reply(e)
    except BaseException:
        events.release(event_id, claim.owner)      # our failure: the ERP's retry does it again
        raise
    events.answer(event_id, claim.owner, {"status": reply.status, "body": reply.body})
    logger.info("erp request answered", extra={**log, "status": reply.status})
    return reply


def _parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InboundError(400, "INBOUND_BODY_NOT_UTF8", offset=e.start) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InboundError(400, "INBOUND_BODY_NOT_JSON", reason=f"line {e.lineno} column {e.colno}: {e.msg}") from None


def _bound(client, doc: Any) -> str:
    merchant = doc.get("merchant_id") if isinstance(doc, dict) else None
    if not isinstance(merchant, str) or not merchant.strip():
        raise InboundError(422, "INBOUND_UNKNOWN_SHAPE", reason="merchant_id (a string) is missing")
    if merchant not in client.merchants:
        raise InboundError(403, "INBOUND_MERCHANT_NOT_BOUND", client=client.name, merchant=merchant[:64])
    return merchant


def _object_key(merchant: str, client: str, event_id: str, suffix: str) -> str:
    return f"{merchant}/erp/{client}/{_SAFE.sub('_', event_id)}{suffix}"


# --- products --------------------------------------------------------------------------------------

def _products(deps, client, event_id: str, doc: Any, **_kw) -> Reply:
    from shangjia.inbound.feed import map_feed, parse_feed
    from shangjia.inbound.model import to_raw

    if not isinstance(doc, dict):
        raise InboundError(422, "INBOUND_UNKNOWN_SHAPE", reason=f"the body is a JSON {type(doc).__name__}, not an object")
    merchant = _bound(client, doc)
    try:
        feed = parse_feed(doc)
    except FindingError as e:
        status = 413 if e.finding.code == "INBOUND_TOO_MANY_ITEMS" else 422
        raise InboundError(status, e.finding.code, **_params(e.finding)) from None
    mapped = map_feed(feed)
    findings = []
    for n, mp in enumerate(mapped):
        for f in to_raw(mp).findings:
            findings.append({"item": n, "source_id": mp.source_id, "spu_code": mp.spu_code, "code": f.code,
                             "severity": f.severity, "field": f.field, "value": f.value,
                             "message_zh": f.message_zh, "message_en": f.message_en})
    key = _object_key(merchant, client.name, event_id, ".json")
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    # (a claim taken over after its owner died between this put and the answer puts it again: a
    # second version, a second batch whose products find their content unchanged and stay as they are)
    deps.blobs.put("drop", key, body, content_type="application/json")
    return Reply(202, {"accepted": True, "event_id": event_id, "source": f"erp:{client.name}",
                       "platform": feed.platform, "merchant_id": merchant, "object_key": key,
                       "products": len(mapped), "skus": sum(len(m.rows) for m in mapped),
                       # the answer is kept with the event id (a DynamoDB item): the first ones; the
                       # batch's report has them all
                       "mapping_findings": findings[:MAX_ANSWER_FINDINGS], "mapping_findings_total": len(findings),
                       "next": "one batch of this feed: validation, media, review, publishing "
                               "(shangjia status --merchant " + merchant + ")"})


def _params(f) -> dict[str, Any]:
    return dict(f.params)


# --- stock -----------------------------------------------------------------------------------------

@dataclass
class StockLine:
    index: int
    sku_code: str
    on_hand: int | None
    price: str | None
    seq: Any


def parse_stock(doc: Any, client, signed_at: int = 0) -> tuple[str, list[StockLine]]:
    """The lines, all checked before any is applied. Without ``seq`` (on the line or the body),
    the signature's timestamp orders the updates (an ISO-8601 time: the ledger's epoch µs)."""
    from datetime import datetime, timezone

    from shangjia.inbound.model import yuan
    from shangjia.stock.rules import normalise_seq

    default_seq = datetime.fromtimestamp(signed_at, timezone.utc).isoformat()

    if not isinstance(doc, dict):
        raise InboundError(422, "INBOUND_UNKNOWN_SHAPE", reason=f"the body is a JSON {type(doc).__name__}, not an object")
    merchant = _bound(client, doc)
    updates = doc.get("updates")
    if not isinstance(updates, list) or not updates:
        raise InboundError(422, "INBOUND_UNKNOWN_SHAPE", reason="updates must be a non-empty list")
    if len(updates) > MAX_STOCK_LINES:
        raise InboundError(413, "INBOUND_TOO_MANY_ITEMS", count=len(updates), what="stock updates", limit=MAX_STOCK_LINES)
    lines, seen = [], set()
    for i, u in enumerate(updates):
        def bad(reason: str) -> InboundError:
            return InboundError(422, "INBOUND_STOCK_LINE", index=i, reason=reason)
        if not isinstance(u, dict):
            raise bad("not an object")
        sku = u.get("sku_code")
        if not isinstance(sku, str) or not sku.strip():
            raise bad("sku_code (a string) is missing")
        if sku in seen:
            raise bad(f"sku_code {sku} appears twice in one event")
        seen.add(sku)
        on_hand = u.get("on_hand")
        if on_hand is not None and (isinstance(on_hand, bool) or not isinstance(on_hand, int) or on_hand < 0):
            raise bad("on_hand must be an integer ≥ 0")
        price = None
        if u.get("price") is not None:
            price, why = yuan(u["price"])
            if price is None or price == "0.00":
                raise bad(f"price {str(u['price'])[:20]!r}: {why or 'must be above 0'}")
        if on_hand is None and price is None:
            raise bad("neither on_hand nor price")
        seq = u.get("seq", doc.get("seq"))
        if seq is None:
            seq = default_seq
        try:
            if not isinstance(seq, (int, str)):
                raise ValueError(seq)
            normalise_seq(seq)
        except ValueError:
            raise bad("seq must be an integer or an ISO-8601 string") from None
        lines.append(StockLine(i, sku.strip(), on_hand, price, seq))
    return merchant, lines


def apply_stock_level(deps, merchant_id: str, sku_code: str, on_hand: int, *, source: str, event_id: str,
                      seq: Any) -> str:
    """The one call into the stock ledger (docs/stock.md): "applied" | "stale" | "replay"."""
    from shangjia.stock import ledger_for

    return ledger_for(deps).set_level(merchant_id, sku_code, on_hand, source=source, event_id=event_id,
                                      seq=seq).outcome


def _stock(deps, client, event_id: str, doc: Any, *, signed_at: int = 0, **_kw) -> Reply:
    merchant, lines = parse_stock(doc, client, signed_at)
    results = []
    for ln in lines:
        r: dict[str, Any] = {"sku_code": ln.sku_code}
        if ln.on_hand is not None:
            r["stock"] = apply_stock_level(deps, merchant, ln.sku_code, ln.on_hand, source=f"erp:{client.name}",
                                           event_id=f"{event_id}#{ln.index}", seq=ln.seq)
        results.append(r)
    priced = [ln for ln in lines if ln.price is not None]
    if priced:
        for r, outcome in zip([r for r, ln in zip(results, lines) if ln.price is not None],
                              price_revisions(deps, merchant, client.name, event_id, priced)):
            r["price"] = outcome
    return Reply(200, {"event_id": event_id, "merchant_id": merchant, "results": results})


def price_revisions(deps, merchant_id: str, client: str, event_id: str, lines: list[StockLine]) -> list[str]:
    """New prices as a revision sheet in the drop bucket (one row per current SKU of each product
    touched; blank cells keep the current values), so they are validated, reviewed and
    published like any edit. Per line: "revision" (in the sheet) or "unknown_sku"."""
    from shangjia.pipeline import keys
    from shangjia.spec import load_spec

    outcomes: list[str] = []
    by_spu: dict[str, dict[str, str]] = {}
    for ln in lines:
        claim = deps.store.get(*keys.sku_claim(merchant_id, ln.sku_code), consistent=False)
        if not claim or not claim.get("owner"):
            outcomes.append("unknown_sku")
            continue
        by_spu.setdefault(claim["owner"], {})[ln.sku_code] = ln.price
        outcomes.append("revision")
    if not by_spu:
        return outcomes
    names = [f.name for f in load_spec().fields]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(names)
    for spu, prices in by_spu.items():
        current = get_product(deps, merchant_id, spu) or {}
        codes = [code for code, _ in (current.get("cells") or {}).get("skus") or []] or list(prices)
        for code in codes:
            w.writerow([spu if n == "spu_code" else code if n == "sku_code" else prices.get(code, "") if n == "price"
                        else "" for n in names])
    key = _object_key(merchant_id, client, event_id, "-prices.csv")
    deps.blobs.put("drop", key, buf.getvalue().encode("utf-8-sig"), content_type="text/csv")
    return outcomes


# --- uploads ---------------------------------------------------------------------------------------

def _uploads(deps, client, event_id: str, doc: Any, *, presign: Presign | None = None, **_kw) -> Reply:
    import posixpath

    from shangjia.sheets import SHEET_SUFFIXES

    if not isinstance(doc, dict):
        raise InboundError(422, "INBOUND_UNKNOWN_SHAPE", reason=f"the body is a JSON {type(doc).__name__}, not an object")
    merchant = _bound(client, doc)
    name = doc.get("filename")
    if not isinstance(name, str) or posixpath.splitext(name.lower())[1] not in SHEET_SUFFIXES - {".xls", ".ods", ".et"}:
        raise InboundError(422, "INBOUND_UNKNOWN_SHAPE",
                           reason="filename must end in .json (a feed), .csv, .tsv, .xlsx or .xlsm (an export sheet)")
    if presign is None:
        raise RuntimeError("uploads need a presigner (the handler passes the S3 one)")
    key = _object_key(merchant, client.name, event_id, "-" + _SAFE.sub("_", posixpath.basename(name))[-80:])
    post = presign("drop", key, UPLOAD_MAX_BYTES, UPLOAD_EXPIRES_S)
    return Reply(201, {"event_id": event_id, "merchant_id": merchant, "object_key": key, "method": "POST",
                       "url": post["url"], "fields": post["fields"], "max_bytes": UPLOAD_MAX_BYTES,
                       "expires_in": UPLOAD_EXPIRES_S})
