"""``shangjia media``: what a user running it offline sees."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from shangjia.cli import main

from .conftest import encode, product_photo
from .test_video import mp4


def test_json_lines_renditions_written_errors_named(tmp_path: Path, capsys):
    good = tmp_path / "主图.jpg"
    good.write_bytes(encode(product_photo(1200, 1200), "JPEG", quality=90))
    bad = tmp_path / "evil.png"
    bad.write_bytes(b'<svg onload="alert(1)"/>')
    video = tmp_path / "v.mp4"
    video.write_bytes(mp4(40))
    out = tmp_path / "out"
    rc = main(["media", str(good), str(bad), str(video), "--out", str(out), "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 1 and len(lines) == 3
    ok, refused, vid = lines
    assert ok["ok"] is True and ok["file"].endswith("主图.jpg") and ok["tags"]["colors"][0] == "红色"
    written = {r["name"]: Path(r["path"]) for r in ok["renditions"]}
    assert set(written) == {"main", "thumb"} and all(p.is_file() and p.stat().st_size > 0 for p in written.values())
    assert written["main"].relative_to(out).as_posix() == ok["renditions"][0]["key"]
    assert refused["ok"] is False and refused["error"]["code"] == "MEDIA_FORMAT_REFUSED"
    assert refused["error"]["message_zh"] and refused["error"]["message_en"]
    assert vid["ok"] is False and vid["error"]["code"] == "MEDIA_VIDEO_TOO_LONG" and vid["duration_s"] == 40


def test_zip_and_product_mode_human_output(tmp_path: Path, capsys):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, c in enumerate([(200, 30, 40), (20, 60, 200), (30, 160, 60)]):
            z.writestr(f"imgs/{i}.jpg", encode(product_photo(900, 900, color=c), "JPEG"))
    zpath = tmp_path / "images.zip"
    zpath.write_bytes(buf.getvalue())
    rc = main(["media", str(zpath), "--out", str(tmp_path / "o"), "--product"])
    text = capsys.readouterr().out
    assert rc == 1                                     # only 2 gallery images: the product check fails
    assert "images.zip!imgs/0.jpg" in text and "→ main 800×800" in text and "→ gallery 800×800" in text
    assert "MEDIA_GALLERY_COUNT" in text and "轮播图数量 2 张" in text


def test_idempotent_reruns_write_the_same_keys(tmp_path: Path, capsys):
    f = tmp_path / "a.png"
    f.write_bytes(encode(product_photo(1000, 1000), "PNG"))
    main(["media", str(f), "--out", str(tmp_path / "o"), "--json"])
    first = json.loads(capsys.readouterr().out)
    main(["media", str(f), "--out", str(tmp_path / "o"), "--json"])
    second = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in first["renditions"]] == [r["key"] for r in second["renditions"]]
    assert len(list((tmp_path / "o").rglob("*.webp"))) == 2
