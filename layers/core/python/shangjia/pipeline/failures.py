"""The week's failures: a small index item per failure, and the weekly report built from it.

A **failure** is one product revision of one batch that ended ``needs_fix``, ``rejected`` or
``failed``, or one refused row (a revision refused as busy or too large to store). When it
settles (``batches.settle_product``), ``record`` writes one create-only item beside its batch::

    pk BATCH#<batch_id>   sk FAILURE#<spu>          (~0.5-1 KB: codes, category, channels, 3 examples)
    gsi1pk FAILURES#<YYYY-Www>#<shard 0..7>   gsi1sk <time>#<batch_id>#<spu>

so reading a week is ``FAILURE_SHARDS`` index queries (keys only) and a ``get_many`` of exactly the
week's failures: never a scan. The shard spreads a 100k-row batch that fails at once over eight
index partitions. Cost per failure: one item write (1 WRU) + one gsi1 entry (1 WRU); see
docs/failures.md.

``weekly_report`` groups a week's failures by error code, category, merchant and channel, with the
previous week's counts and a few example rows per code; ``write_weekly`` writes it to the reports
bucket as ``weekly/YYYY-Www.json`` and ``weekly/YYYY-Www.xlsx`` (the same keys for the same week).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from shangjia.clock import iso
from shangjia.limits import safe_key_part
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.ports import ConditionFailed

FAILURE_SHARDS = 8
EXAMPLES_PER_FAILURE = 3        # findings kept on the index item
EXAMPLES_PER_CODE = 3           # example rows per code in the report
TEXT_MAX = 300
WEEKLY_PREFIX = "weekly/"
NO_CHANNEL = "-"
NO_CATEGORY = "-"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


# --- weeks -------------------------------------------------------------------------------------------

def week_of(t: datetime) -> str:
    y, w, _ = t.astimezone(timezone.utc).isocalendar()
    return f"{y}-W{w:02d}"


def week_start(week: str) -> datetime:
    """Monday 00:00 UTC of an ISO week ``YYYY-Www``; ``ValueError`` when it is not one."""
    m = _WEEK.match(week or "")
    if not m:
        raise ValueError(week)
    year, num = int(m.group(1)), int(m.group(2))
    start = datetime.fromisocalendar(year, num, 1).replace(tzinfo=timezone.utc)    # raises for W54 etc.
    return start


def previous_week(week: str) -> str:
    return week_of(week_start(week) - timedelta(days=7))


def last_full_week(now: datetime) -> str:
    """The week that ended most recently (what the Monday schedule reports)."""
    return week_of(now.astimezone(timezone.utc) - timedelta(days=7))


def report_keys(week: str) -> tuple[str, str]:
    return f"{WEEKLY_PREFIX}{week}.json", f"{WEEKLY_PREFIX}{week}.xlsx"


# --- recording ---------------------------------------------------------------------------------------

def _text(v: Any) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= TEXT_MAX else s[:TEXT_MAX - 1] + "…"


def _error_findings(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    fs = [f for f in item.get("findings") or [] if isinstance(f, dict) and f.get("severity", "error") == "error"]
    if fs:
        return fs
    failure = item.get("failure") or {}
    from shangjia.errors import finding

    stage = (item.get("reset") or {}).get("from") or "workflow"
    return [finding("FAILURE_STAGE_FAILED", row=item.get("first_row"), field="spu_code", value=item.get("spu_code"),
                    stage=stage, error=_text(failure.get("error") or "unknown")).to_dict()]


def _channel(f: Mapping[str, Any]) -> str:
    return str((f.get("params") or {}).get("channel") or NO_CHANNEL)


def failure_item(deps: Deps, batch_id: str, spu: str, outcome: str, item: Mapping[str, Any]) -> dict[str, Any]:
    now = deps.clock.now()
    week = week_of(now)
    fs = _error_findings(item)
    product = item.get("product") if isinstance(item.get("product"), dict) else {}
    codes = list(dict.fromkeys(str(f.get("code")) for f in fs if f.get("code")))
    channels = sorted({_channel(f) for f in fs} - {NO_CHANNEL}) or [NO_CHANNEL]
    # one example per code first (so every code has a row), then more of the first codes
    picked: list[dict[str, Any]] = []
    for code in codes:
        picked.append(next(f for f in fs if f.get("code") == code))
    picked = (picked + [f for f in fs if f not in picked])[:max(EXAMPLES_PER_FAILURE, len(codes[:10]))]
    examples = [{"code": f.get("code"), "row": f.get("row") or item.get("first_row"), "column": f.get("column"),
                 "field": f.get("field"), "channel": _channel(f), "message": _text(f.get("message_en")),
                 "message_zh": _text(f.get("message_zh"))} for f in picked]
    shard = int(hashlib.sha256(f"{batch_id}\x00{spu}".encode()).hexdigest()[:8], 16) % FAILURE_SHARDS
    pk, _ = keys.batch(batch_id)
    return {
        "pk": pk, "sk": f"FAILURE#{safe_key_part(spu, 900)}",
        "gsi1pk": f"FAILURES#{week}#{shard}", "gsi1sk": f"{iso(now)}#{batch_id}#{safe_key_part(spu, 600)}",
        "week": week, "at": iso(now), "batch_id": batch_id, "merchant_id": item.get("merchant_id") or "-",
        "spu_code": _text(spu), "outcome": outcome,
        "category": _text(product.get("category") or item.get("category") or NO_CATEGORY) or NO_CATEGORY,
        "channels": channels, "codes": codes[:50], "examples": examples,
    }


def record(deps: Deps, batch_id: str, spu: str, outcome: str, item: Mapping[str, Any]) -> bool:
    """Write the failure's index item once (create-only: a duplicate delivery, or a product that is
    rejected and then filed as needs_fix, keeps the first). Returns True when this call wrote it."""
    try:
        deps.store.put(failure_item(deps, batch_id, spu, outcome, item), condition="attribute_not_exists(pk)")
        return True
    except ConditionFailed:
        return False


def week_failures(deps: Deps, week: str) -> list[dict[str, Any]]:
    """Every failure recorded in ``week``: the index's keys, then the items by key."""
    from shangjia.pipeline.views import listed

    out: list[dict[str, Any]] = []
    for shard in range(FAILURE_SHARDS):
        out += listed(deps, f"FAILURES#{week}#{shard}")
    return sorted(out, key=lambda f: (f.get("at") or "", f.get("batch_id") or "", f.get("spu_code") or ""))


