"""The API's short-lived links work: an upload through the presigned POST lands in the drop bucket
under the merchant's uploads/ with its mode metadata (and one over the size limit is refused);
the report link downloads the workbook; the template link a workbook; the failures page gets the
latest week with its workbook link."""

from __future__ import annotations

import io

import boto3
import requests

from tests.integration.api_world import REPORT_XLSX, build, call


def test_a_presigned_upload_lands_under_the_merchants_uploads_with_its_mode(aws, deps, handler):
    build(deps)
    fn = handler("api")
    a = call(fn, "POST", "/api/uploads", "merchant_a", body={"filename": "秋季 上新.xlsx", "mode": "check_only"})
    assert a.status == 200, a.body
    t = a.body
    assert t["key"].startswith("m-a/uploads/") and t["key"].endswith("/秋季 上新.xlsx")
    assert t["fields"]["x-amz-meta-shangjia-mode"] == "check_only"
    r = requests.post(t["url"], data=t["fields"], files={"file": ("x.xlsx", io.BytesIO(b"sheet bytes"))}, timeout=10)
    assert r.status_code in (200, 204), r.text
    obj = boto3.client("s3", region_name="us-east-1").get_object(Bucket=aws.buckets["drop"], Key=t["key"])
    assert obj["Body"].read() == b"sheet bytes"
    assert obj["Metadata"] == {"shangjia-mode": "check_only"}
    # the zip of images goes beside it: same upload id, same folder
    z = call(fn, "POST", "/api/uploads", "merchant_a", body={"filename": "图片.zip", "upload_id": t["upload_id"]})
    assert z.body["key"].rsplit("/", 1)[0] == t["key"].rsplit("/", 1)[0]


def test_an_upload_link_names_its_size_limit_and_refuses_what_is_not_a_sheet_or_media(deps, handler):
    build(deps)
    fn = handler("api")
    a = call(fn, "POST", "/api/uploads", "merchant_a", body={"filename": "a.xlsx"})
    policy = a.body["fields"]["policy"]
    import base64
    import json

    conditions = json.loads(base64.b64decode(policy))["conditions"]
    assert ["content-length-range", 1, a.body["max_bytes"]] in conditions
    assert a.body["max_bytes"] == 2 * 1024**3            # sheets are read in ranged blocks
    feed = call(fn, "POST", "/api/uploads", "merchant_a", body={"filename": "feed.json"})
    assert feed.body["max_bytes"] == 200 * 1024 * 1024   # a JSON feed is parsed whole
    bad = call(fn, "POST", "/api/uploads", "merchant_a", body={"filename": "run.exe"})
    assert bad.status == 400 and bad.body["code"] == "API_BODY_FIELD" and "filename" in bad.body["message"]
    staff = call(fn, "POST", "/api/uploads", "ops", body={"filename": "a.xlsx"})
    assert staff.status == 400 and "merchant_id" in staff.body["message"]
    mode = call(fn, "POST", "/api/uploads", "merchant_a", body={"filename": "a.xlsx", "mode": "publish_all"})
    assert mode.status == 400 and "mode" in mode.body["message"]


def test_the_report_link_downloads_the_workbook(deps, handler):
    build(deps)
    fn = handler("api")
    a = call(fn, "GET", "/api/batches/batch-m-a/report", "merchant_a")
    assert a.status == 200, a.body
    assert requests.get(a.body["xlsx_url"], timeout=10).content == REPORT_XLSX
    assert requests.get(a.body["json_url"], timeout=10).json() == {"products": 1}


def test_the_template_link_downloads_a_workbook(deps, handler):
    build(deps)
    fn = handler("api")
    a = call(fn, "GET", "/api/template", "merchant_a")
    data = requests.get(a.body["url"], timeout=10).content
    from openpyxl import load_workbook

    assert load_workbook(io.BytesIO(data)).sheetnames        # a real workbook
    again = call(fn, "GET", "/api/template", "merchant_b")   # same shipping templates: the same object
    assert again.body["url"].split("?")[0] == a.body["url"].split("?")[0]


