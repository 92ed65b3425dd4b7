"""Codes of the failure report and batch notices (``shangjia failures``, ``pipeline/failures.py``)."""

from . import CODES, ErrorCode as E

CODES.declare(
    "failures",
    E("FAILURE_STAGE_FAILED", "error", "处理失败（{stage}）：{error}", "Processing failed ({stage}): {error}",
      "运营会查看原因；修正后请重新上传该商品", "Ops looks at the cause; upload the product again once fixed"),
    E("FAILURE_WEEK_INVALID", "error", "周次 {value} 无效", "Week {value} is not valid",
      "请使用 ISO 周次，例如 2025-W07", "Use an ISO week such as 2025-W07"),
)
