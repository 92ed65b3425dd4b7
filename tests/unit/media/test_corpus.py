"""Every file in ../shared/corpus/images ends as renditions or a clear error: no crash, no hang,
bounded memory. Read in place through the ``corpus_dir`` fixture (skips when the corpus is absent)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from shangjia.errors import CODES
from shangjia.media import process_image

from .conftest import decode

pytestmark = pytest.mark.corpus

EXPECTED_ERROR = {
    "check.svg": "MEDIA_FORMAT_REFUSED",
    "struct-image-04-t.svg": "MEDIA_FORMAT_REFUSED",
    "ssrf.png": "MEDIA_FORMAT_REFUSED",
    "broken.jpg": "MEDIA_FORMAT_REFUSED",            # a text file named .jpg
    "decompression_bomb.gif": "MEDIA_TOO_MANY_PIXELS",
    "65536-uint32-limit.png": "MEDIA_TOO_MANY_PIXELS",
    "giant-image.jpg": "MEDIA_TOO_MANY_PIXELS",
    "reallybig.bmp": "MEDIA_FORMAT_UNSUPPORTED",
    "decompression_bomb.ico": "MEDIA_FORMAT_UNSUPPORTED",
    "hopper.bmp": "MEDIA_FORMAT_UNSUPPORTED",
    "G31D.TIF": "MEDIA_FORMAT_UNSUPPORTED",
    "multipage.tiff": "MEDIA_FORMAT_UNSUPPORTED",
    "tiff_strip_cmyk_jpeg.tif": "MEDIA_FORMAT_UNSUPPORTED",
    "rgba.psd": "MEDIA_FORMAT_UNSUPPORTED",
    "pillow.ico": "MEDIA_FORMAT_UNSUPPORTED",
    "truncated.jpg": "MEDIA_TRUNCATED",
    "truncated_jpeg.jpg": "MEDIA_TRUNCATED",
    "truncated_image.png": "MEDIA_TRUNCATED",
    "ultrahdr.jpg": "MEDIA_TRUNCATED",
    "corrupt-header.jpg": "MEDIA_TRUNCATED",
    "png_decompression_dos.png": "MEDIA_UNREADABLE",
    "broken.png": "MEDIA_UNREADABLE",
    "zero_width.gif": "MEDIA_UNREADABLE",
    "full-transparent.png": "MEDIA_BLANK",
}
EXPECTED_FORMAT = {   # decided by content, whatever the name says
    "png-masquerading-as-jpg.jpg": "png",
    "file-webp-masquerading-as-png.png": "webp",
    "wrongextension.png": "jpeg",
    "hopper.heif": "heif",
    "hopper.avif": "avif",
    "sugarshack.mpo": "jpeg",
}


def _files(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "images").iterdir() if p.is_file())


def test_every_corpus_image_ends_as_renditions_or_a_clear_error(corpus_dir):
    files = _files(corpus_dir)
    assert len(files) >= 50
    for path in files:
        r = process_image(path.read_bytes(), name=path.name, slot="gallery")
        errors = [f for f in r.findings if f.is_error]
        if r.renditions:
            assert {x.name for x in r.renditions} == {"gallery", "thumb"}, path.name
            for x in r.renditions:
                assert decode(x.data).size == (x.width, x.height)
        else:
            assert errors, f"{path.name}: neither renditions nor an error"
        for f in r.findings:
            assert f.code in CODES and f.message_zh and f.message_en and f.file == path.name
        want = EXPECTED_ERROR.get(path.name)
        if want:
            assert [f.code for f in errors] == [want], (path.name, r.findings)
        if path.name in EXPECTED_FORMAT:
            assert r.source_format == EXPECTED_FORMAT[path.name] and r.renditions, path.name


def _signature(data: bytes) -> list[int]:
    """A coarse picture of a rendition: 8×8 grey levels."""
    return list(decode(data).convert("L").resize((8, 8), Image.Resampling.BOX).tobytes())


def test_exif_orientations_all_show_the_same_upright_picture(corpus_dir):
    images = corpus_dir / "images"
    upright = Image.open(images / "hopper.bmp").convert("RGB")
    buf = io.BytesIO()
    upright.save(buf, "PNG")
    ref = _signature(process_image(buf.getvalue(), name="ref.png", slot="gallery").renditions[0].data)
    names = [f"hopper_orientation_{n}.jpg" for n in range(2, 9)] + ["hopper_orientation_6.webp"]
    for name in names:
        r = process_image((images / name).read_bytes(), name=name, slot="gallery")
        sig = _signature(r.renditions[0].data)
        diff = sum(abs(a - b) for a, b in zip(sig, ref)) / 64
        assert diff < 12, (name, diff)


def test_orientation_swaps_width_and_height(corpus_dir):
    r = process_image((corpus_dir / "images" / "Landscape_6.jpg").read_bytes(), name="l.jpg", slot="gallery")
    assert (r.width, r.height) == (600, 450) and r.tags["orientation"] == "landscape"
    r = process_image((corpus_dir / "images" / "exif_imagemagick_orientation.png").read_bytes(), name="e.png",
                      slot="gallery")
    assert r.ok


def test_cmyk_with_big_icc_profile_is_not_inverted_or_dark(corpus_dir):
    r = process_image((corpus_dir / "images" / "Channel_digital_image_CMYK_color.jpg").read_bytes(), name="c.jpg",
                      slot="gallery")
    assert r.ok
    img = decode(r.renditions[0].data).convert("L")
    mean = sum(img.crop((0, 200, 800, 600)).resize((1, 1), Image.Resampling.BOX).tobytes()) / 1
    assert 60 < mean < 220      # an inverted or un-converted CMYK picture comes out near black or white


def test_corpus_runs_in_a_fresh_process_with_bounded_memory_and_time(corpus_dir):
    """The whole corpus in one fresh interpreter: it must finish, and peak RSS stays bounded."""
    script = (
        "import json, resource, sys, pathlib\n"
        "from shangjia.media import process_image\n"
        "n = 0\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).iterdir()):\n"
        "    r = process_image(p.read_bytes(), name=p.name, slot='main'); n += 1\n"
        "try:\n"
        "    hwm = next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
        "except OSError:\n"
        "    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'n': n, 'rss_mb': hwm / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(corpus_dir / "images")], capture_output=True,
                         text=True, timeout=120, check=True)
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    assert stats["n"] == len(_files(corpus_dir))
    assert stats["rss_mb"] < 200, stats


def test_display_p3_profile_is_converted_to_srgb(corpus_dir):
    from PIL import ImageCms

    from .conftest import encode, product_photo

    icc = Image.open(corpus_dir / "images" / "p3.png").info["icc_profile"]
    src = product_photo(900, 900, color=(40, 180, 60))
    tagged = process_image(encode(src, "PNG", icc_profile=icc), name="p3.png", slot="main")
    plain = process_image(encode(src, "PNG"), name="srgb.png", slot="main")
    a = decode(tagged.renditions[0].data).getpixel((300, 300))
    b = decode(plain.renditions[0].data).getpixel((300, 300))
    want = ImageCms.profileToProfile(Image.new("RGB", (1, 1), (40, 180, 60)),
                                     ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
                                     outputMode="RGB").getpixel((0, 0))
    assert max(abs(x - y) for x, y in zip(want, (40, 180, 60))) > 15      # P3 green is more saturated
    assert max(abs(x - y) for x, y in zip(a, want)) <= 10, (a, want)
    assert max(abs(x - y) for x, y in zip(b, (40, 180, 60))) <= 10