# --- the weekly report -------------------------------------------------------------------------------

def _generic(code: str) -> tuple[str, str]:
    """A code's message without the failure's values: ``{value}`` and the like become ``…``."""
    from shangjia.errors import CODES

    if code not in CODES:
        return code, code
    c = CODES[code]
    strip = lambda t: re.sub(r"\{[a-z_]+\}", "…", t).replace("{{", "{").replace("}}", "}")  # noqa: E731
    return strip(c.en), strip(c.zh)


def _groups(failures: Iterable[Mapping[str, Any]]) -> dict[str, Counter]:
    g: dict[str, Counter] = {"code": Counter(), "category": Counter(), "merchant": Counter(), "channel": Counter(),
                             "outcome": Counter()}
    for f in failures:
        g["code"].update(set(f.get("codes") or []))
        g["category"][f.get("category") or NO_CATEGORY] += 1
        g["merchant"][f.get("merchant_id") or "-"] += 1
        g["channel"].update(set(f.get("channels") or [NO_CHANNEL]))
        g["outcome"][f.get("outcome") or "?"] += 1
    return g


def _rows(now: Counter, before: Counter, name: str) -> list[dict[str, Any]]:
    keys_ = set(now) | set(before)
    rows = [{name: k, "count": now.get(k, 0), "previous": before.get(k, 0), "change": now.get(k, 0) - before.get(k, 0)}
            for k in keys_]
    return sorted(rows, key=lambda r: (-r["count"], -r["previous"], str(r[name])))


def weekly_report(deps: Deps, week: str) -> dict[str, Any]:
    start = week_start(week)
    prev = previous_week(week)
    this, last = week_failures(deps, week), week_failures(deps, prev)
    g, p = _groups(this), _groups(last)
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in this:
        for e in f.get("examples") or []:
            code = e.get("code")
            if code and len(examples[code]) < EXAMPLES_PER_CODE and \
                    not any(x["spu_code"] == f.get("spu_code") and x["batch_id"] == f.get("batch_id")
                            for x in examples[code]):
                examples[code].append({"merchant_id": f.get("merchant_id"), "spu_code": f.get("spu_code"),
                                       "batch_id": f.get("batch_id"), "category": f.get("category"),
                                       "row": e.get("row"), "column": e.get("column"), "field": e.get("field"),
                                       "channel": e.get("channel") or NO_CHANNEL, "message": e.get("message"),
                                       "message_zh": e.get("message_zh")})
    by_code = []
    for r in _rows(g["code"], p["code"], "code"):
        en, zh = _generic(r["code"])
        by_code.append({**r, "message": en, "message_zh": zh, "examples": examples.get(r["code"], [])})
    return {
        "week": week, "previous_week": prev, "generated_at": iso(deps.clock.now()),
        "period": {"start": iso(start), "end": iso(start + timedelta(days=7))},
        "totals": {"failures": len(this), "previous": len(last), "change": len(this) - len(last),
                   "products": len({(f.get("merchant_id"), f.get("spu_code")) for f in this}),
                   "merchants": len({f.get("merchant_id") for f in this}),
                   "by_outcome": dict(sorted(g["outcome"].items()))},
        "by_code": by_code,
        "by_category": _rows(g["category"], p["category"], "category"),
        "by_merchant": _rows(g["merchant"], p["merchant"], "merchant_id"),
        "by_channel": _rows(g["channel"], p["channel"], "channel"),
    }


