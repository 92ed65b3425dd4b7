"""A zip of images uploaded beside a sheet, through the ingest handler on moto."""

import io
import json
import random
import zipfile
from urllib.parse import quote_plus

import pytest

from shangjia.localcloud.demo import make_image
from shangjia.pipeline import views
from shangjia.pipeline.merchants import put_merchant
from tests.support.events import load_event

MERCHANT = "m-vip-001"
ZIP_KEY = f"{MERCHANT}/上新 第1批 图片.zip"        # the sample event's key, decoded


@pytest.fixture
def merchant(deps):
    put_merchant(deps.store, MERCHANT, name="VIP", annual_sales_cny=9_000_000)
    return MERCHANT


@pytest.fixture
def s3(aws):
    import boto3

    return boto3.client("s3", region_name="us-east-1")


def _jpeg(name: str) -> bytes:
    return make_image(name, random.Random(name), size=160)


def _zip(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, body in entries.items():
            if name.endswith("/"):
                z.writestr(zipfile.ZipInfo(name), b"")
            else:
                z.writestr(name, body)
    return buf.getvalue()


IMAGES = {"款式A/主图.jpg": _jpeg("a"), "款式A/细节 1.jpg": _jpeg("b"), "款式A/红色.JPG": _jpeg("c")}


def _mixed_zip() -> bytes:
    return _zip({"款式A/": b"", **IMAGES,
                 "../../m-other/evil.jpg": _jpeg("evil"),        # path traversal
                 "说明.txt": "请按款式上架".encode(),                 # not media
                 "__MACOSX/款式A/._主图.jpg": b"\x00\x05\x16\x07"})  # the zip tool's, skipped quietly


def _upload(s3, aws, key: str, body: bytes) -> dict:
    """Put the object and build the intake message S3 would send for it (key URL-encoded)."""
    put = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=body)
    event = load_event("ingest/s3_zip_created.json")
    msg = json.loads(event["Records"][0]["body"])
    obj = msg["Records"][0]["s3"]["object"]
    msg["Records"][0]["s3"]["bucket"]["name"] = aws.buckets["drop"]
    obj.update(key=quote_plus(key, safe="/"), size=len(body), versionId=put["VersionId"], eTag=put["ETag"].strip('"'))
    event["Records"][0]["body"] = json.dumps(msg)
    return event


def _versions(s3, aws) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in s3.list_object_versions(Bucket=aws.buckets["drop"]).get("Versions", []):
        out[v["Key"]] = out.get(v["Key"], 0) + 1
    return out


def _bundles(deps) -> list[dict]:
    return [b for b in views.merchant_batches(deps, MERCHANT) if b.get("kind") == "bundle"]


def test_images_land_beside_the_zip_and_hostile_or_foreign_entries_are_refused(deps, handler, aws, s3, merchant):
    assert handler("ingest")(_upload(s3, aws, ZIP_KEY, _mixed_zip())) == {"batchItemFailures": []}

    drop = aws.buckets["drop"]
    for path, body in IMAGES.items():
        assert s3.get_object(Bucket=drop, Key=f"{MERCHANT}/{path}")["Body"].read() == body
    assert s3.head_object(Bucket=drop, Key=f"{MERCHANT}/款式A/主图.jpg")["ContentType"] == "image/jpeg"
    assert set(_versions(s3, aws)) == {ZIP_KEY, *(f"{MERCHANT}/{p}" for p in IMAGES)}   # nothing escaped

    [b] = _bundles(deps)
    assert b["status"] == "unpacked" and b["key"] == ZIP_KEY
    assert b["files_count"] == 3 and b["files_written"] == 3
    assert sorted(b["files"]) == sorted(f"{MERCHANT}/{p}" for p in IMAGES)
    assert b["refused_count"] == 2
    refused = {r["path"]: r["finding"] for r in b["refused_entries"]}
    assert refused["../../m-other/evil.jpg"]["code"] == "MEDIA_ZIP_UNSAFE_PATH"
    assert "../../m-other/evil.jpg" in refused["../../m-other/evil.jpg"]["message_en"]
    assert refused["说明.txt"]["code"] == "MEDIA_FORMAT_UNSUPPORTED"
    assert refused["说明.txt"]["file"] == ZIP_KEY and refused["说明.txt"]["message_zh"]

    # What `shangjia status` shows of it: settled (it holds no products), never a crash.
    s = views.batch_summary(deps, b, with_products=True)
    assert s["status"] == "unpacked" and s["settled"] and s["products_total"] == 0 and s["rejection"] is None
    assert (s["kind"], s["files_written"], s["refused_count"]) == ("bundle", 3, 2)


