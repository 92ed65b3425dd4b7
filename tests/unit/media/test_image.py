"""process_image: what a merchant would see for the images they upload."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from shangjia.media import MediaLimits, process_image, sniff

from .conftest import decode, encode, product_photo


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


def close(a, b, tol=12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


# --- renditions --------------------------------------------------------------------------------

def test_jpeg_main_gives_800_square_and_thumb_in_webp(red_jpeg):
    r = process_image(red_jpeg, name="a.jpg", slot="main")
    assert r.ok, r.findings
    assert r.source_format == "jpeg" and (r.width, r.height) == (1600, 1600)
    by_name = {x.name: x for x in r.renditions}
    assert set(by_name) == {"main", "thumb"}
    main = by_name["main"]
    assert (main.width, main.height) == (800, 800) and main.content_type == "image/webp"
    assert sniff(main.data) == "webp"
    img = decode(main.data)
    assert img.size == (800, 800)
    assert close(img.getpixel((400, 400))[:3], (200, 30, 40), 40)      # the product, red
    assert close(img.getpixel((20, 20))[:3], (255, 255, 255), 6)       # white around it
    assert decode(by_name["thumb"].data).size == (240, 240)
    assert main.key == f"r/{r.source_sha256}/{main.key.split('/')[2]}/main.webp"
    assert r.tags["colors"][0] == "红色" and r.tags["background"] == "white"
    assert r.tags["orientation"] == "square"


def test_the_pipeline_stores_no_thumbnail_and_the_same_main_rendition(red_jpeg):
    """What the media stage stores is what channels and pages fetch: no 240 px thumbnail (an S3 PUT
    nobody reads), and the main rendition byte for byte as before, at the same content key."""
    from shangjia.media import PIPELINE_LIMITS

    full = process_image(red_jpeg, name="a.jpg", slot="main")
    lean = process_image(red_jpeg, name="a.jpg", slot="main", limits=PIPELINE_LIMITS)
    assert [x.name for x in lean.renditions] == ["main"]
    main = next(x for x in full.renditions if x.name == "main")
    assert (lean.renditions[0].key, lean.renditions[0].data) == (main.key, main.data)
    assert lean.ok and codes(lean) == codes(full) and lean.phash == full.phash


def test_wide_image_is_padded_on_white_never_stretched():
    src = product_photo(2000, 1000, color=(20, 60, 200))
    r = process_image(encode(src, "JPEG", quality=92), name="wide.jpg", slot="gallery")
    img = decode(r.renditions[0].data)
    assert img.size == (800, 800)
    # 2000×1000 fits as 800×400: white bands of 200 px above and below, the picture in between
    assert close(img.getpixel((400, 100)), (255, 255, 255), 6)
    assert close(img.getpixel((400, 700)), (255, 255, 255), 6)
    # the blue object spans the middle half of the picture both ways: 400 px wide, 200 px tall
    row = [img.getpixel((x, 400)) for x in range(800)]
    blue = [x for x, p in enumerate(row) if p[2] > 120 and p[0] < 110]
    assert 380 <= blue[-1] - blue[0] <= 420
    col = [img.getpixel((400, y)) for y in range(800)]
    blue_y = [y for y, p in enumerate(col) if p[2] > 120 and p[0] < 110]
    assert 180 <= blue_y[-1] - blue_y[0] <= 220
    assert "MEDIA_ASPECT" in codes(r)


def test_detail_slot_has_fixed_width():
    r = process_image(encode(product_photo(1500, 3000), "PNG"), name="d.png", slot="detail")
    assert r.ok, r.findings
    d = next(x for x in r.renditions if x.name == "detail")
    assert (d.width, d.height) == (750, 1500)


def test_same_bytes_give_same_keys_and_bytes(red_jpeg):
    a = process_image(red_jpeg, name="a.jpg", slot="main")
    b = process_image(red_jpeg, name="copy.jpg", slot="main")
    assert [(x.key, x.data) for x in a.renditions] == [(x.key, x.data) for x in b.renditions]
    other = process_image(encode(product_photo(1600, 1600, seed=2), "JPEG"), name="b.jpg", slot="main")
    assert other.renditions[0].key != a.renditions[0].key


def test_to_dict_is_json_without_bytes(red_jpeg):
    import json

    d = process_image(red_jpeg, name="a.jpg", slot="main").to_dict()
    text = json.dumps(d, ensure_ascii=False)
    assert d["ok"] is True and d["renditions"][0]["bytes"] > 1000 and "data" not in d["renditions"][0]
    assert "红色" in text


# --- content, not names --------------------------------------------------------------------------

def test_format_is_decided_by_content_not_extension():
    png = encode(product_photo(900, 900), "PNG")
    r = process_image(png, name="photo.jpg", slot="main")
    assert r.ok and r.source_format == "png"


@pytest.mark.parametrize("data, code", [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "MEDIA_FORMAT_REFUSED"),
    (b"push graphic-context\nviewbox 0 0 640 480\nfill 'url(http://169.254.169.254/)'\n", "MEDIA_FORMAT_REFUSED"),
    (b"#!/bin/sh\nrm -rf /\n", "MEDIA_FORMAT_REFUSED"),
    (b"", "MEDIA_EMPTY"),
    (b"\x00\x01\x02\x03garbage" * 10, "MEDIA_UNREADABLE"),
])
def test_non_images_are_refused_with_a_clear_code(data, code):
    r = process_image(data, name="x.png", slot="main")
    assert not r.ok and r.renditions == []
    assert codes(r) == [code]
    f = r.findings[0]
    assert f.message_zh and f.message_en and f.file == "x.png"


def test_bmp_is_a_real_image_we_do_not_accept():
    r = process_image(encode(product_photo(900, 900), "BMP"), name="a.bmp", slot="main")
    assert codes(r) == ["MEDIA_FORMAT_UNSUPPORTED"] and "BMP" in r.findings[0].message_en


def test_truncated_jpeg_is_an_error_not_a_grey_half():
    data = encode(product_photo(1200, 1200), "JPEG", quality=90)
    r = process_image(data[: len(data) // 2], name="cut.jpg", slot="main")
    assert codes(r) == ["MEDIA_TRUNCATED"]


# --- limits --------------------------------------------------------------------------------------

def _png_header_only(w: int, h: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_declared_pixel_bomb_is_refused_before_decoding():
    r = process_image(_png_header_only(30000, 30000), name="bomb.png", slot="main")
    assert codes(r) == ["MEDIA_TOO_MANY_PIXELS"]
    assert "30000×30000" in r.findings[0].message_en
    assert (r.width, r.height) == (30000, 30000) and r.renditions == []


def test_pixel_limit_is_configurable(red_jpeg):
    r = process_image(red_jpeg, name="a.jpg", slot="main", limits=MediaLimits(max_pixels=1_000_000))
    assert codes(r) == ["MEDIA_TOO_MANY_PIXELS"]


def test_file_size_limit(red_jpeg):
    r = process_image(red_jpeg, name="a.jpg", slot="main", limits=MediaLimits(max_bytes=1000))
    assert codes(r) == ["MEDIA_FILE_TOO_LARGE"]


# --- orientation, colour, alpha -------------------------------------------------------------------

def _marked(w: int, h: int) -> Image.Image:
    """White picture with a red block in the stored top-left corner and a blue one bottom-right."""
    im = Image.new("RGB", (w, h), (255, 255, 255))
    im.paste((220, 0, 0), (0, 0, w // 4, h // 4))
    im.paste((0, 0, 220), (3 * w // 4, 3 * h // 4, w, h))
    return im


def test_exif_orientation_6_is_applied():
    im = _marked(1200, 900)
    exif = Image.Exif()
    exif[0x0112] = 6   # stored sideways: display rotated 90° clockwise
    r = process_image(encode(im, "JPEG", quality=95, exif=exif), name="phone.jpg", slot="gallery")
    assert (r.width, r.height) == (900, 1200)
    assert r.tags["orientation"] == "portrait"
    img = decode(r.renditions[0].data)          # 600×800 picture centred on 800×800
    # rotated clockwise, the stored top-left corner shows at the top-right
    assert close(img.getpixel((100 + 600 - 20, 20)), (220, 0, 0), 40)
    assert close(img.getpixel((100 + 20, 780)), (0, 0, 220), 40)


def test_transparent_background_becomes_white_not_black():
    im = Image.new("RGBA", (1000, 1000), (0, 0, 0, 0))   # transparent black, as most tools save it
    im.paste((30, 160, 60, 255), (300, 300, 700, 700))
    r = process_image(encode(im, "PNG"), name="cut-out.png", slot="main")
    assert r.ok, r.findings
    img = decode(r.renditions[0].data)
    assert close(img.getpixel((10, 10)), (255, 255, 255), 4)
    assert close(img.getpixel((400, 400)), (30, 160, 60), 20)
    assert r.tags["background"] == "transparent"
    assert r.tags["colors"] == ["绿色"]


def test_palette_with_transparency_and_fully_transparent():
    p = Image.new("P", (900, 900), 0)
    p.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
    p.paste(1, (200, 200, 700, 700))
    r = process_image(encode(p, "PNG", transparency=0), name="p.png", slot="main")
    img = decode(r.renditions[0].data)
    assert close(img.getpixel((5, 5)), (255, 255, 255), 4)
    blank = Image.new("RGBA", (900, 900), (0, 0, 0, 0))
    assert codes(process_image(encode(blank, "PNG"), name="blank.png", slot="main")) == ["MEDIA_BLANK"]


def test_cmyk_jpeg_is_converted_to_rgb():
    im = Image.new("CMYK", (1000, 1000), (0, 0, 0, 0))          # white paper
    im.paste((0, 255, 255, 0), (250, 250, 750, 750))             # process red
    r = process_image(encode(im, "JPEG", quality=95), name="print.jpg", slot="main")
    assert r.ok, r.findings
    img = decode(r.renditions[0].data)
    assert close(img.getpixel((400, 400)), (255, 0, 0), 30)
    assert close(img.getpixel((10, 10)), (255, 255, 255), 6)


def test_16bit_grey_is_scaled_not_clipped_to_white():
    im = Image.new("I", (900, 900), 20000)                       # ~30% grey in 16 bits
    im.paste(60000, (200, 200, 700, 700))
    im = im.convert("I;16")
    r = process_image(encode(im, "PNG"), name="g16.png", slot="main")
    img = decode(r.renditions[0].data).convert("L")
    assert abs(img.getpixel((10, 10)) - 20000 // 256) <= 3
    assert abs(img.getpixel((400, 400)) - 60000 // 256) <= 3


def test_animated_gif_uses_first_frame_with_a_warning():
    frames = [Image.new("RGB", (900, 900), c) for c in ((200, 30, 40), (20, 60, 200))]
    for fr in frames:
        fr.paste((255, 255, 255), (0, 0, 450, 900))
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    r = process_image(data, name="anim.gif", slot="gallery")
    assert "MEDIA_ANIMATED" in codes(r) and r.ok
    assert decode(r.renditions[0].data).getpixel((700, 400))[0] > 150     # red: frame 0


# --- checks --------------------------------------------------------------------------------------

def test_too_small_is_an_error_for_main_and_a_warning_for_gallery():
    data = encode(product_photo(500, 500), "JPEG", quality=92)
    main = process_image(data, name="s.jpg", slot="main")
    assert not main.ok and "MEDIA_TOO_SMALL" in codes(main)
    assert main.renditions and main.renditions[0].width == 800      # still previewable
    gal = process_image(data, name="s.jpg", slot="gallery")
    assert gal.ok and "MEDIA_TOO_SMALL" in codes(gal)


def test_blurry_image_is_flagged_and_sharp_one_is_not():
    from PIL import ImageFilter

    sharp = product_photo(1200, 1200)
    assert "MEDIA_BLURRY" not in codes(process_image(encode(sharp, "PNG"), name="s.png", slot="main"))
    blurred = sharp.filter(ImageFilter.GaussianBlur(6))
    r = process_image(encode(blurred, "PNG"), name="b.png", slot="main")
    assert "MEDIA_BLURRY" in codes(r)


def test_main_background_must_be_white():
    r = process_image(encode(product_photo(1000, 1000, bg=(90, 120, 90)), "JPEG"), name="g.jpg", slot="main")
    assert "MEDIA_BACKGROUND_NOT_WHITE" in codes(r)
    assert r.tags["background"] == "solid"
    gal = process_image(encode(product_photo(1000, 1000, bg=(90, 120, 90)), "JPEG"), name="g.jpg", slot="gallery")
    assert "MEDIA_BACKGROUND_NOT_WHITE" not in codes(gal)


def test_colour_cast_is_flagged():
    neutral = product_photo(1000, 1000, color=(120, 120, 120), bg=(235, 235, 235))
    assert "MEDIA_COLOR_CAST" not in codes(process_image(encode(neutral, "PNG"), name="n.png", slot="gallery"))
    warm = Image.merge("RGB", [c.point(lambda v, k=k: min(255, int(v * k)))
                               for c, k in zip(neutral.split(), (1.0, 0.93, 0.72))])
    r = process_image(encode(warm, "PNG"), name="w.png", slot="gallery")
    cast = [f for f in r.findings if f.code == "MEDIA_COLOR_CAST"]
    assert cast and cast[0].params["cast_en"] == "yellow"


def test_navy_product_is_named_in_chinese():
    r = process_image(encode(product_photo(1000, 1000, color=(25, 35, 80)), "PNG"), name="n.png", slot="main")
    assert r.tags["colors"][0] == "藏青色"
    assert "藏青色" in r.tags["keywords"] and r.tags["attributes"]["颜色"] == "藏青色"


def test_big_cutout_is_shrunk_early_without_dark_fringes():
    im = Image.new("RGBA", (4000, 4000), (0, 0, 0, 0))
    im.paste((250, 250, 250, 255), (1001, 1001, 3001, 3001))        # a white product on transparency
    r = process_image(encode(im, "PNG", compress_level=1), name="big.png", slot="main")
    assert r.ok and (r.width, r.height) == (4000, 4000)
    img = decode(r.renditions[0].data).convert("L")
    # along the product's edge nothing may turn grey (black bleeding from transparent pixels)
    assert min(img.getpixel((x, 200)) for x in range(180, 620)) >= 240
    assert min(img.getpixel((200, y)) for y in range(180, 620)) >= 240


def test_narrow_detail_image_is_a_warning():
    r = process_image(encode(product_photo(500, 900), "PNG"), name="d.png", slot="detail")
    assert r.ok and "MEDIA_DETAIL_NARROW" in codes(r)
    assert next(x for x in r.renditions if x.name == "detail").width == 750


def test_full_decode_formats_have_a_lower_pixel_limit_than_jpeg():
    limits = MediaLimits(max_pixels=4_000_000, max_pixels_full_decode=1_000_000)
    big = product_photo(1500, 1500)                          # 2.25 MP
    assert process_image(encode(big, "JPEG"), name="a.jpg", slot="main", limits=limits).ok
    r = process_image(encode(big, "WEBP"), name="a.webp", slot="main", limits=limits)
    assert codes(r) == ["MEDIA_TOO_MANY_PIXELS"] and "1500×1500" in r.findings[0].message_zh


def test_cast_on_a_white_background_product_shot():
    shot = product_photo(1000, 1000, color=(60, 60, 60))
    yellowed = Image.merge("RGB", [c.point(lambda v, k=k: min(255, int(v * k)))
                                   for c, k in zip(shot.split(), (1.0, 0.96, 0.80))])
    r = process_image(encode(yellowed, "PNG"), name="y.png", slot="gallery")
    cast = [f for f in r.findings if f.code == "MEDIA_COLOR_CAST"]
    assert cast and cast[0].params["cast_zh"] == "黄" and "偏黄" in cast[0].message_zh
    assert "MEDIA_COLOR_CAST" not in codes(process_image(encode(shot, "PNG"), name="n.png", slot="gallery"))


def test_blank_is_reported_before_size_checks():
    r = process_image(encode(Image.new("RGB", (50, 50), (240, 240, 240)), "PNG"), name="x.png", slot="main")
    assert codes(r) == ["MEDIA_BLANK"] and r.error.code == "MEDIA_BLANK"