def write_weekly(deps: Deps, week: str | None = None) -> dict[str, Any]:
    """Build the week's report (default: the week that just ended) and write its JSON and workbook
    to the reports bucket, over any earlier run's for the same week. Returns
    ``{"week", "json_key", "xlsx_key", "report"}``."""
    week = week or last_full_week(deps.clock.now())
    week_start(week)                          # refuse a malformed week before writing anything
    doc = weekly_report(deps, week)
    json_key, xlsx_key = report_keys(week)
    deps.blobs.put("reports", xlsx_key, workbook(doc), content_type=XLSX_TYPE)
    deps.blobs.put("reports", json_key, json.dumps(doc, ensure_ascii=False, indent=1).encode(),
                   content_type="application/json; charset=utf-8")
    return {"week": week, "json_key": json_key, "xlsx_key": xlsx_key, "report": doc}


# --- the workbook -------------------------------------------------------------------------------------

def workbook(doc: Mapping[str, Any]) -> bytes:
    """The report as xlsx: a summary, one sheet per grouping, and the examples. Every cell we write
    from data is text or a number, and text a spreadsheet could take for a formula is neutralised."""
    import xlsxwriter

    from shangjia.reports import neutralise

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                   "strings_to_urls": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "valign": "top"})
    title = wb.add_format({"bold": True, "font_size": 14})

    def cell(v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
        return "—" if v == "-" else neutralise("" if v is None else v)      # "-": none (no channel...)

    def table(name: str, headers: list[tuple[str, str, int]], rows: Iterable[list[Any]], top: int = 0):
        ws = wb.add_worksheet(name)
        for c, (h, _key, width) in enumerate(headers):
            ws.set_column(c, c, width)
            ws.write_string(top, c, h, head)
        r = top
        for r, row in enumerate(rows, start=top + 1):
            for c, v in enumerate(row):
                v = cell(v)
                if isinstance(v, str):
                    ws.write_string(r, c, v)
                else:
                    ws.write_number(r, c, v)
        ws.freeze_panes(top + 1, 0)
        return ws

    t = doc["totals"]
    ws = wb.add_worksheet("汇总 Summary")
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 24)
    ws.write_string(0, 0, neutralise(f"失败周报 Weekly failure report {doc['week']}"), title)
    lines = [("周次 Week", doc["week"]), ("上周 Previous week", doc["previous_week"]),
             ("生成时间 Generated at", doc["generated_at"]),
             ("失败数 Failures", t["failures"]), ("上周失败数 Previous week", t["previous"]),
             ("变化 Change", t["change"]), ("涉及商品 Products", t["products"]), ("涉及商家 Merchants", t["merchants"])]
    lines += [(f"结果 Outcome: {k}", v) for k, v in t["by_outcome"].items()]
    for r, (k, v) in enumerate(lines, start=2):
        ws.write_string(r, 0, k, head)
        v = cell(v)
        ws.write_string(r, 1, v) if isinstance(v, str) else ws.write_number(r, 1, v)

    counts = [("本周 Count", "count", 12), ("上周 Previous", "previous", 12), ("变化 Change", "change", 12)]
    table("按原因 By cause", [("错误码 Code", "code", 28), *counts, ("说明 Message (zh)", "message_zh", 40),
                             ("说明 Message (en)", "message", 50)],
          ([r["code"], r["count"], r["previous"], r["change"], r["message_zh"], r["message"]] for r in doc["by_code"]))
    for sheet, key, label in (("按类目 By category", "category", "类目 Category"),
                              ("按商家 By merchant", "merchant_id", "商家 Merchant"),
                              ("按渠道 By channel", "channel", "渠道 Channel")):
        group = {"category": "by_category", "merchant_id": "by_merchant", "channel": "by_channel"}[key]
        table(sheet, [(label, key, 30), *counts],
              ([r[key], r["count"], r["previous"], r["change"]] for r in doc[group]))
    ex_cols = [("错误码 Code", "code", 24), ("商家 Merchant", "merchant_id", 14), ("商品编码 SPU", "spu_code", 18),
               ("行 Row", "row", 8), ("列 Column", "column", 10), ("字段 Field", "field", 14),
               ("渠道 Channel", "channel", 10), ("类目 Category", "category", 20), ("批次 Batch", "batch_id", 22),
               ("说明 Message (zh)", "message_zh", 44), ("说明 Message (en)", "message", 54)]
    table("示例 Examples", ex_cols,
          ([r["code"] if k == "code" else e.get(k) for _h, k, _w in ex_cols]
           for r in doc["by_code"] for e in r["examples"]))
    wb.close()
    return buf.getvalue()
