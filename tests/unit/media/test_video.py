"""probe_video on MP4/QuickTime files built box by box (the layout ISO/IEC 14496-12 defines)."""

from __future__ import annotations

import io
import struct

import pytest

from shangjia.media import MediaLimits, probe_video


def box(kind: bytes, *children: bytes, body: bytes = b"") -> bytes:
    payload = body + b"".join(children)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full(kind: bytes, version: int, body: bytes) -> bytes:
    return box(kind, body=bytes([version, 0, 0, 0]) + body)


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 1:
        body = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        body = struct.pack(">IIII", 0, 0, timescale, duration)
    return full(b"mvhd", version, body + b"\x00" * 80)


def tkhd(w: int, h: int) -> bytes:
    body = struct.pack(">IIIII", 0, 0, 1, 0, 0) + b"\x00" * 16 + b"\x00" * 36 + struct.pack(">II", w << 16, h << 16)
    return full(b"tkhd", 0, body)


def trak(handler: bytes, fourcc: bytes, timescale: int, duration: int, w: int = 0, h: int = 0) -> bytes:
    mdhd = full(b"mdhd", 0, struct.pack(">IIII", 0, 0, timescale, duration) + b"\x00" * 4)
    hdlr = full(b"hdlr", 0, b"\x00" * 4 + handler + b"\x00" * 12 + b"name\x00")
    entry = box(fourcc, body=b"\x00" * 70)
    stsd = full(b"stsd", 0, struct.pack(">I", 1) + entry)
    minf = box(b"minf", box(b"stbl", stsd))
    return box(b"trak", tkhd(w, h), box(b"mdia", mdhd, hdlr, minf))


def mp4(seconds: float = 12.0, *, codec: bytes = b"avc1", brand: bytes = b"isom", moov_last: bool = False,
        audio: bool = True, video: bool = True, version: int = 0, mdat_size: int = 4096) -> bytes:
    ftyp = box(b"ftyp", body=brand + b"\x00\x00\x02\x00" + brand + b"mp41")
    tracks = []
    if video:
        tracks.append(trak(b"vide", codec, 12800, int(seconds * 12800), 1080, 1920))
    if audio:
        tracks.append(trak(b"soun", b"mp4a", 44100, int(seconds * 44100)))
    moov = box(b"moov", mvhd(1000, int(seconds * 1000), version), *tracks)
    mdat = box(b"mdat", body=b"\x00" * mdat_size)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


def codes(v) -> list[str]:
    return [f.code for f in v.findings]


def test_h264_mp4_within_30s_is_accepted():
    v = probe_video(mp4(12.5), name="v.mp4")
    assert v.ok, v.findings
    assert (v.container, v.codec, v.duration_s) == ("mp4", "h264", 12.5)
    assert (v.width, v.height) == (1080, 1920)


def test_too_long_video_is_an_error_with_the_duration():
    v = probe_video(mp4(45.2), name="long.mp4")
    assert codes(v) == ["MEDIA_VIDEO_TOO_LONG"]
    assert "45.2" in v.findings[0].message_en and "30" in v.findings[0].message_zh


def test_moov_after_mdat_read_from_a_stream_without_reading_it_whole():
    data = mp4(29.9, moov_last=True, mdat_size=2_000_000)

    class CountingIO(io.BytesIO):
        read_bytes = 0

        def read(self, n=-1):
            out = super().read(n)
            CountingIO.read_bytes += len(out)
            return out

    v = probe_video(CountingIO(data), name="phone.mov")
    assert v.ok and v.duration_s == 29.9
    assert CountingIO.read_bytes < 20_000       # the 2 MB of media data was skipped, not read


def test_64bit_mvhd_and_quicktime_brand():
    v = probe_video(mp4(10, version=1, brand=b"qt  "), name="iphone.mov")
    assert v.ok and v.container == "mov" and v.duration_s == 10


@pytest.mark.parametrize("fourcc, name", [(b"hvc1", "h265"), (b"av01", "av1"), (b"mp4v", "mpeg4")])
def test_other_codecs_are_named_and_refused(fourcc, name):
    v = probe_video(mp4(5, codec=fourcc), name="x.mp4")
    assert codes(v) == ["MEDIA_VIDEO_CODEC"] and v.codec == name
    assert name in v.findings[0].message_en


def test_h265_can_be_allowed_by_limits():
    v = probe_video(mp4(5, codec=b"hvc1"), name="x.mp4", limits=MediaLimits(video_codecs=("h264", "h265")))
    assert v.ok


def test_audio_only_file_has_no_video_track():
    assert codes(probe_video(mp4(5, video=False), name="a.m4a")) == ["MEDIA_VIDEO_NO_TRACK"]


@pytest.mark.parametrize("data, code", [
    (b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "MEDIA_VIDEO_CONTAINER"),        # WebM / Matroska
    (b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 100, "MEDIA_VIDEO_CONTAINER"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "MEDIA_VIDEO_CONTAINER"),         # a JPEG, not a video
    (b"", "MEDIA_VIDEO_UNREADABLE"),
])
def test_wrong_containers(data, code):
    v = probe_video(data, name="x")
    assert codes(v) == [code] and not v.ok


def test_truncated_and_hostile_boxes_do_not_crash_or_hang():
    good = mp4(10)
    for cut in (12, 40, 100, len(good) // 2):
        v = probe_video(good[:cut], name="cut.mp4")
        assert not v.ok and codes(v) == ["MEDIA_VIDEO_UNREADABLE"]
    # a box claiming to be bigger than the file
    liar = good[:24] + struct.pack(">I4s", 0x7FFFFFFF, b"moov") + b"\x00" * 64
    assert codes(probe_video(liar, name="liar.mp4")) == ["MEDIA_VIDEO_UNREADABLE"]
    # thousands of tiny boxes before moov: bounded walk
    spam = box(b"ftyp", body=b"isom\x00\x00\x02\x00isom") + box(b"free") * 20_000 + mp4(5)[24:]
    assert not probe_video(spam, name="spam.mp4").ok


def test_size_limit():
    v = probe_video(mp4(5), name="x.mp4", limits=MediaLimits(video_max_bytes=100))
    assert codes(v) == ["MEDIA_VIDEO_TOO_LARGE"]
