"""A Taobao 淘宝助理 export and a Pinduoduo 商品导出 sheet dropped in the bucket (moto): one batch
each, its layout naming the platform, its products validated exactly as a sheet's, the mapping's
errors located at the export's own rows and columns."""

import boto3
import pytest

from shangjia.pipeline.products import get_product
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
        p = get_product(deps, "m1", spu)
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


def test_with_import_defaults_a_taobao_export_passes_validation(deps, aws, capsys):
    """The merchant sets import defaults once (the CLI, as ops would); the same export then goes
    through: every product valid, each saying which fields came from the defaults."""
    import json

    from shangjia.cli import main

    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    assert main(["merchants", "defaults", "set", "m1", "--shipping-template", "全国包邮", "--return-policy", "7天无理由",
                 "--dispatch-days", "3", "--origin", "中国", "--fragile", "否", "--material", "棉",
                 "--keywords", "女装|连衣裙", "--weight-kg", "0.5", "--package-size-cm", "30x20x5",
                 "--cost-ratio", "0.6", "--market-price-from-price", "--model-from-spu-code"]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown["import_defaults"]["return_policy"] == "7天无理由退换"
    assert main(["merchants", "defaults", "set", "m1", "--dispatch-days", "30"]) == 2     # refused, nothing changed
    assert "outside 1–15" in capsys.readouterr().err

    data = samples.taobao_export_csv(5, seed=12)
    key = "m1/出售中的宝贝.csv"
    v = boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=aws.buckets["drop"], Key=key, Body=data).get("VersionId")
    sent = []
    deps.queues.send_batch = lambda q, bodies, **kw: sent.extend(b for b in bodies if q.startswith("validate"))
    out = ingest_upload(deps, Upload(aws.buckets["drop"], key, len(data), v))
    assert out.action == "ingested" and out.products_sent == 5
    batch = deps.store.get(*keys.batch(out.batch_id))
    assert not [f for f in batch["file_findings"] if f["code"] == "INBOUND_IMPORT_DEFAULTS_MISSING"]
    for m in sent:
        validate_message(deps, m)
    _, expected = samples.taobao_export_rows(5, seed=12)
    valid = 0
    for row, spu, _ in expected:
        p = get_product(deps, "m1", spu)
        errors = [f for f in p["findings"] if f["severity"] == "error"]
        # what is left is the product's own content no default may fill: a category's required
        # attribute (袖长 for 连衣裙) the export does not name
        assert {f["code"] for f in errors} <= {"ATTRIBUTE_MISSING"}, errors
        assert p["valid"] is (not errors)
        valid += p["valid"] is True
        [note] = [f for f in p["findings"] if f["code"] == "INBOUND_DEFAULT_APPLIED"]
        assert note["severity"] == "warning" and note["row"] == row
        assert "shipping_template" in note["value"] and "filled from your import defaults" in note["message_en"]
        assert all(s["cost_price_fen"] * 10 == s["price_fen"] * 6 for s in p["product"]["skus"]
                   if s["price_fen"] % 10 == 0)
    assert valid == 3                  # without the defaults: 0 (the test above)


def test_without_import_defaults_the_batch_says_how_to_set_them(deps, aws):
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    data = samples.taobao_export_csv(2)
    key = "m1/出售中的宝贝.csv"
    v = boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=aws.buckets["drop"], Key=key, Body=data).get("VersionId")
    deps.queues.send_batch = lambda q, bodies, **kw: None
    out = ingest_upload(deps, Upload(aws.buckets["drop"], key, len(data), v))
    batch = deps.store.get(*keys.batch(out.batch_id))
    [note] = [f for f in batch["file_findings"] if f["code"] == "INBOUND_IMPORT_DEFAULTS_MISSING"]
    assert note["severity"] == "warning" and "shangjia merchants defaults set" in note["hint_en"]
