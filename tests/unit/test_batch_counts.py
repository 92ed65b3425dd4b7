"""Which product reads its batch: the count item a product's count left says whether the batch
may be complete (``counting.short_of_total``), so only the product completing an item reads."""

from shangjia.pipeline import batches, counting

FIRST = ("BATCH#b", "TALLY#00000")


def short(item, size=3):
    return counting.short_of_total(FIRST, item, "validated", size)


def test_an_item_short_of_its_size_cannot_finish_the_batch():
    assert short({"sk": "TALLY#00001", "validated": 2}) is True


def test_the_product_completing_an_item_reads_the_batch():
    assert short({"sk": "TALLY#00001", "validated": 3}) is False


def test_the_last_item_expects_what_the_total_leaves_it():
    # 7 products in items of 3: the third item (ordinals 6..8) holds one
    assert short({"sk": "TALLY#00002", "validated": 1, "products_total": 7}) is False
    assert short({"sk": "TALLY#00002", "validated": 1}) is True        # total unknown yet: ingest's end looks
    assert short({"sk": "TALLY#00000", "validated": 2, "products_total": 7}) is True


def test_a_duplicate_count_reads_the_batch():
    assert short(None) is False


def test_items_of_the_old_size_keep_the_first_items_mark():
    old = batches.SHARD_SIZE
    assert counting.short_of_total(FIRST, {"sk": "TALLY#00000", "validated": 5}, "validated", old) is False
    assert counting.short_of_total(FIRST, {"sk": "TALLY#00000", "validated": 5, "total_follows": True},
                                   "validated", old) is True
    assert counting.short_of_total(FIRST, {"sk": "TALLY#00000", "validated": 5, "total_follows": True,
                                           "products_total": 5}, "validated", old) is False


def test_a_batch_chooses_its_item_size_once():
    from shangjia.validation.policy import BatchPolicy

    skip, stop = BatchPolicy(), BatchPolicy(mode="stop_on_error_rate")
    assert batches.counter_shard_for({}, skip) == batches.COUNTER_SHARD
    assert batches.counter_shard_for({}, stop) == batches.SHARD_SIZE          # judged on one item per product
    assert batches.counter_shard_for({"products_sent": 40}, skip) == batches.SHARD_SIZE   # begun before
    assert batches.counter_shard_for({"counter_shard": 180, "products_sent": 40}, skip) == 180
    assert batches.shard_size_of({"counter_shard": 180}) == 180 and batches.shard_size_of(None) == batches.SHARD_SIZE


class FakeStore:
    """Updates recorded; ADD on number sets and counters as DynamoDB does them (enough for the
    count items)."""

    def __init__(self):
        self.items, self.updates, self.consistent = {}, [], None

    def update(self, pk, sk, expression, *, condition=None, names=None, values=None, return_new=False):
        from shangjia.ports import ConditionFailed

        self.updates.append((pk, sk, expression))
        item = self.items.setdefault((pk, sk), {"pk": pk, "sk": sk})
        values, names = values or {}, names or {}
        if condition == "NOT contains(members, :n)" and values[":n"] in item.get("members", set()):
            raise ConditionFailed(condition)
        verb, _, rest = expression.partition(" ")
        for part in rest.split(", "):
            if verb == "SET":
                name, _, value = part.partition(" = ")
                item[names.get(name, name)] = values[value.strip()]
                continue
            name, _, value = part.partition(" ")
            name, v = names.get(name, name), values[value.strip()]
            item[name] = item.get(name, set()) | v if isinstance(v, set) else item.get(name, 0) + v
        return dict(item) if return_new else None

    def get(self, pk, sk, **_):
        return self.items.get((pk, sk))

    def get_many(self, keys, **kw):
        self.consistent = kw.get("consistent")
        return [self.items[k] for k in keys if k in self.items]


class FakeDeps:
    def __init__(self):
        self.store = FakeStore()


def test_the_total_goes_on_the_first_and_the_last_item_of_both_kinds():
    d = FakeDeps()
    counting.record_total(d, "b", 7, 3)              # items 0, 1, 2: the last holds one
    assert sorted((sk, e) for _pk, sk, e in d.store.updates) == [
        ("SETTLE#00000", "SET products_total = :n"), ("SETTLE#00002", "SET products_total = :n"),
        ("TALLY#00000", "SET products_total = :n"), ("TALLY#00002", "SET products_total = :n")]
    d = FakeDeps()
    counting.record_total(d, "b", 3, 3)               # one item: written once per kind
    assert sorted(sk for _pk, sk, _e in d.store.updates) == ["SETTLE#00000", "TALLY#00000"]


def test_a_product_counts_in_the_item_of_its_ordinal_once():
    d = FakeDeps()
    first = counting.tally_product(d, "b", 4, "P4", valid=False, shard_size=3)
    assert first["sk"] == "TALLY#00001" and first["validated"] == 1 and first["invalid"] == 1
    assert counting.tally_product(d, "b", 4, "P4", valid=False, shard_size=3) is None      # a duplicate
    counting.tally_product(d, "b", 5, "P5", valid=True, shard_size=3)
    counting.tally_product(d, "b", 0, "P0", valid=True, refused=True, shard_size=3)
    c = counting.batch_counts(d, "b", 6, 3)
    assert (c.validated, c.invalid, c.refused) == (3, 1, 1)
    assert counting.batch_counts(d, "b", 3, 3).validated == 1          # only the first item read
    s = counting.count_settled(d, "b", 5, "P5", "published", 3)
    assert s["sk"] == "SETTLE#00001" and s["o_published"] == 1
    assert counting.count_settled(d, "b", 5, "P5", "published", 3) is None
    assert counting.settle_counts(d, "b", 6, 3)["published"] == 1