def test_failures_latest_week_by_default_and_weeks_listed(deps, handler):
    build(deps)
    fn = handler("api")
    weeks = call(fn, "GET", "/api/failures/weeks", "reviewer").body["items"]
    assert weeks == ["2026-W47", "2026-W46"]
    latest = call(fn, "GET", "/api/failures/weekly", "editor_a").body
    assert latest["week"] == "2026-W47" and requests.get(latest["xlsx_url"], timeout=10).content == b"PK weekly"
    older = call(fn, "GET", "/api/failures/weekly", "ops", query={"week": "2026-W46"}).body
    assert older["week"] == "2026-W46" and older["xlsx_url"] is None
    assert call(fn, "GET", "/api/failures/weekly", "ops", query={"week": "2026-W01"}).status == 404
    bad = call(fn, "GET", "/api/failures/weekly", "ops", query={"week": "last"})
    assert bad.status == 400 and bad.body["code"] == "API_PARAM_INVALID"


def test_dlq_depth_and_redrive_move_the_messages_back(aws, deps, handler):
    build(deps)
    fn = handler("api")
    sqs = boto3.client("sqs", region_name="us-east-1")
    for i in range(3):
        sqs.send_message(QueueUrl=aws.queues["intake_dlq"], MessageBody=f'{{"n": {i}}}')
    assert call(fn, "GET", "/api/ops/dlq", "ops").body["depths"]["intake"] == 3
    a = call(fn, "POST", "/api/ops/dlq/intake/redrive", "ops")
    assert a.body == {"queue": "intake", "moved": 3}
    assert call(fn, "GET", "/api/ops/dlq", "ops").body["depths"]["intake"] == 0
    got = sqs.receive_message(QueueUrl=aws.queues["intake"], MaxNumberOfMessages=10)["Messages"]
    # (the drop bucket's s3:TestEvent waits there too, sent when its notification was set up)
    assert sorted(m["Body"] for m in got if '"n"' in m["Body"]) == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert call(fn, "POST", "/api/ops/dlq/nope/redrive", "ops").status == 404


def test_settings_are_checked_and_changed(deps, handler):
    build(deps)
    fn = handler("api")
    assert call(fn, "GET", "/api/settings", "ops").body["settings"]["audit_sample_rate"]["value"] == 0.05
    bad = call(fn, "PUT", "/api/settings/audit_sample_rate", "ops", body={"value": 7})
    assert bad.status == 400 and bad.body["code"] == "API_BODY_FIELD"
    ok = call(fn, "PUT", "/api/settings/audit_sample_rate", "ops", body={"value": 0.2})
    assert ok.body["settings"]["audit_sample_rate"]["value"] == 0.2
    assert call(fn, "PUT", "/api/settings/nope", "ops", body={"value": 1}).status == 404
    terms = {"version": "t1", "groups": [{"name": "x", "terms": ["最好"]}]}
    b = call(fn, "PUT", "/api/settings/banned_terms", "ops", body={"value": terms})
    assert b.status == 200 and (b.body["banned_terms"]["version"], b.body["banned_terms"]["terms"]) == ("t1", 1)


def test_board_columns_cards_and_owners(deps, handler):
    world = build(deps)
    fn = handler("api")
    call(fn, "POST", f"/api/review/tasks/{world['task_id']}/claim", "reviewer")
    cols = call(fn, "GET", "/api/board", "ops").body["columns"]
    assert set(cols) == {"uploaded", "validating", "needs_fix", "pre_review", "final_review", "scheduled",
                         "publishing", "published", "failed"}
    fix = {c["id"]: c for c in cols["needs_fix"]}
    assert fix["m-a/SPU-1"]["owner"] == "ed-a"                       # the assigned editor
    assert fix["m-a/SPU-1"]["blocker"]["code"] == "FIELD_REQUIRED"
    assert fix["m-b/SPU-1"]["owner"] is None                         # nobody assigned to m-b
    review = {c["id"]: c for c in cols["pre_review"]}
    assert review["m-a/SPU-2"]["owner"] == "u-rv"                    # the claiming reviewer
    assert review["m-a/SPU-2"]["blocker"]["code"] == "BOARD_WAITING_REVIEW"
    assert review["m-a/SPU-2"]["blocker"]["message_zh"] == "等待初审 (u-rv)"          # the stage in Chinese
    assert review["m-a/SPU-2"]["blocker"]["message"] == "Waiting for the pre review (u-rv)"
    assert review["m-a/SPU-2"]["age_s"] == 3600                      # pinned clock: 02:30 - 01:30
    only_a = call(fn, "GET", "/api/board", "ops", query={"merchant_id": "m-a"}).body["columns"]
    assert {c["merchant_id"] for col in only_a.values() for c in col} == {"m-a"}


