"""A Taobao 淘宝助理 export and a Pinduoduo 商品导出 sheet dropped in the bucket (moto): one batch
each, its layout naming the platform, its products validated exactly as a sheet's, the mapping's
errors located at the export's own rows and columns."""

import boto3
import pytest

from shangjia.inbound import samples
from shangjia.pipeline import keys
from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.validate import validate_message


@pytest.mark.parametrize("name, data, layout, expected", [
    ("出售中的宝贝.csv", samples.taobao_export_csv(6, broken_every=3), "export:taobao",
     samples.taobao_export_rows(6, broken_every=3)[1]),
    ("商品导出.xlsx", samples.pinduoduo_export_xlsx(6, broken_every=3), "export:pinduoduo",
     samples.pinduoduo_export_rows(6, broken_every=3)[1]),
], ids=["taobao", "pinduoduo"])
def test_a_platform_export_becomes_a_batch_validated_like_a_sheet(deps, aws, name, data, layout, expected):
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    key = f"m1/{name}"
    v = boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=aws.buckets["drop"], Key=key, Body=data).get("VersionId")
    sent = []
    deps.queues.send_batch = lambda q, bodies, **kw: sent.extend(b for b in bodies if q.startswith("validate"))
    out = ingest_upload(deps, Upload(aws.buckets["drop"], key, len(data), v))
    assert out.action == "ingested" and out.products_sent == len(expected)
    batch = deps.store.get(*keys.batch(out.batch_id))
    assert (batch["source"], batch["layout"]) == ("sheet", layout)
    for m in sent:
        validate_message(deps, m)
    broken = {spu: (row, b) for row, spu, b in expected if b}
    assert len(broken) == 2
    for row, spu, b in expected:
        p = deps.store.get(*keys.product("m1", spu))
        codes = {f["code"] for f in p["findings"] if f["severity"] == "error"}
        # what a sheet with the same gaps gets: the export carries no shipping template, return policy...
        assert "FIELD_REQUIRED" in codes and p["valid"] is False
        inbound = {f["code"]: f for f in p["findings"] if f["code"].startswith("INBOUND_") and f["severity"] == "error"}
        if b is None:
            assert inbound == {}
        else:
            [(code, f)] = inbound.items()
            assert f["row"] >= row and f["column"] and f["message_zh"] and f["message_en"], f
            if b == "unmapped_category":
                assert code == "INBOUND_CATEGORY_UNMAPPED"
        if b not in ("unmapped_category", "bad_price", "all_off_sale"):
            prod = p["product"]                       # mapped: our category, prices in fen, images by URL
            assert prod["category_id"] and prod["images"]["main"][0].startswith("https://")
            assert all(isinstance(s["price_fen"], int) and s["price_fen"] > 0 and s["spec"] for s in prod["skus"])