def test_products_without_an_ordinal_count_in_the_first_item():
    d = FakeDeps()
    item = counting.tally_product(d, "b", None, "ERP-1", valid=True, shard_size=3)
    assert item["sk"] == "TALLY#00000"
    assert counting.tally_product(d, "b", None, "ERP-1", valid=True, shard_size=3) is None


def test_the_last_items_take_what_lies_beyond_the_cap():
    assert counting._shard(7, 10**9, counting.COUNTER_SHARD) == counting.MAX_SHARDS
    assert counting._shard(7, 10**9, counting.SHARD_SIZE) == 1_000
    assert counting._shards(0, 3) == 1 and counting._shards(3, 3) == 1 and counting._shards(4, 3) == 2


def test_counts_add_up_field_by_field_and_judge_only_what_was_judged():
    from shangjia.pipeline.counting import Counts

    total = Counts(1, 2, 3, 4) + Counts(10, 20, 30, 40)
    assert total == Counts(11, 22, 33, 44)
    assert total.tally().products == 11 - 33 - 44 and total.tally().invalid == 22
    assert counting._counts(None) == Counts() and counting._counts({"unchanged": 3}) == Counts(0, 0, 0, 3)
    assert counting._counts({"validated": 2, "invalid": 1, "refused": 1}) == Counts(2, 1, 1, 0)


def test_count_items_are_the_batchs_and_read_consistently():
    assert counting._tally_key("b", 3) == ("BATCH#b", "TALLY#00003")
    assert counting._settle_key("b", 12) == ("BATCH#b", "SETTLE#00012")
    d = FakeDeps()
    counting.record_total(d, "b", 7, 3)
    assert {pk for pk, _sk, _e in d.store.updates} == {"BATCH#b"}
    for n in range(7):
        counting.tally_product(d, "b", n, f"P{n}", valid=True, shard_size=3)
    assert counting.batch_counts(d, "b", 7, 3).validated == 7 and d.store.consistent is True


def test_refused_and_unchanged_products_are_counted_but_not_invalid():
    d = FakeDeps()
    r = counting.tally_product(d, "b", 0, "P0", valid=False, refused=True, shard_size=3)
    assert (r["invalid"], r["refused"], r["unchanged"]) == (0, 1, 0)
    u = counting.tally_product(d, "b", 1, "P1", valid=False, unchanged=True, shard_size=3)
    assert (u["invalid"], u["refused"], u["unchanged"]) == (0, 1, 1)
    v = counting.tally_product(d, "b", 2, "P2", valid=False, shard_size=3)
    assert (v["invalid"], v["unchanged"]) == (1, 1)


def test_settled_counts_add_up_over_every_item():
    d = FakeDeps()
    for n, outcome in enumerate(["published", "needs_fix", "published", "published", "refused"]):
        counting.count_settled(d, "b", n, f"P{n}", outcome, 2)
    counting.record_total(d, "b", 7, 2)             # the last item (6..7) holds the total and no count yet
    out = counting.settle_counts(d, "b", 7, 2)
    assert out["settled"] == 5 and out["published"] == 3 and out["needs_fix"] == 1 and out["refused"] == 1
    assert counting.count_settled(d, "b", None, "ERP-9", "published", 2)["sk"] == "SETTLE#00000"


def test_a_store_that_returns_nothing_still_says_the_product_was_counted():
    class Quiet(FakeStore):
        def update(self, *a, **kw):
            super().update(*a, **kw)

    d = FakeDeps()
    d.store = Quiet()
    assert counting.tally_product(d, "b", 4, "P4", valid=True, shard_size=3) == {"sk": "TALLY#00001"}
    assert counting.count_settled(d, "b", 4, "P4", "published", 3) == {"sk": "SETTLE#00001"}


def test_ordinals_of_products_not_from_a_sheet_never_meet_a_sheets():
    ns = {counting._ordinal(None, f"ERP-{i}") for i in range(200)}
    assert len(ns) == 200
    assert all(counting.SHARD_SIZE <= n < counting.SHARD_SIZE + 2 ** 52 for n in ns)   # exact as a JSON number
    assert counting._ordinal(5, "P") == 5


def test_edges_of_who_reads():
    assert short({"validated": 2}) is True                           # an item without its key: the first
    assert short({"validated": 2, "products_total": 4}) is True      # the first of two: expects 3
    assert short({"sk": "TALLY#00000"}, size=1) is True              # nothing counted in it yet
    old = counting.SHARD_SIZE
    marked = {"sk": "TALLY#00000", "total_follows": True}
    assert counting.short_of_total(FIRST, {**marked, "validated": old - 1, "products_total": old},
                                   "validated", old) is True
    assert counting.short_of_total(FIRST, {**marked, "products_total": 1}, "validated", old) is True
    assert counting._shards(0, 1) == 1 and counting._shards(1, 1) == 1 and counting._shards(2, 1) == 2
    from shangjia.validation.policy import BatchPolicy

    assert batches.counter_shard_for({"products_sent": 1}, BatchPolicy()) == batches.SHARD_SIZE
