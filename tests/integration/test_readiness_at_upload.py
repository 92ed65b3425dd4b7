"""Readiness at upload: validate scores the product against every channel the merchant publishes
to, stores it on the product (``readiness``), and a channel that is not ready is a warning: the
product still goes on. The batch's status shows it per product and in counts per channel."""

import json

import pytest

from tests.support.events import load_event
from shangjia.pipeline.products import get_product
from shangjia.pipeline import views
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.validate import validate_message

MERCHANT = "m-vip-001"


@pytest.fixture
def msg(deps):
    body = json.loads(load_event("validate/product.json")["Records"][0]["body"])
    body["options"] = {"seq": 0}
    return body


def test_readiness_is_stored_per_requested_channel_and_does_not_stop_the_product(deps, msg):
    put_merchant(deps.store, MERCHANT, name="V", annual_sales_cny=9_000_000, channels=["own_shop", "wechat", "douyin"])
    # a title of letters only: WeChat wants a Chinese character in it, the own shop and Douyin do not
    msg["raw"]["rows"][0]["cells"]["title"] = "Retro Linen Shirt X276"
    assert validate_message(deps, msg) == "media"
    item = get_product(deps, MERCHANT, msg["spu_code"])
    assert item["status"] == "media"                    # a warning at upload, not a stop
    r = item["readiness"]
    assert set(r) == {"own_shop", "wechat", "douyin"}
    assert r["own_shop"]["ready"] and r["douyin"]["ready"]
    assert r["wechat"]["ready"] is False
    (f,) = r["wechat"]["findings"]
    assert f["code"] == "CHANNEL_TITLE_ONLY_ALNUM" and f["row"] == 2 and f["message_zh"] and f["message"]
    assert not any(x["code"].startswith("CHANNEL_") for x in item["findings"])      # its own list, not validation's
    summary = views.batch_summary(deps, {"batch_id": msg["batch_id"], "pk": f"BATCH#{msg['batch_id']}",
                                         "sk": "META", "merchant_id": MERCHANT, "status": "validating"},
                                  with_products=True)
    assert summary["readiness"] == {"douyin": {"ready": 1, "not_ready": 0}, "own_shop": {"ready": 1, "not_ready": 0},
                                    "wechat": {"ready": 0, "not_ready": 1}}
    (p,) = summary["products"]
    assert p["readiness"]["wechat"]["findings"][0]["code"] == "CHANNEL_TITLE_ONLY_ALNUM"


def test_only_the_merchants_channels_are_scored(deps, msg):
    put_merchant(deps.store, MERCHANT, name="V", annual_sales_cny=9_000_000, channels=["own_shop"])
    validate_message(deps, msg)
    item = get_product(deps, MERCHANT, msg["spu_code"])
    assert item["readiness"] == {"own_shop": {"ready": True, "findings": []}}
