"""Per-channel readiness as the upload stores it (``readiness_by_channel``), re-scored on the
images media processed, and the merchant report's readiness sheet (Chinese + English, formula-safe)."""

from __future__ import annotations

import io

import openpyxl

from shangjia.channels.readiness import readiness_by_channel, readiness_counts
from shangjia.reports import write_error_report
from tests.unit.channels.test_readiness import dress


def test_every_requested_channel_is_scored_with_the_stored_shape():
    p = dress(skus=[{**s, "market_price_fen": 5000} for s in dress()["skus"]])      # below the 99.00 price
    r = readiness_by_channel(p, ["own_shop", "wechat", "douyin"])
    assert set(r) == {"own_shop", "wechat", "douyin"}
    assert r["own_shop"] == {"ready": True, "findings": []}
    assert r["douyin"]["ready"] is True
    assert r["wechat"]["ready"] is False
    f = r["wechat"]["findings"][0]
    assert f["code"] == "CHANNEL_MARKET_PRICE_NOT_ABOVE" and f["severity"] == "error"
    assert "微信小店" in f["message_zh"] and "WeChat" in f["message"] and f["hint"] and f["hint_zh"]
    assert f["row"] == 2 and f["field"]
    assert readiness_by_channel(p, ["wechat"]).keys() == {"wechat"}       # only what the merchant publishes to


def test_a_warning_alone_leaves_the_channel_ready():
    long_code = "SKU-" + "9" * 30
    p = dress(skus=[{**s, "sku_code": f"{long_code}{i}"} for i, s in enumerate(dress()["skus"])])
    r = readiness_by_channel(p, ["wechat"])["wechat"]
    assert r["ready"] is True
    assert {f["code"] for f in r["findings"]} == {"CHANNEL_SKU_CODE_SHORTENED"}
    assert all(f["severity"] == "warning" for f in r["findings"])


def test_images_are_counted_as_referenced_at_upload_and_as_processed_after_media():
    p = dress()          # main + 3 gallery: 4 references, WeChat needs 3
    assert readiness_by_channel(p, ["wechat"])["wechat"]["ready"] is True
    media = {"main#00": {"ok": True}, "gallery#00": {"ok": True}, "gallery#01": {"ok": False},
             "gallery#02": {"ok": False}, "detail#00": {"ok": True}}
    after = readiness_by_channel(p, ["wechat", "douyin"], media=media)
    assert after["wechat"]["ready"] is False
    assert [f["code"] for f in after["wechat"]["findings"]] == ["CHANNEL_IMAGES_TOO_FEW"]
    assert after["douyin"]["ready"] is True          # one carousel image is enough there


def test_counts_per_channel():
    ok = readiness_by_channel(dress(), ["wechat", "douyin"])
    bad = readiness_by_channel(dress(images={"main": ["m.jpg"]}), ["wechat", "douyin"])
    assert readiness_counts([ok, bad, None]) == {"douyin": {"ready": 2, "not_ready": 0},
                                                 "wechat": {"ready": 1, "not_ready": 1}}


def _sheet_source() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["商品编码", "商品标题"])
    ws.append(["=cmd|' /C calc'!A0", "x"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_the_report_has_a_readiness_sheet_per_channel_in_both_languages_and_formula_safe():
    bad = readiness_by_channel(dress(images={"main": ["m.jpg"]}), ["own_shop", "wechat", "douyin"])
    good = readiness_by_channel(dress(), ["own_shop", "wechat", "douyin"])
    out = io.BytesIO()
    write_error_report(out, _sheet_source(), "up.xlsx", [], products=2, invalid_products=0,
                       readiness=[{"spu_code": "=HYPERLINK(\"http://x\")", "first_row": 2, "readiness": bad},
                                  {"spu_code": "D2", "first_row": 6, "readiness": good}])
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    ws = wb["渠道就绪 Readiness"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0][:5] == ["商品编码 Product", "行 Row", "自营商城 own shop", "微信小店 WeChat Channels shop",
                           "抖店 Douyin shop"]
    first, second = rows[1], rows[2]
    assert first[0] == "'=HYPERLINK(\"http://x\")"           # never a live formula
    assert first[1] == 2
    assert first[2] == "就绪 ready" and first[3] == "未就绪 not ready (1)" and first[4] == "就绪 ready"
    assert "微信小店" in first[5] and "WeChat Channels shop" in first[6]
    assert first[7] and first[8]                               # how to fix, both languages
    assert second[:5] == ["D2", 6, "就绪 ready", "就绪 ready", "就绪 ready"] and not second[5]


def test_no_readiness_no_sheet():
    out = io.BytesIO()
    write_error_report(out, _sheet_source(), "up.xlsx", [], products=1, invalid_products=0)
    assert "渠道就绪 Readiness" not in openpyxl.load_workbook(io.BytesIO(out.getvalue())).sheetnames
