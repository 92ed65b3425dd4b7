"""The `shangjia` commands the README promises, through the CLI entry (`shangjia.cli:main`), against
moto in process (the same provisioning as the local cloud): `merchant add`, `redrive`, `codes`."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import boto3
import pytest

from shangjia.cli import main
from shangjia.pipeline.merchants import get_merchant, is_vip


def _run(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


# ---- merchant add ------------------------------------------------------------------------------

@pytest.mark.parametrize("sales, tier", [(5_000_001, "vip"), (9_000_000, "vip"), (5_000_000, "ordinary"),
                                         (200_000, "ordinary")])
def test_merchant_add_over_5_million_cny_makes_a_vip(aws, deps, capsys, sales, tier):
    out = _run(capsys, "merchant", "add", "m-cli-1", "--name", "杭州小店", "--annual-sales", str(sales),
               "--channels", "own_shop,wechat")
    printed = json.loads(out)
    assert printed["merchant_id"] == "m-cli-1" and printed["name"] == "杭州小店" and printed["tier"] == tier
    stored = get_merchant(deps.store, "m-cli-1")                      # the effect, read back from DynamoDB
    assert stored["tier"] == tier and is_vip(stored) == (tier == "vip")
    assert int(stored["annual_sales_fen"]) == sales * 100
    assert stored["channels"] == ["own_shop", "wechat"]


def test_merchant_add_defaults_to_every_channel(aws, deps, capsys):
    _run(capsys, "merchant", "add", "m-cli-2", "--name", "N", "--annual-sales", "1")
    assert get_merchant(deps.store, "m-cli-2")["channels"] == ["own_shop", "wechat", "douyin"]


# ---- redrive -----------------------------------------------------------------------------------

def _dead_letter(aws, queue: str, bodies: list[str]) -> None:
    """Deliver each message maxReceiveCount times without deleting it (a failing consumer): SQS
    (moto) moves it to the queue's DLQ, as it would on AWS."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url, dlq = aws.queues[queue], aws.queues[f"{queue}_dlq"]
    for i in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": b}
                                                      for j, b in enumerate(bodies[i:i + 10])])
    for _ in range(50):                                   # a bound: 5 receives each are enough
        if _depth(dlq) == len(bodies):
            break
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert _depth(dlq) == len(bodies) and _depth(url) == 0


def _depth(url: str) -> int:
    a = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in a["Attributes"].values())


def _drain(url: str) -> list[str]:
    sqs, out = boto3.client("sqs", region_name="us-east-1"), []
    for _ in range(20):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not got:
            break
        out += [m["Body"] for m in got]
    return out


def test_redrive_moves_every_dead_letter_back_to_its_queue(aws, capsys):
    bodies = [json.dumps({"merchant_id": "m1", "spu_code": f"P{i}", "n": i}, ensure_ascii=False) for i in range(23)]
    _dead_letter(aws, "publish_wechat", bodies)
    out = _run(capsys, "redrive", "publish_wechat")
    assert out.strip() == "moved 23 messages from publish_wechat_dlq back to publish_wechat"
    assert _depth(aws.queues["publish_wechat_dlq"]) == 0
    assert sorted(_drain(aws.queues["publish_wechat"])) == sorted(bodies)      # each once, body intact


def test_redrive_max_moves_at_most_that_many(aws, capsys):
    bodies = [f"msg-{i}" for i in range(12)]
    _dead_letter(aws, "media", bodies)
    out = _run(capsys, "redrive", "media", "--max", "5")
    assert out.strip() == "moved 5 messages from media_dlq back to media"
    moved = _drain(aws.queues["media"])
    assert len(moved) == 5 and set(moved) <= set(bodies)
    assert _depth(aws.queues["media_dlq"]) == 7


def test_redrive_of_an_empty_dlq_moves_nothing(aws, capsys):
    assert _run(capsys, "redrive", "intake").strip() == "moved 0 messages from intake_dlq back to intake"


# ---- codes -------------------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
# written by hand: a few rows exactly as a merchant reads them
KNOWN = {
    "PIPE_IMAGE_MISSING": ("error", "找不到图片 {value}", "Image {value} was not found"),
    "MEDIA_ZIP_ENCRYPTED": ("error", None, None),
    "MEDIA_ZIP_TOO_LARGE": ("error", None, None),
    "SKU_DUPLICATE": ("error", None, None),
}


def _codes_in_use() -> set[str]:
    """Every code the source raises (`finding("CODE", ...)`), found by reading the source: each
    must be in the table a merchant or an operator looks codes up in."""
    from pathlib import Path

    import shangjia

    root = Path(shangjia.__file__).parent
    return {m for p in root.rglob("*.py") for m in re.findall(r'finding\(\s*"([A-Z][A-Z0-9_]+)"', p.read_text("utf-8"))}


def _all_codes() -> set[str]:
    from shangjia.errors import CODES

    return {c.code for c in CODES.all()}


def test_codes_json_lists_every_code_in_chinese_and_english(capsys):
    codes = json.loads(_run(capsys, "codes", "--json"))
    by_code = {c["code"]: c for c in codes}
    assert len(by_code) == len(codes), "a code listed twice"
    assert set(by_code) == _all_codes()
    in_use = _codes_in_use()
    assert len(in_use) > 50 and in_use <= set(by_code), f"raised but not listed: {in_use - set(by_code)}"
    for c in codes:
        assert c["severity"] in ("error", "warning"), c
        assert CJK.search(c["zh"]) and c["en"] and not CJK.search(c["en"]), c
    for code, (sev, zh, en) in KNOWN.items():
        assert by_code[code]["severity"] == sev
        assert zh is None or by_code[code]["zh"] == zh
        assert en is None or by_code[code]["en"] == en


def test_codes_table_has_a_row_per_code_with_both_languages(capsys):
    out = _run(capsys, "codes")
    lines = out.splitlines()
    assert lines[0] == "| code | area | severity | 中文 | English | hint |"
    rows = [r for r in lines if r.startswith("| `")]
    listed = [re.match(r"\| `([A-Z0-9_]+)`", r).group(1) for r in rows]
    assert len(listed) == len(set(listed)) and set(listed) == _all_codes() >= _codes_in_use()
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")]
        assert CJK.search(cells[3]) and cells[4] and not CJK.search(cells[4]), r
    assert "| `PIPE_IMAGE_MISSING` | pipeline | error | 找不到图片 {value} | Image {value} was not found |" in out


def test_the_installed_command_runs_codes():
    """The console script's target (`shangjia = shangjia.cli:main`) in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from shangjia.cli import main; sys.exit(main())",
                           "codes", "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert {c["code"] for c in json.loads(proc.stdout)} == _all_codes()
