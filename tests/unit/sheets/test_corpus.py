"""Every third-party file in the corpus is either ingested or refused with a specific reason."""

from __future__ import annotations

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import open_sheet

pytestmark = pytest.mark.corpus

# What each file must come to. A file added to the corpus without a row here still has to be
# ingested or refused with a SHEET_* reason (test_every_file_is_ingested_or_refused).
EXPECTED = {
    "sheets/OOM_alloc3.xls": "SHEET_UNSUPPORTED_FORMAT",
    "sheets/issue_271.xls": "SHEET_UNSUPPORTED_FORMAT",
    "sheets/issue_594_dos.ods": "SHEET_UNSUPPORTED_FORMAT",
    "sheets/merged_cells.ods": "SHEET_UNSUPPORTED_FORMAT",
    "sheets/empty.csv": "SHEET_EMPTY",
    "sheets/empty_file.xlsx": "SHEET_EMPTY",
    "sheets/pass_protected.xlsx": "SHEET_ENCRYPTED",
    "sheets/null_archive.xlsx": "SHEET_UNSUPPORTED_FORMAT",   # a zip holding one empty .xlsx
    "sheets/issue252.xlsx": "SHEET_CORRUPT",            # an entry fails its CRC check
    "sheets/too_small.xls": "SHEET_NO_HEADER",
    "sheets/any_sheets.xlsx": "SHEET_NO_HEADER",
    "sheets/issue_174.xlsx": "SHEET_NO_HEADER",         # dimension A1:XFD1048576 is not trusted
    "commerce/akeneo_caterpillar_import_xlsx.zip": "SHEET_UNSUPPORTED_FORMAT",
    "commerce/taobao-gb18030.csv": "SHEET_NO_HEADER",   # an order list, not products
    "commerce/akeneo_product_export_with_non_utf8_characters.csv": "SHEET_FOREIGN_LAYOUT",
}
LAYOUT = {"shopify": "Shopify", "woocommerce": "WooCommerce", "classiccommerce": "WooCommerce",
          "magento2": "Magento", "akeneo": "Akeneo PIM"}
# Exports mapped onto our products instead of refused (docs/inbound.md)
MAPPED = {"Shopify": "export:shopify", "WooCommerce": "export:woocommerce"}


def _files(corpus_dir):
    return sorted(p for sub in ("sheets", "commerce") for p in (corpus_dir / sub).iterdir() if p.is_file())


def _outcome(path):
    try:
        r = open_sheet(path, path.name)
        with r:
            n = sum(1 for _ in r.products())
        return "INGESTED", n, None
    except FindingError as e:
        return e.finding.code, 0, e.finding


def test_every_file_is_ingested_or_refused_with_a_specific_reason(corpus_dir):
    files = _files(corpus_dir)
    assert len(files) >= 50
    for path in files:
        key = f"{path.parent.name}/{path.name}"
        code, n, f = _outcome(path)
        if key in EXPECTED:
            assert code == EXPECTED[key], (key, code, f and f.message_en)
        assert code == "INGESTED" or code.startswith("SHEET_"), (key, code)
        if f is not None:
            assert f.message_zh and f.message_en and f.hint_zh and f.file == path.name, key


def test_other_platforms_exports_are_named(corpus_dir):
    for path in _files(corpus_dir):
        prefix = path.name.split("_", 1)[0]
        if path.parent.name != "commerce" or prefix not in LAYOUT or path.suffix == ".zip":
            continue
        code, _, f = _outcome(path)
        if code == "SHEET_FOREIGN_LAYOUT":
            assert LAYOUT[prefix] in f.message_en and LAYOUT[prefix] in f.message_zh, path.name
        elif LAYOUT[prefix] in MAPPED:                 # read through its mapping (shangjia.inbound.exports)
            with open_sheet(path, path.name) as r:
                assert (code, r.info.layout) == ("INGESTED", MAPPED[LAYOUT[prefix]]), path.name
        else:
            assert code == "SHEET_NO_HEADER", (path.name, code)   # akeneo xlsx without a sku/family pair


def test_encrypted_and_legacy_files_say_what_to_do(corpus_dir):
    _, _, f = _outcome(corpus_dir / "sheets" / "pass_protected.xlsx")
    assert "密码" in f.message_zh and "password" in f.hint_en
    _, _, f = _outcome(corpus_dir / "sheets" / "issue_271.xls")
    assert "97-2003" in f.message_en and ".xlsx" in f.hint_en