def test_status_command_shows_what_a_bundle_unpacked(deps, handler, aws, s3, merchant, capsys):
    from shangjia.cli import main

    handler("ingest")(_upload(s3, aws, ZIP_KEY, _mixed_zip()))
    capsys.readouterr()                       # the handler's own log lines are not the command's output
    assert main(["status", "--merchant", MERCHANT]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if ZIP_KEY in x)
    assert "unpacked" in line and "files 3 (written 3, unchanged 0, refused 2)" in line


def test_duplicate_delivery_and_reupload_write_nothing_new(deps, handler, aws, s3, merchant):
    event = _upload(s3, aws, ZIP_KEY, _mixed_zip())
    fn = handler("ingest")
    fn(event)
    before = _versions(s3, aws)
    assert fn(event) == {"batchItemFailures": []}                    # the same event again
    assert _versions(s3, aws) == before and len(_bundles(deps)) == 1

    # The same zip uploaded again (a new version, so a new bundle): every file is already there.
    again = _upload(s3, aws, ZIP_KEY, _mixed_zip())
    fn(again)
    after = _versions(s3, aws)
    assert after[ZIP_KEY] == 2 and {k: v for k, v in after.items() if k != ZIP_KEY} == \
        {k: v for k, v in before.items() if k != ZIP_KEY}
    version = json.loads(again["Records"][0]["body"])["Records"][0]["s3"]["object"]["versionId"]
    [second] = [b for b in _bundles(deps) if b["version"] == version]
    assert second["status"] == "unpacked" and second["files_written"] == 0 and second["files_unchanged"] == 3


def test_a_changed_file_in_a_reuploaded_zip_is_rewritten(deps, handler, aws, s3, merchant):
    fn = handler("ingest")
    fn(_upload(s3, aws, ZIP_KEY, _zip(IMAGES)))
    changed = {**IMAGES, "款式A/红色.JPG": _jpeg("c") + b"\xff\xd9" * 8}    # a re-shot picture, other size
    fn(_upload(s3, aws, ZIP_KEY, _zip(changed)))
    v = _versions(s3, aws)
    assert v[f"{MERCHANT}/款式A/红色.JPG"] == 2 and v[f"{MERCHANT}/款式A/主图.jpg"] == 1
    got = s3.get_object(Bucket=aws.buckets["drop"], Key=f"{MERCHANT}/款式A/红色.JPG")["Body"].read()
    assert got == changed["款式A/红色.JPG"]


def test_written_images_trigger_ingest_which_ignores_them_cheaply(deps, handler, aws, s3, merchant):
    fn = handler("ingest")
    fn(_upload(s3, aws, ZIP_KEY, _zip(IMAGES)))
    event = _upload(s3, aws, f"{MERCHANT}/款式A/主图.jpg", IMAGES["款式A/主图.jpg"])
    assert fn(event) == {"batchItemFailures": []}
    assert len(views.merchant_batches(deps, MERCHANT)) == 1     # only the bundle


def test_a_time_out_mid_zip_resumes_on_the_retry_without_rewriting(deps, aws, s3, merchant):
    from shangjia.pipeline.bundles import unpack_bundle
    from shangjia.pipeline.ingest import Upload

    body = _zip(IMAGES)
    put = s3.put_object(Bucket=aws.buckets["drop"], Key=ZIP_KEY, Body=body)
    up = Upload(aws.buckets["drop"], ZIP_KEY, len(body), put["VersionId"])
    with pytest.raises(TimeoutError):
        unpack_bundle(deps, up, time_left_ms=lambda: 1_000)          # stops after the first file
    [b] = _bundles(deps)
    assert b["status"] == "unpacking" and len(_versions(s3, aws)) == 2
    out = unpack_bundle(deps, up)                                     # the redelivery
    assert out.action == "unpacked" and len(out.written) == 2 and len(out.unchanged) == 1
    assert all(n == 1 for n in _versions(s3, aws).values())
    assert _bundles(deps)[0]["status"] == "unpacked"


