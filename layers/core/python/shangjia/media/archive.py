"""extract_zip_images: the media files of a zip uploaded beside a sheet, safely.

- paths: no absolute paths, drive letters, ``..`` or NUL; backslashes (Windows zips) become ``/``;
  the yielded path is normalised and relative, so it matches how the sheet refers to the file;
- names: zips made on Chinese Windows store GBK names without the UTF-8 flag; they are decoded
  as GBK (GB18030) instead of showing as cp437 mojibake;
- bombs: entry count, per-entry size and total size are capped on the bytes actually inflated
  (never trusting the header), and so is the compression ratio;
- skipped quietly: directories, macOS resource forks (``__MACOSX/``, ``._x``), hidden files, and
  files that are not images or videos by extension (a sheet inside the zip is the sheet area's).
Media files are yielded by name; whether they really are images is decided by content later.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from typing import Iterator

from shangjia.errors import FindingError, finding

from . import MediaLimits

MEDIA_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".heic", ".heif", ".avif",
                    ".mp4", ".mov", ".m4v", ".bmp", ".tif", ".tiff")


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as the merchant saw it (GBK names from Chinese Windows decoded)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            return name
        for enc in ("utf-8", "gb18030"):
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                continue
    return name


def safe_path(name: str) -> str | None:
    """A normalised relative path, or None when the name tries to leave the extraction root."""
    p = name.replace("\\", "/")
    if "\x00" in p or p.startswith("/") or (len(p) > 1 and p[1] == ":"):
        return None
    parts = [x for x in p.split("/") if x not in ("", ".")]
    if any(x == ".." for x in parts):
        return None
    return posixpath.join(*parts) if parts else ""


def extract_zip_images(data: bytes, *, limits: MediaLimits) -> Iterator[tuple[str, bytes]]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise FindingError(finding("MEDIA_ZIP_INVALID", reason=str(e)[:120] or type(e).__name__)) from None
    if len(infos) > limits.zip_max_entries:
        raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", reason=f"{len(infos)} entries > {limits.zip_max_entries}"))
    # refuse the whole archive before yielding anything if any path is hostile
    plan: list[tuple[zipfile.ZipInfo, str]] = []
    for info in infos:
        name = entry_name(info)
        path = safe_path(name)
        if path is None:
            raise FindingError(finding("MEDIA_ZIP_UNSAFE_PATH", value=name, path=name[:200]))
        if info.is_dir() or not path:
            continue
        base = posixpath.basename(path)
        if path.startswith("__MACOSX/") or base.startswith("."):
            continue
        if not base.lower().endswith(MEDIA_EXTENSIONS):
            continue
        if info.flag_bits & 0x1:
            raise FindingError(finding("MEDIA_ZIP_ENCRYPTED", value=name, path=name[:200]))
        plan.append((info, path))

    total = 0
    with zf:
        for info, path in plan:
            cap = limits.zip_max_entry_bytes
            if info.file_size > cap:
                raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", value=path,
                                           reason=f"{path}: {info.file_size} bytes > {cap}"))
            try:
                with zf.open(info) as fh:
                    body = fh.read(cap + 1)      # the header may lie: cap what is really inflated
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error) as e:
                raise FindingError(finding("MEDIA_ZIP_INVALID", value=path, reason=f"{path}: {e}"[:120])) from None
            if len(body) > cap:
                raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", value=path, reason=f"{path}: over {cap} bytes"))
            if info.compress_size and len(body) > 1024 * 1024 and len(body) / info.compress_size > limits.zip_max_ratio:
                raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", value=path,
                                           reason=f"{path}: compression ratio over {limits.zip_max_ratio}"))
            total += len(body)
            if total > limits.zip_max_total_bytes:
                raise FindingError(finding("MEDIA_ZIP_TOO_LARGE", reason=f"over {limits.zip_max_total_bytes} bytes"))
            yield path, body