def test_a_product_in_review_is_in_the_column_of_the_latest_stage_its_workflow_parked_a_task_for(deps, handler):
    """The review writes no task id or stage on the product: the board finds the task by its id."""
    from shangjia.pipeline import keys

    world = build(deps)
    fn = handler("api")
    pre = deps.store.get(*keys.task(world["task_id"]))
    deps.store.update(*keys.task(world["task_id"]), "SET #s = :d", names={"#s": "state"}, values={":d": "decided"})
    final_id = keys.task_id_for(pre["execution"], "final")
    deps.store.put({**pre, "pk": keys.task(final_id)[0], "sk": keys.task(final_id)[1], "task_id": final_id,
                    "stage": "final", "state": "open", "gsi1pk": "TASKS#final#open"})
    cols = call(fn, "GET", "/api/board", "ops").body["columns"]
    assert "m-a/SPU-2" not in {c["id"] for c in cols["pre_review"]}
    (card,) = [c for c in cols["final_review"] if c["id"] == "m-a/SPU-2"]
    assert "final" in card["blocker"]["message"] and card["blocker"]["message_zh"].startswith("等待终审"), card["blocker"]
    call(fn, "POST", f"/api/review/tasks/{final_id}/claim", "reviewer")
    cols = call(fn, "GET", "/api/board", "ops").body["columns"]
    assert [c["owner"] for c in cols["final_review"] if c["id"] == "m-a/SPU-2"] == ["u-rv"]
    # an escalated final task (its reviewer's time ran out) takes over
    esc_id = keys.task_id_for(pre["execution"], "final#esc")
    deps.store.put({**pre, "pk": keys.task(esc_id)[0], "sk": keys.task(esc_id)[1], "task_id": esc_id,
                    "stage": "final", "escalated": True, "state": "open", "queue": "ops"})
    cols = call(fn, "GET", "/api/board", "ops").body["columns"]
    assert [c["owner"] for c in cols["final_review"] if c["id"] == "m-a/SPU-2"] == ["ed-a"], "nobody claimed it"


def test_resubmit_sends_the_stored_revision_to_validation_once(aws, deps, handler):
    import json

    build(deps)
    fn = handler("api")
    a = call(fn, "POST", "/api/products/m-a/SPU-1/resubmit", "editor_a")
    b = call(fn, "POST", "/api/products/m-a/SPU-1/resubmit", "merchant_a")       # a retry: the same batch
    assert a.status == b.status == 200 and a.body == b.body and a.body["status"] == "uploaded"
    sqs = boto3.client("sqs", region_name="us-east-1")
    msgs = sqs.receive_message(QueueUrl=aws.queues["validate"], MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 1
    body = json.loads(msgs[0]["Body"])
    assert body["batch_id"] == a.body["batch_id"] and body["raw"]["rows"][0]["cells"]["cost_price"] == "50"
    batches = call(fn, "GET", "/api/batches", "merchant_a").body["items"]
    assert a.body["batch_id"] in {x["batch_id"] for x in batches}
    busy = call(fn, "POST", "/api/products/m-a/SPU-2/resubmit", "merchant_a")      # in review: not now
    assert busy.status == 409 and busy.body["code"] == "API_NOT_RESUBMITTABLE"
