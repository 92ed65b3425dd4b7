"""A merchant checks a sheet through plain S3 and gets their report back from the reports bucket."""

import io
import json
import time

import pytest

from shangjia.pipeline.products import get_product
from shangjia.pipeline import views

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]
HANDLERS_IN_PROCESS = True      # the second case patches batches.INLINE_REPORT_MAX for the handlers


def _batch_for(deps, merchant, key):
    for b in views.merchant_batches(deps, merchant):
        if b["key"] == key:
            return b
    return None


@pytest.mark.parametrize("inline_max", [None, 2], ids=["written by validate", "written by the report function"])
def test_check_only_upload_returns_an_annotated_report(cloud, deps, tmp_path, monkeypatch, inline_max):
    import openpyxl

    from shangjia.pipeline import batches
    from shangjia.pipeline.merchants import put_merchant
    from shangjia.sheets.samples import write_sample_workbook

    if inline_max is not None:               # a "big" batch: through the reports queue
        monkeypatch.setattr(batches, "INLINE_REPORT_MAX", inline_max)
    put_merchant(deps.store, "chk1", name="Checker", annual_sales_cny=300_000)
    path = tmp_path / "check me.xlsx"
    write_sample_workbook(path, 6, seed=11, invalid_ratio=0.5)
    s3 = cloud.client("s3")
    key = f"chk1/check me {inline_max}.xlsx"
    s3.upload_file(str(path), cloud.resources.buckets["drop"], key,
                   ExtraArgs={"Metadata": {"shangjia-mode": "check_only"}})

    deadline = time.monotonic() + 90
    batch = None
    while time.monotonic() < deadline:
        batch = _batch_for(deps, "chk1", key)
        if batch and batch.get("report_key"):
            break
        time.sleep(0.5)
    assert batch and batch.get("report_key"), f"no report for {key}: {batch}"
    assert batch["report_key"] == f"chk1/{batch['batch_id']}/report.xlsx"

    reports = cloud.resources.buckets["reports"]
    doc = json.loads(s3.get_object(Bucket=reports, Key=batch["report_json_key"])["Body"].read())
    assert doc["stage"] == "validation" and doc["policy"]["mode"] == "check_only" and doc["products"] == 6
    errors = [e for r in doc["product_results"] for e in r["errors"] if e["row"] and e["column"]]
    assert errors, doc
    from shangjia.pipeline import keys
    statuses = {r["spu_code"]: deps.store.get(*keys.checked_product(batch["batch_id"], "chk1", r["spu_code"]))["status"]
                for r in doc["product_results"]}
    assert set(statuses.values()) == {"checked", "needs_fix"}          # nothing went further
    assert all(get_product(deps, "chk1", s) is None for s in statuses), "the catalog is untouched"

    wb = openpyxl.load_workbook(io.BytesIO(s3.get_object(Bucket=reports, Key=batch["report_key"])["Body"].read()))
    theirs = wb.worksheets[0]
    e = errors[0]
    cell = theirs[f"{e['column']}{e['row']}"]
    assert cell.comment is not None and e["zh"] in cell.comment.text
    assert cell.fill.fgColor.rgb.upper().endswith("FFC7CE")           # highlighted red
    listed = wb["错误明细 Errors"]
    rows = [[str(v) if v is not None else "" for v in r] for r in listed.iter_rows(values_only=True)]
    assert any(str(e["row"]) in r and e["column"] in r and e["code"] in r for r in rows), rows[:5]
