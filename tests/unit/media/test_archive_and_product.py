"""Zips uploaded beside a sheet, and the checks across one product's images."""

from __future__ import annotations

import io
import zipfile

import pytest

from shangjia.errors import FindingError
from shangjia.media import MediaLimits, extract_zip_images, process_image, product_checks

from .conftest import encode, product_photo

JPEG = encode(product_photo(900, 900), "JPEG")


def make_zip(entries: dict[str, bytes], *, raw_names: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in entries.items():
            z.writestr(name, body)
    data = buf.getvalue()
    for shown, raw in (raw_names or {}).items():     # rewrite a name as raw bytes (e.g. GBK, no UTF-8 flag)
        data = data.replace(shown.encode("ascii"), raw)
    return data


def test_images_are_yielded_by_relative_path_and_junk_is_skipped():
    z = make_zip({"款式A/主图.jpg": JPEG, "款式A/": b"", "__MACOSX/._主图.jpg": b"x", ".DS_Store": b"x",
                  "sheet.xlsx": b"PK", "video.mp4": b"\x00" * 10})
    got = dict(extract_zip_images(z))
    assert set(got) == {"款式A/主图.jpg", "video.mp4"}
    assert got["款式A/主图.jpg"] == JPEG


def test_gbk_names_from_chinese_windows_are_decoded():
    z = make_zip({"AAAA.jpg": JPEG}, raw_names={"AAAA": "红色".encode("gbk")})
    assert [p for p, _ in extract_zip_images(z)] == ["红色.jpg"]


@pytest.mark.parametrize("bad", ["../../etc/cron.d/x.jpg", "/abs/x.jpg", "C:/win/x.jpg", "a/../../x.jpg",
                                 "..\\..\\x.jpg"])
def test_path_traversal_refuses_the_whole_zip(bad):
    z = make_zip({"ok.jpg": JPEG, bad: JPEG})
    with pytest.raises(FindingError) as e:
        list(extract_zip_images(z))
    assert e.value.finding.code == "MEDIA_ZIP_UNSAFE_PATH"


def test_zip_bomb_is_stopped_on_inflated_bytes():
    z = make_zip({"bomb.png": b"\x00" * 30_000_000})
    with pytest.raises(FindingError) as e:
        list(extract_zip_images(z, limits=MediaLimits(zip_max_entry_bytes=10_000_000)))
    assert e.value.finding.code == "MEDIA_ZIP_TOO_LARGE"
    with pytest.raises(FindingError):
        list(extract_zip_images(make_zip({"a.jpg": b"\x00" * 5_000_000})))   # ratio > 200 over 1 MB


def test_lying_header_is_capped(monkeypatch):
    z = make_zip({"a.jpg": b"\x01" * 50_000})
    # the central directory says 10 bytes; what is inflated is what counts
    info_size = (50_000).to_bytes(4, "little")
    z = z.replace(info_size, (10).to_bytes(4, "little"))
    with pytest.raises(FindingError) as e:
        list(extract_zip_images(z, limits=MediaLimits(zip_max_entry_bytes=1000)))
    assert e.value.finding.code in ("MEDIA_ZIP_TOO_LARGE", "MEDIA_ZIP_INVALID")


def test_too_many_entries_and_not_a_zip():
    z = make_zip({f"{i}.jpg": b"x" for i in range(20)})
    with pytest.raises(FindingError) as e:
        list(extract_zip_images(z, limits=MediaLimits(zip_max_entries=10)))
    assert e.value.finding.code == "MEDIA_ZIP_TOO_LARGE"
    with pytest.raises(FindingError) as e:
        list(extract_zip_images(b"not a zip"))
    assert e.value.finding.code == "MEDIA_ZIP_INVALID"


# --- product checks ------------------------------------------------------------------------------

def _img(seed: int, slot: str, color=(200, 30, 40), size=1000):
    data = encode(product_photo(size, size, color=color, seed=seed), "JPEG", quality=90)
    return process_image(data, name=f"{slot}-{seed}.jpg", slot=slot)


def test_a_good_product_has_no_findings():
    imgs = [_img(1, "main")] + [_img(i, "gallery", color=c) for i, c in
                                ((2, (20, 60, 200)), (3, (30, 160, 60)), (4, (240, 200, 40)))]
    assert product_checks(imgs) == []


def test_duplicates_near_duplicates_and_gallery_count():
    main = _img(1, "main")
    same = process_image(encode(product_photo(1000, 1000, seed=1), "JPEG", quality=90), name="copy.jpg",
                         slot="gallery")
    resaved = process_image(encode(product_photo(1000, 1000, seed=1), "JPEG", quality=60), name="resaved.jpg",
                            slot="gallery")
    findings = product_checks([main, same, resaved])
    codes = {f.code for f in findings}
    assert {"MEDIA_DUPLICATE", "MEDIA_NEAR_DUPLICATE", "MEDIA_GALLERY_COUNT"} <= codes
    dup = next(f for f in findings if f.code == "MEDIA_DUPLICATE")
    assert dup.file == "copy.jpg" and "main-1.jpg" in dup.message_en
    count = next(f for f in findings if f.code == "MEDIA_GALLERY_COUNT")
    assert count.is_error and "2" in count.message_zh


def test_missing_main_when_it_failed():
    bad = process_image(b"<svg/>", name="m.svg", slot="main")
    gallery = [_img(i, "gallery", color=c) for i, c in ((2, (20, 60, 200)), (3, (30, 160, 60)), (4, (0, 0, 0)))]
    assert [f.code for f in product_checks([bad, *gallery])] == ["MEDIA_MAIN_MISSING"]


def test_ten_gallery_images_is_too_many():
    gallery = [_img(i, "gallery", size=820) for i in range(10)]
    findings = product_checks([_img(99, "main"), *gallery], limits=MediaLimits(near_duplicate_distance=-1))
    assert [f.code for f in findings] == ["MEDIA_GALLERY_COUNT"]


# --- references in a sheet -----------------------------------------------------------------------

from shangjia.media import resolve_reference  # noqa: E402

UPLOADED = ["batch-7/images/红色.JPG", "batch-7/images/款式A/主图.jpg", "batch-7/a/1.jpg", "batch-7/b/1.jpg",
            "batch-7/detail.png"]


@pytest.mark.parametrize("ref, want", [
    ("images\\红色.JPG", "batch-7/images/红色.JPG"),            # Windows separators
    ("./images/红色.jpg", "batch-7/images/红色.JPG"),           # case differs
    ("红色.jpg", "batch-7/images/红色.JPG"),                     # bare name, unique
    ("款式A/主图.jpg", "batch-7/images/款式A/主图.jpg"),
    ("a/1.jpg", "batch-7/a/1.jpg"),
    ("1.jpg", None),                                           # two of them: ambiguous, no guess
    ("missing.jpg", None),
    ("https://cdn.example.com/detail.png", None),              # a URL is fetched, not looked up
    ("", None),
])
def test_sheet_references_find_the_uploaded_file(ref, want):
    assert resolve_reference(ref, UPLOADED) == want


def test_macos_decomposed_names_match():
    import unicodedata

    nfd = unicodedata.normalize("NFD", "café/Crème.jpg")
    assert resolve_reference("café/Crème.jpg", ["z/" + nfd]) == "z/" + nfd
