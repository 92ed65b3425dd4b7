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
