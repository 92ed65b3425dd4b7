"""Store.get_many: the full items behind a keys-only index, fetched by key in batches; and
Store.put_many: unconditional puts in batches."""

from shangjia.pipeline import views


def test_get_many_returns_items_in_the_order_asked_over_several_batches_missing_left_out(deps):
    for i in range(105):        # BatchGetItem takes 100 keys a request
        deps.store.put({"pk": f"GETMANY#{i:03d}", "sk": "X", "n": i, "body": "货" * 50})
    keys = [(f"GETMANY#{i:03d}", "X") for i in reversed(range(105))] + [("GETMANY#none", "X"), ("GETMANY#000", "X")]
    items = deps.store.get_many(keys)
    assert [it["n"] for it in items] == list(reversed(range(105)))
    assert items[0]["body"] == "货" * 50
    assert deps.store.get_many([]) == []


def test_index_readers_see_full_items_though_the_index_projects_keys_only(deps):
    deps.store.put({"pk": "BATCH#b-gm", "sk": "META", "batch_id": "b-gm", "merchant_id": "m-gm", "status": "open",
                    "key": "m-gm/a.xlsx", "gsi1pk": "BATCHES#m-gm", "gsi1sk": "2026-01-01"})
    entry, = deps.store.query("BATCHES#m-gm", index="gsi1")
    assert "status" not in entry            # KEYS_ONLY: what the index itself carries
    batch, = views.merchant_batches(deps, "m-gm")
    assert batch["status"] == "open" and batch["key"] == "m-gm/a.xlsx"
    assert views.batch_summary(deps, entry)["key"] == "m-gm/a.xlsx"


def test_put_many_writes_every_item_over_several_requests(deps):
    items = [{"pk": f"PUTMANY#{i:03d}", "sk": "X", "n": i, "none": None} for i in range(30)]   # 25 a request
    deps.store.put_many(iter(items))
    got = deps.store.get_many([(i["pk"], "X") for i in items])
    assert [g["n"] for g in got] == list(range(30)) and all("none" not in g for g in got)
    deps.store.put_many([{"pk": "PUTMANY#000", "sk": "X", "n": 99}])       # a put replaces, as put does
    assert deps.store.get("PUTMANY#000", "X") == {"pk": "PUTMANY#000", "sk": "X", "n": 99}
    deps.store.put_many([])
