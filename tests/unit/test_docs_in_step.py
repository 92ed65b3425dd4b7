"""Documents generated from the code say what the code says (`make docs` regenerates them)."""

import contextlib
import io
from pathlib import Path

from shangjia.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_error_codes_doc_is_what_shangjia_codes_prints():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["codes"]) in (0, None)
    doc = (REPO / "docs" / "error-codes.md").read_text("utf-8")
    assert doc == out.getvalue(), "docs/error-codes.md is stale: run `make docs`"
