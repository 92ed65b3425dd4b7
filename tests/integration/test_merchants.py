"""Merchant profiles on moto: re-adding a merchant keeps the settings made elsewhere."""

from shangjia.pipeline.merchants import get_merchant, import_defaults, put_merchant, set_import_defaults


def test_re_adding_a_merchant_keeps_its_import_defaults(deps):
    put_merchant(deps.store, "m1", name="Old name", annual_sales_cny=100_000)
    set_import_defaults(deps.store, "m1", {"dispatch_days": 2})
    put_merchant(deps.store, "m1", name="New name", annual_sales_cny=9_000_000, channels=["own_shop"])
    profile = get_merchant(deps.store, "m1")
    assert profile["name"] == "New name" and profile["tier"] == "vip" and profile["channels"] == ["own_shop"]
    assert import_defaults(profile) == {"dispatch_days": "2"}      # as checked and stored
