"""Bundles: a zip of images (and videos) uploaded beside a sheet, unpacked into the drop bucket.

``<merchant>/<folder>/<name>.zip`` arrives on the intake queue like any upload; ingest hands it
here. Each image/video inside is written to ``<merchant>/<folder>/<path inside the zip>``, so a
sheet in ``<folder>`` names it by relative path (or by file name when it sits at the zip's
top level) exactly as if it had been uploaded on its own; the media stage reads it from there.

Safety (the zip is the merchant's, i.e. untrusted), two passes over the archive in memory:

1. **plan**: every entry is classified from the central directory, before anything is inflated.
   Entries that leave the folder (absolute, drive letter, ``..``, NUL), are encrypted, are not
   media by extension (a nested zip included), are over the per-file cap, or repeat a path are
   *refused entries*, each recorded with a finding; the rest of the bundle goes on. Folders,
   ``__MACOSX`` and hidden files are skipped quietly (they are the zip tool's, not the
   merchant's). More entries than ``MediaLimits.zip_max_entries``, or a media entry whose header
   declares a compression ratio over ``zip_max_ratio``, rejects the bundle.
2. **verify**: every planned entry is inflated in 1 MB chunks and thrown away, counting the
   bytes really produced (headers can lie): an entry over its cap, over the compression ratio, or
   a total over ``zip_max_total_bytes`` is a bomb and rejects the *whole* bundle with
   ``MEDIA_ZIP_TOO_LARGE`` before a single object is written; a corrupt entry (bad CRC,
   truncated) is refused alone.
3. **write**: entries are inflated one at a time (one entry in memory besides the zip) and put,
   unless a HEAD shows an object of the same size already there (a retry or a duplicate event
   rewrites nothing).

Names and the limits are ``shangjia.media``'s (``entry_name``, ``safe_path``, ``MEDIA_EXTENSIONS``,
``MediaLimits``), so a bundle accepts exactly what ``extract_zip_images`` accepts; it differs in
one way: a hostile *name* refuses that entry instead of the archive, because skipping it costs
nothing and the merchant keeps the good files.

The bundle is recorded as a batch-like item (``BATCH#<id>``, id from ``keys.batch_id_for``,
``kind: "bundle"``) with status ``unpacked`` or ``rejected``, the files written, the files left
as they were, and the refused entries with their findings; ``products_total`` is 0 so the batch
read model counts it settled. Idempotent on the upload (bucket, key, version): a duplicate event
finds the record settled and stops; a retry after a time-out (status still ``unpacking``) runs
again and the HEAD check skips what is already written.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from shangjia.clock import iso
from shangjia.errors import Finding, FindingError, finding
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.ingest import IngestOutcome, Upload, merchant_of
from shangjia.pipeline.merchants import get_merchant
from shangjia.ports import ConditionFailed
from shangjia.status import BatchStatus

if TYPE_CHECKING:
    import zipfile

    from shangjia.media import MediaLimits

MAX_BUNDLE_BYTES = 500 * 1024 * 1024     # the zip itself; the ingest function has 1024 MB
MAX_KEY_BYTES = 1024                     # S3's limit on an object key (UTF-8)
LISTED_FILES = 500                       # keys listed on the record (counts are always exact)
LISTED_REFUSALS = 100                    # refused entries listed with their findings
STOP_WITH_MS_LEFT = 15_000               # stop writing and let the retry resume (HEAD skips)
CHUNK = 1024 * 1024

UNPACKING = "unpacking"
UNPACKED = "unpacked"
REJECTED = BatchStatus.REJECTED.value
KIND = "bundle"

CONTENT_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".png": "image/png",
    ".gif": "image/gif", ".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif",
    ".avif": "image/avif", ".mp4": "video/mp4", ".mov": "video/quicktime", ".m4v": "video/x-m4v",
    ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
}


@dataclass
class BundleOutcome(IngestOutcome):
    written: list[str] = field(default_factory=list)      # drop-bucket keys put by this run
    unchanged: list[str] = field(default_factory=list)    # already there with the same size
    refused: list[dict[str, Any]] = field(default_factory=list)   # {"path", "finding"}


@dataclass
class _Plan:
    entries: list[tuple["zipfile.ZipInfo", str]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)


def unpack_bundle(deps: Deps, up: Upload, *, time_left_ms: Callable[[], int] = lambda: 10**9,
                  limits: "MediaLimits | None" = None, max_bytes: int = MAX_BUNDLE_BYTES) -> BundleOutcome:
    """Unpack one uploaded zip into the drop bucket beside it and record the bundle.

    Never raises for a hostile or broken zip (the record says why); raises ``TimeoutError`` when
    the function is about to time out mid-write (the redelivery resumes) and lets transient
    storage errors through (the queue retries).
    """
    merchant_id = merchant_of(up.key)
    batch_id = keys.batch_id_for(up.bucket, up.key, up.version)
    pk, sk = keys.batch(batch_id)
    now = iso(deps.clock.now())
    record = {
        "pk": pk, "sk": sk, "batch_id": batch_id, "kind": KIND, "merchant_id": merchant_id or "-",
        "bucket": up.bucket, "key": up.key, "size": up.size, "version": up.version, "status": UNPACKING,
        "created_at": now, "updated_at": now, "products_sent": 0,
        "gsi1pk": f"BATCHES#{merchant_id or '-'}", "gsi1sk": now,
    }
    try:
        deps.store.put(record, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        existing = deps.store.get(pk, sk) or record
        if existing.get("status") in (UNPACKED, REJECTED):
            return BundleOutcome(batch_id, "duplicate", reason=f"bundle already {existing['status']}")
        # still "unpacking": the retry of a run that timed out or failed; go again (HEAD skips)

    if merchant_id is None or get_merchant(deps.store, merchant_id) is None:
        return _reject(deps, batch_id, finding("PIPE_UNKNOWN_MERCHANT", value=merchant_id or up.key, file=up.key))
    if up.size > max_bytes:
        return _reject(deps, batch_id, _too_big(up.key, up.size, max_bytes))
    try:
        data = deps.blobs.get("drop", up.key, max_bytes=max_bytes)
    except ValueError:                      # the object is bigger than the event said
        return _reject(deps, batch_id, _too_big(up.key, deps.blobs.size("drop", up.key) or up.size, max_bytes))
    except FileNotFoundError:
        return _reject(deps, batch_id, finding("MEDIA_ZIP_INVALID", file=up.key, value=up.key,
                                               reason="the uploaded zip is no longer in the bucket"))

    from shangjia.media import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    folder = posixpath.dirname(up.key)
    try:
        zf = _open(data)
        with zf:
            plan = _plan(zf, limits, folder, up.key)
            plan.refused += _verify(zf, plan, limits, up.key)
            written, unchanged = [], []
            for info, path, body in _inflate(zf, plan):
                if (written or unchanged) and time_left_ms() < STOP_WITH_MS_LEFT:
                    from shangjia.pipeline.ingest import Checkpointed

                    raise Checkpointed(f"bundle {batch_id}: {len(written) + len(unchanged)} files done; "
                                       "the continuation resumes (existing files are skipped)", batch_id)
                key = f"{folder}/{path}"
                if deps.blobs.size("drop", key) == len(body):
                    unchanged.append(key)
                else:
                    ext = posixpath.splitext(path.lower())[1]
                    deps.blobs.put("drop", key, body, content_type=CONTENT_TYPES.get(ext, "application/octet-stream"))
                    written.append(key)
    except FindingError as e:
        return _reject(deps, batch_id, Finding.from_dict({**e.finding.to_dict(), "file": up.key}))

    files = written + unchanged
    deps.store.update(
        pk, sk, "SET #s = :s, files = :f, files_count = :n, files_written = :w, files_unchanged = :c, "
                "refused_entries = :r, refused_count = :rc, products_total = :z, updated_at = :u",
        names={"#s": "status"},
        values={":s": UNPACKED, ":f": files[:LISTED_FILES], ":n": len(files), ":w": len(written),
                ":c": len(unchanged), ":r": plan.refused[:LISTED_REFUSALS], ":rc": len(plan.refused),
                ":z": 0, ":u": iso(deps.clock.now())})
    return BundleOutcome(batch_id, UNPACKED, written=written, unchanged=unchanged, refused=plan.refused,
                         reason=f"{len(files)} files, {len(plan.refused)} refused entries")


def _open(data: bytes) -> "zipfile.ZipFile":
    import io
    import zipfile

    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise FindingError(finding("MEDIA_ZIP_INVALID", reason=str(e)[:120] or type(e).__name__)) from None


def _refusal(path: str, f: Finding) -> dict[str, Any]:
    return {"path": path[:300], "finding": f.to_dict()}


def _plan(zf: "zipfile.ZipFile", limits: "MediaLimits", folder: str, zip_key: str) -> _Plan:
    from shangjia.media.archive import MEDIA_EXTENSIONS, entry_name, safe_path

    infos = zf.infolist()
    if len(infos) > limits.zip_max_entries:
        raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", reason=f"{len(infos)} entries > {limits.zip_max_entries}"))
    plan, seen = _Plan(), set()
    for info in infos:
        name = entry_name(info)
        path = safe_path(name)
        if path is None:
            plan.refused.append(_refusal(name, finding("MEDIA_ZIP_UNSAFE_PATH", value=name[:200], path=name[:200],
                                                       file=zip_key)))
            continue
        if info.is_dir() or not path:
            continue
        base = posixpath.basename(path)
        if path.startswith("__MACOSX/") or base.startswith("."):
            continue
        ext = posixpath.splitext(base.lower())[1]
        if not base.lower().endswith(MEDIA_EXTENSIONS):
            f = finding("MEDIA_FORMAT_UNSUPPORTED", value=path[:200], file=zip_key, format=ext or base[:40])
        elif info.flag_bits & 0x1:
            f = finding("MEDIA_ZIP_ENCRYPTED", value=path[:200], path=path[:200], file=zip_key)
        elif info.compress_size and info.file_size > CHUNK and info.file_size / info.compress_size > limits.zip_max_ratio:
            raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", value=path[:200],
                                       reason=f"{path[:120]}: compression ratio over {limits.zip_max_ratio}"))
        elif info.file_size > limits.zip_max_entry_bytes:
            f = finding("MEDIA_ZIP_TOO_LARGE", value=path[:200], file=zip_key,
                        reason=f"{path[:120]}: {info.file_size} bytes > {limits.zip_max_entry_bytes}")
        elif path in seen:
            f = finding("MEDIA_ZIP_INVALID", value=path[:200], file=zip_key,
                        reason=f"{path[:120]} appears twice; the first is kept")
        elif len(f"{folder}/{path}".encode()) > MAX_KEY_BYTES:
            f = finding("MEDIA_ZIP_INVALID", value=path[:200], file=zip_key,
                        reason=f"path longer than {MAX_KEY_BYTES} bytes")
        else:
            seen.add(path)
            plan.entries.append((info, path))
            continue
        plan.refused.append(_refusal(path, f))
    return plan


def _read_errors():
    import zipfile
    import zlib

    return (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error)


def _verify(zf: "zipfile.ZipFile", plan: _Plan, limits: "MediaLimits", zip_key: str) -> list[dict[str, Any]]:
    """Inflate every planned entry without keeping it: bombs reject the bundle, corrupt entries
    are refused (and dropped from the plan)."""
    refused, good, total = [], [], 0
    cap = limits.zip_max_entry_bytes
    for info, path in plan.entries:
        n = 0
        try:
            with zf.open(info) as fh:
                while chunk := fh.read(CHUNK):
                    n += len(chunk)
                    if n > cap:
                        raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", value=path[:200],
                                                   reason=f"{path[:120]}: inflates past {cap} bytes"))
        except _read_errors() as e:
            refused.append(_refusal(path, finding("MEDIA_ZIP_INVALID", value=path[:200], file=zip_key,
                                                  reason=f"{path[:80]}: {e}"[:120])))
            continue
        if info.compress_size and n > CHUNK and n / info.compress_size > limits.zip_max_ratio:
            raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", value=path[:200],
                                       reason=f"{path[:120]}: compression ratio over {limits.zip_max_ratio}"))
        total += n
        if total > limits.zip_max_total_bytes:
            raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", reason=f"over {limits.zip_max_total_bytes} bytes"))
        good.append((info, path))
    plan.entries = good
    return refused


def _inflate(zf: "zipfile.ZipFile", plan: _Plan) -> Iterator[tuple["zipfile.ZipInfo", str, bytes]]:
    for info, path in plan.entries:
        with zf.open(info) as fh:       # verified: bounded by the per-entry cap
            yield info, path, fh.read()


def _too_big(key: str, size: int, cap: int) -> Finding:
    return finding("MEDIA_ZIP_TOO_LARGE", file=key, value=key,
                   reason=f"the zip is {size / 2**20:.0f} MB, over {cap / 2**20:.0f} MB")


def _reject(deps: Deps, batch_id: str, f: Finding) -> BundleOutcome:
    pk, sk = keys.batch(batch_id)
    deps.store.update(pk, sk, "SET #s = :s, rejection = :r, products_total = :z, files_count = :n, "
                              "updated_at = :u", names={"#s": "status"},
                      values={":s": REJECTED, ":r": f.to_dict(), ":z": 0, ":n": 0, ":u": iso(deps.clock.now())})
    return BundleOutcome(batch_id, "rejected", reason=f.message_en)
