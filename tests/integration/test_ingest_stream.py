"""Ingest reads the upload from S3 in ranged blocks (``Blobs.open``), never whole, and a
time-out mid-sheet resumes at the checkpoint with the streamed reader: each product sent once."""

from __future__ import annotations

import functools

import boto3
import pytest
from shangjia.pipeline import ingest as ingest_mod
from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant

from tests.integration.validate_queue import drain_validate
from tests.unit.sheets.kit import product_rows, to_csv, to_xlsx


class StreamOnlyBlobs:
    """The real S3 adapter with the whole-object reads taken away: ingest must stream."""

    def __init__(self, inner):
        self.inner, self.opened = inner, []

    def get(self, bucket_key, key, **kw):
        if bucket_key == "drop":
            raise AssertionError(f"whole-object read of the upload {key}")
        return self.inner.get(bucket_key, key, **kw)

    def get_with_meta(self, bucket_key, key, **kw):
        raise AssertionError(f"whole-object read of {key}")

    def open(self, bucket_key, key, **kw):
        f = self.inner.open(bucket_key, key, min_block=4096, max_block=16384, cache_blocks=2)
        self.opened.append(f)
        return f

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def m1(deps):
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    deps.blobs = StreamOnlyBlobs(deps.blobs)
    return deps


def _rows(n: int) -> list[dict]:
    rows: list[dict] = []
    for i in range(n):
        rows += product_rows(f"SPU{i:04d}", grid=(("红色", "M"), ("黑色", "L")), title=f"纯棉短袖T恤 第{i}款")
    return rows


def _upload(aws, key: str, data: bytes, meta=None) -> Upload:
    s3 = boto3.client("s3", region_name="us-east-1")
    v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=data, Metadata=meta or {}).get("VersionId")
    return Upload(aws.buckets["drop"], key, len(data), v)


def _sent(aws) -> list[dict]:
    return drain_validate(aws)


def test_ingest_streams_the_upload_in_ranged_gets_and_keeps_its_metadata(m1, aws):
    data = to_xlsx(_rows(30))
    up = _upload(aws, "m1/stream.xlsx", data, meta={"shangjia-mode": "check_only"})
    out = ingest_upload(m1, up)
    assert out.action == "ingested" and out.products_sent == 30
    f = m1.blobs.opened[0]
    assert f.closed                                              # closed once ingest is done
    assert out.source_gets == f.gets and 2 <= f.gets < 3 * len(data) / 4096
    bodies = _sent(aws)
    assert sorted(b["spu_code"] for b in bodies) == [f"SPU{i:04d}" for i in range(30)]
    assert {b["options"]["policy"]["mode"] for b in bodies} == {"check_only"}   # read from the HEAD's metadata


@pytest.mark.parametrize("fmt,on_disk", [("csv", False), ("xlsx", True)])
def test_a_time_out_resumes_at_the_checkpoint_sending_each_product_once(m1, aws, monkeypatch, fmt, on_disk):
    if on_disk:                   # the shared strings kept on disk, as for a million-row sheet
        from shangjia import sheets
        monkeypatch.setattr(sheets, "Limits", functools.partial(sheets.Limits, strings_in_memory_bytes=0))
    n = 64
    rows = _rows(n)
    data = to_xlsx(rows) if fmt == "xlsx" else to_csv(rows)
    up = _upload(aws, f"m1/resume.{fmt}", data)
    calls = {"n": 0}

    def time_left():              # the deadline nears after three sends of ten: 30 products,
        calls["n"] += 1           # fewer than ingest's CHECKPOINT_EVERY, so the time-out writes it
        return 60_000 if calls["n"] < 3 else 1_000

    assert ingest_mod.CHECKPOINT_EVERY > 30
    with pytest.raises(TimeoutError, match="checkpointed at row 61"):
        ingest_upload(m1, up, time_left_ms=time_left)
    first = _sent(aws)
    assert len(first) == 30
    out = ingest_upload(m1, up)
    assert out.action == "resumed" and out.products_sent == n
    second = _sent(aws)
    spus = [b["spu_code"] for b in first + second]
    assert sorted(spus) == [f"SPU{i:04d}" for i in range(n)]           # none lost, none twice
    assert sorted(b["options"]["seq"] for b in first + second) == list(range(n))   # each ordinal once
    assert all(f.closed for f in m1.blobs.opened) and len(m1.blobs.opened) == 2