def _assert_rejected(deps, s3, aws, code: str) -> dict:
    [b] = _bundles(deps)
    assert b["status"] == "rejected" and b["rejection"]["code"] == code, b
    assert b["rejection"]["file"] == ZIP_KEY and b["rejection"]["message_zh"] and b["rejection"]["hint_en"]
    assert set(_versions(s3, aws)) == {ZIP_KEY}                       # nothing written
    s = views.batch_summary(deps, b)
    assert s["status"] == "rejected" and s["rejection"]["code"] == code
    return b


def test_a_zip_bomb_is_refused_with_a_finding_and_nothing_is_written(deps, handler, aws, s3, merchant):
    bomb = _zip({**IMAGES, "款式B/大图.jpg": bytes(24 * 1024 * 1024)})   # 24 MB of zeros in ~24 KB
    assert len(bomb) < 200_000
    assert handler("ingest")(_upload(s3, aws, ZIP_KEY, bomb)) == {"batchItemFailures": []}
    b = _assert_rejected(deps, s3, aws, "MEDIA_ZIP_TOO_LARGE")
    assert "ratio" in b["rejection"]["message_en"]


def test_an_entry_whose_headers_lie_is_refused_without_inflating_past_its_claim(deps, handler, aws, s3, merchant):
    bomb = bytearray(_zip({"款式A/主图.jpg": IMAGES["款式A/主图.jpg"], "款式B/x.jpg": bytes(30 * 1024 * 1024)}))
    # Make both headers claim the 30 MB of zeros is 1 KB (a ratio under the cap): only inflating tells.
    real = (30 * 1024 * 1024).to_bytes(4, "little")
    count = 0
    for at in range(len(bomb) - 4):
        if bomb[at:at + 4] == real:
            bomb[at:at + 4] = (1024).to_bytes(4, "little")
            count += 1
    assert count == 2
    handler("ingest")(_upload(s3, aws, ZIP_KEY, bytes(bomb)))
    [b] = _bundles(deps)
    # zipfile stops at the declared size, so the lie costs 1 KB and shows as a bad checksum.
    assert b["status"] == "unpacked" and b["files"] == [f"{MERCHANT}/款式A/主图.jpg"]
    [r] = b["refused_entries"]
    assert r["path"] == "款式B/x.jpg" and r["finding"]["code"] == "MEDIA_ZIP_INVALID"
    assert "CRC" in r["finding"]["message_en"]
    assert set(_versions(s3, aws)) == {ZIP_KEY, f"{MERCHANT}/款式A/主图.jpg"}


def test_not_a_zip_is_rejected_as_unreadable(deps, handler, aws, s3, merchant):
    handler("ingest")(_upload(s3, aws, ZIP_KEY, b"PK\x03\x04 this was cut off in transit"))
    _assert_rejected(deps, s3, aws, "MEDIA_ZIP_INVALID")


def test_a_zip_over_the_size_limit_is_refused_before_download(deps, aws, s3, merchant):
    from shangjia.pipeline.bundles import unpack_bundle
    from shangjia.pipeline.ingest import Upload

    body = _zip(IMAGES)
    put = s3.put_object(Bucket=aws.buckets["drop"], Key=ZIP_KEY, Body=body)

    class NoDownload:
        def __getattr__(self, name):
            if name == "get":
                raise AssertionError("the zip was downloaded")
            return getattr(deps.blobs, name)

    from dataclasses import replace

    out = unpack_bundle(replace(deps, blobs=NoDownload()), Upload(aws.buckets["drop"], ZIP_KEY, len(body), put["VersionId"]),
                        max_bytes=len(body) - 1)
    assert out.action == "rejected"
    b = _assert_rejected(deps, s3, aws, "MEDIA_ZIP_TOO_LARGE")
    assert "MB" in b["rejection"]["message_en"]


def test_a_zip_from_an_unknown_merchant_writes_nothing(deps, handler, aws, s3):
    handler("ingest")(_upload(s3, aws, ZIP_KEY, _zip(IMAGES)))
    _assert_rejected(deps, s3, aws, "PIPE_UNKNOWN_MERCHANT")


