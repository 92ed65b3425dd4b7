"""probe_video: duration, container and codec from the ISO-BMFF boxes (MP4 / QuickTime), no ffmpeg.

Only the ``moov`` box is read (wherever it sits: before or after ``mdat``); the media data is
skipped by seeking, so a 100 MB upload costs a few reads. Walks are bounded (box count, depth,
``moov`` size) so a hostile file cannot make it loop or allocate.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from shangjia.errors import finding

from . import MediaLimits, VideoResult
from .formats import IMAGE_FORMATS, sniff

_MAX_TOP_BOXES = 10_000
_MAX_CHILD_BOXES = 4_096
_MAX_DEPTH = 10
_MAX_MOOV = 64 * 1024 * 1024

CODECS = {
    b"avc1": "h264", b"avc3": "h264", b"avc2": "h264", b"avc4": "h264",
    b"hvc1": "h265", b"hev1": "h265", b"dvh1": "h265", b"dvhe": "h265",
    b"av01": "av1", b"vp08": "vp8", b"vp09": "vp9", b"mp4v": "mpeg4", b"s263": "h263",
    b"apch": "prores", b"apcn": "prores", b"apcs": "prores", b"apco": "prores", b"ap4h": "prores",
    b"jpeg": "mjpeg", b"mjpa": "mjpeg", b"encv": "encrypted",
}


class _Bad(Exception):
    pass


def probe_video(data: bytes | BinaryIO, *, name: str, limits: MediaLimits) -> VideoResult:
    res = VideoResult(ok=False, name=name, container=None, codec=None, duration_s=None)
    try:
        _probe(data, res, name, limits)
    except _Bad as e:
        res.findings.append(finding("MEDIA_VIDEO_UNREADABLE", file=name, reason=str(e)))
    except (OSError, struct.error, ValueError) as e:
        res.findings.append(finding("MEDIA_VIDEO_UNREADABLE", file=name, reason=f"{type(e).__name__}: {e}"[:120]))
    res.ok = not any(f.is_error for f in res.findings)
    return res


def _probe(data: bytes | BinaryIO, res: VideoResult, name: str, limits: MediaLimits) -> None:
    stream: BinaryIO = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    res.size_bytes = size
    if size == 0:
        raise _Bad("empty file / 文件为空")
    if size > limits.video_max_bytes:
        res.findings.append(finding("MEDIA_VIDEO_TOO_LARGE", file=name, size_mb=round(size / 2**20, 1),
                                    limit_mb=round(limits.video_max_bytes / 2**20, 1)))
        return
    head = stream.read(4096)
    fmt = sniff(head)
    if fmt not in ("mp4", "mov", "3gp"):
        kind = fmt or "unknown"
        if fmt in IMAGE_FORMATS and fmt not in ("avif", "heif"):
            kind = f"{fmt} (image)"
        res.container = fmt
        res.findings.append(finding("MEDIA_VIDEO_CONTAINER", file=name, container=kind))
        return
    res.container = fmt

    moov = None
    pos = 0
    for _ in range(_MAX_TOP_BOXES):
        if pos + 8 > size:
            break
        stream.seek(pos)
        btype, start, end = _header(stream.read(16), pos, size)
        if btype == b"moov" and moov is None:
            if end - start > _MAX_MOOV:
                raise _Bad("moov box too large / 索引过大")
            stream.seek(start)
            moov = stream.read(end - start)
        pos = end          # keep walking the headers: a box overrunning the file means a cut upload
    if moov is None:
        raise _Bad("no moov box (not a finished MP4 recording) / 缺少 moov（文件不完整）")
    _read_moov(moov, res)

    if res.container not in limits.video_containers:
        res.findings.append(finding("MEDIA_VIDEO_CONTAINER", file=name, container=res.container))
    if res.codec is None:
        res.findings.append(finding("MEDIA_VIDEO_NO_TRACK", file=name))
    elif res.codec not in limits.video_codecs:
        res.findings.append(finding("MEDIA_VIDEO_CODEC", file=name, codec=res.codec))
    if res.duration_s is None:
        raise _Bad("duration unknown / 无法确定时长")
    if res.duration_s > limits.video_max_seconds + 0.05:     # container rounding
        res.findings.append(finding("MEDIA_VIDEO_TOO_LONG", file=name, duration_s=round(res.duration_s, 1),
                                    limit_s=round(limits.video_max_seconds, 1)))


def _header(buf: bytes, pos: int, limit: int) -> tuple[bytes, int, int]:
    """(type, payload start, box end) of the box at ``pos``; validates sizes against ``limit``."""
    if len(buf) < 8:
        raise _Bad("truncated box header / 文件不完整")
    size, btype = struct.unpack(">I4s", buf[:8])
    hdr = 8
    if size == 1:
        if len(buf) < 16:
            raise _Bad("truncated box header / 文件不完整")
        size = struct.unpack(">Q", buf[8:16])[0]
        hdr = 16
    elif size == 0:
        size = limit - pos
    if size < hdr or pos + size > limit:
        raise _Bad(f"box {btype!r} overruns the file / 文件不完整或已损坏")
    return btype, pos + hdr, pos + size


def _children(buf: bytes, start: int, end: int, depth: int):
    if depth > _MAX_DEPTH:
        raise _Bad("boxes nested too deep")
    pos = start
    for _ in range(_MAX_CHILD_BOXES):
        if pos + 8 > end:
            return
        btype, s, e = _header(buf[pos:pos + 16], pos, end)
        yield btype, s, e
        pos = e
    raise _Bad("too many boxes")


def _read_moov(moov: bytes, res: VideoResult) -> None:
    mvhd_duration = None
    fragment_duration = None
    track_durations: list[float] = []
    for btype, s, e in _children(moov, 0, len(moov), 0):
        if btype == b"mvhd":
            mvhd_duration = _time(moov, s, e, v1_skip=16, v0_skip=8)
        elif btype == b"mvex":
            for t2, s2, e2 in _children(moov, s, e, 1):
                if t2 == b"mehd":
                    version = moov[s2]
                    raw = moov[s2 + 4:s2 + 12] if version == 1 else moov[s2 + 4:s2 + 8]
                    fragment_duration = int.from_bytes(raw, "big")
        elif btype == b"trak":
            track = _read_trak(moov, s, e)
            if track["duration"] is not None:
                track_durations.append(track["duration"])
            if track["handler"] == b"vide" and res.codec is None:
                res.codec = track["codec"]
                res.width, res.height = track["width"], track["height"]
    timescale = mvhd_duration[0] if mvhd_duration else None
    if mvhd_duration and mvhd_duration[1] > 0:
        res.duration_s = mvhd_duration[1] / mvhd_duration[0]
    elif fragment_duration and timescale:
        res.duration_s = fragment_duration / timescale
    elif track_durations and max(track_durations) > 0:
        res.duration_s = max(track_durations)
    if res.duration_s is not None:
        res.duration_s = round(res.duration_s, 3)


def _time(buf: bytes, s: int, e: int, *, v1_skip: int, v0_skip: int) -> tuple[int, int] | None:
    """(timescale, duration) from an mvhd/mdhd full box."""
    version = buf[s]
    p = s + 4
    if version == 1:
        p += v1_skip
        if p + 12 > e:
            return None
        timescale, duration = struct.unpack(">IQ", buf[p:p + 12])
    else:
        p += v0_skip
        if p + 8 > e:
            return None
        timescale, duration = struct.unpack(">II", buf[p:p + 8])
    if timescale == 0:
        return None
    if duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        duration = 0
    return timescale, duration


def _read_trak(buf: bytes, s: int, e: int) -> dict:
    out = {"handler": None, "codec": None, "duration": None, "width": None, "height": None}
    for t, s1, e1 in _children(buf, s, e, 1):
        if t == b"tkhd":
            version = buf[s1]
            off = s1 + 4 + (84 if version == 1 else 72)   # width, height: 16.16 fixed, last 8 bytes
            if off + 8 <= e1:
                w, h = struct.unpack(">II", buf[off:off + 8])
                out["width"], out["height"] = w >> 16, h >> 16
        elif t == b"mdia":
            for t2, s2, e2 in _children(buf, s1, e1, 2):
                if t2 == b"mdhd":
                    th = _time(buf, s2, e2, v1_skip=16, v0_skip=8)
                    if th and th[1] > 0:
                        out["duration"] = th[1] / th[0]
                elif t2 == b"hdlr" and s2 + 12 <= e2:
                    out["handler"] = buf[s2 + 8:s2 + 12]
                elif t2 == b"minf":
                    out["codec"] = _codec(buf, s2, e2)
    return out


def _codec(buf: bytes, s: int, e: int) -> str | None:
    for t, s1, e1 in _children(buf, s, e, 3):
        if t != b"stbl":
            continue
        for t2, s2, e2 in _children(buf, s1, e1, 4):
            if t2 == b"stsd" and s2 + 16 <= e2:
                fourcc = buf[s2 + 12:s2 + 16]   # fullbox(4) entry_count(4) size(4) type(4)
                return CODECS.get(fourcc, fourcc.decode("latin-1").strip() or "unknown")
    return None