def test_the_status_cli_lists_the_bundle(deps, handler, aws, s3, merchant, capsys, monkeypatch):
    from shangjia.cli import main

    handler("ingest")(_upload(s3, aws, ZIP_KEY, _mixed_zip()))
    assert main(["status", "--merchant", MERCHANT, "--json"]) == 0
    [s] = json.loads(capsys.readouterr().out)
    assert s["key"] == ZIP_KEY and s["status"] == "unpacked" and s["settled"]


# ---- each refusal the docs promise (docs/bundles.md, "What is written, what is refused") ---------

def _raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip written by hand from already-deflated entries: (name, deflated bytes, crc32, inflated
    size, extra flag bits). Lets a test declare what it likes (an encryption flag) and reuse one
    compressed body many times without inflating hundreds of MB to build the archive."""
    import struct

    local, central = bytearray(), bytearray()
    for name, raw, crc, size, flags in entries:
        n = name.encode()
        flags |= 0x800                                               # UTF-8 name
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, 8, 0, 0x21, crc, len(raw), size,
                               len(n), 0, 0, 0, 0, 0, len(local)) + n
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, 8, 0, 0x21, crc, len(raw), size, len(n), 0) + n + raw
    count = len(entries)
    return bytes(local + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central),
                                               len(local), 0))


def _deflated(body: bytes) -> tuple[bytes, int, int]:
    import zlib

    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(body) + c.flush(), zlib.crc32(body), len(body)


def _refused(deps) -> dict[str, dict]:
    [b] = _bundles(deps)
    assert b["status"] == "unpacked", b
    return {r["path"]: r["finding"] for r in b["refused_entries"]}


def test_an_encrypted_entry_is_refused_and_the_rest_written(deps, handler, aws, s3, merchant):
    secret = _deflated(_jpeg("secret"))
    plain = _deflated(IMAGES["款式A/主图.jpg"])
    body = _raw_zip([("款式A/主图.jpg", *plain, 0), ("款式A/加密.jpg", *secret, 0x1)])
    assert handler("ingest")(_upload(s3, aws, ZIP_KEY, body)) == {"batchItemFailures": []}
    refused = _refused(deps)
    assert list(refused) == ["款式A/加密.jpg"] and refused["款式A/加密.jpg"]["code"] == "MEDIA_ZIP_ENCRYPTED"
    assert set(_versions(s3, aws)) == {ZIP_KEY, f"{MERCHANT}/款式A/主图.jpg"}


def test_the_same_path_twice_keeps_the_first_and_refuses_the_rest(deps, handler, aws, s3, merchant):
    import warnings

    first, second, third = _jpeg("first"), _jpeg("second"), _jpeg("third")
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as z:
        warnings.simplefilter("ignore")                              # zipfile warns of the duplicate name
        z.writestr("款式A/主图.jpg", first)
        z.writestr("款式A/主图.jpg", second)
        z.writestr("./款式A/主图.jpg", third)                         # the same path, spelled otherwise
    handler("ingest")(_upload(s3, aws, ZIP_KEY, buf.getvalue()))
    [b] = _bundles(deps)
    assert b["status"] == "unpacked" and b["files"] == [f"{MERCHANT}/款式A/主图.jpg"] and b["refused_count"] == 2
    assert [(r["path"], r["finding"]["code"]) for r in b["refused_entries"]] == [("款式A/主图.jpg", "MEDIA_ZIP_INVALID")] * 2
    assert "twice" in b["refused_entries"][0]["finding"]["message_en"]
    got = s3.get_object(Bucket=aws.buckets["drop"], Key=f"{MERCHANT}/款式A/主图.jpg")["Body"].read()
    assert got == first


def test_a_path_that_makes_a_key_over_1024_bytes_is_refused(deps, handler, aws, s3, merchant):
    # "m-vip-001/" (10 bytes) + "款式A/" (8) + 334 × "长" (1,002) + ".jpg" (4) = 1,024 bytes: allowed
    at_limit = "款式A/" + "长" * 334 + ".jpg"
    over = "款式A/" + "长" * 334 + "x.jpg"
    assert len(f"{MERCHANT}/{at_limit}".encode()) == 1024 and len(f"{MERCHANT}/{over}".encode()) == 1025
    handler("ingest")(_upload(s3, aws, ZIP_KEY, _zip({at_limit: _jpeg("a"), over: _jpeg("b")})))
    [b] = _bundles(deps)
    assert b["files"] == [f"{MERCHANT}/{at_limit}"]
    [r] = b["refused_entries"]
    assert r["finding"]["code"] == "MEDIA_ZIP_INVALID" and "1024 bytes" in r["finding"]["message_en"]
    assert set(_versions(s3, aws)) == {ZIP_KEY, f"{MERCHANT}/{at_limit}"}


def _entries(n: int) -> bytes:
    """n entries: n - 1 folders (skipped quietly, but entries all the same) and one image."""
    return _zip({**{f"d{i:04d}/": b"" for i in range(n - 1)}, "款式A/主图.jpg": IMAGES["款式A/主图.jpg"]})


def test_1000_entries_are_unpacked_and_1001_reject_the_bundle(deps, handler, aws, s3, merchant):
    from shangjia.pipeline.bundles import unpack_bundle
    from shangjia.pipeline.ingest import Upload

    drop = aws.buckets["drop"]
    for n, key in ((1000, f"{MERCHANT}/千/图.zip"), (1001, f"{MERCHANT}/千零一/图.zip")):
        body = _entries(n)
        put = s3.put_object(Bucket=drop, Key=key, Body=body)
        unpack_bundle(deps, Upload(drop, key, len(body), put["VersionId"]))
    by_key = {b["key"]: b for b in _bundles(deps)}
    ok, bomb = by_key[f"{MERCHANT}/千/图.zip"], by_key[f"{MERCHANT}/千零一/图.zip"]
    assert ok["status"] == "unpacked" and ok["files"] == [f"{MERCHANT}/千/款式A/主图.jpg"]
    assert bomb["status"] == "rejected" and bomb["rejection"]["code"] == "MEDIA_ZIP_TOO_LARGE"
    assert "1001 entries" in bomb["rejection"]["message_en"]
    assert not any(k.startswith(f"{MERCHANT}/千零一/") and not k.endswith(".zip") for k in _versions(s3, aws))


MiB = 1024 * 1024


def _compressible(size: int, seed: int) -> tuple[bytes, int, int]:
    """``size`` bytes deflating at ~130:1, under the 200:1 ratio that marks a single-entry bomb."""
    noise = random.Random(seed).randbytes(size // 150)
    return _deflated(noise + bytes(size - len(noise)))


def test_over_512_mb_inflated_in_all_rejects_the_bundle_before_writing(deps, handler, aws, s3, merchant):
    """20 entries of 25 MiB (the per-file cap, each ~130:1) and one of 12 MiB + 1 byte: 512 MiB + 1
    inflated from a ~4 MB zip. No entry is a bomb by itself; together they are."""
    from shangjia.media import DEFAULT_LIMITS
    from shangjia.pipeline import bundles

    assert DEFAULT_LIMITS.zip_max_total_bytes == 512 * MiB and DEFAULT_LIMITS.zip_max_entry_bytes == 25 * MiB
    big, rest = _compressible(25 * MiB, 1), _compressible(12 * MiB + 1, 2)
    entries = [(f"款式{i:02d}/大图.jpg", *big, 0) for i in range(20)] + [("款式99/大图.jpg", *rest, 0)]
    body = _raw_zip(entries)
    assert len(body) < 6 * MiB
    assert handler("ingest")(_upload(s3, aws, ZIP_KEY, body)) == {"batchItemFailures": []}
    b = _assert_rejected(deps, s3, aws, "MEDIA_ZIP_TOO_LARGE")
    assert str(512 * MiB) in b["rejection"]["message_en"]

    # one byte less is within the limit: the verify pass accepts every entry (nothing written here)
    exact = _raw_zip(entries[:-1] + [("款式99/大图.jpg", *_compressible(12 * MiB, 2), 0)])
    with zipfile.ZipFile(io.BytesIO(exact)) as zf:
        plan = bundles._plan(zf, DEFAULT_LIMITS, MERCHANT, ZIP_KEY)
        assert bundles._verify(zf, plan, DEFAULT_LIMITS, ZIP_KEY) == [] and len(plan.entries) == 21
