"""Codes raised while reading and validating merchant sheets (owned by the sheets area)."""

from . import CODES, ErrorCode as E

CODES.declare(
    "sheet",
    E("SHEET_UNREADABLE", "error", "无法读取文件：{reason}", "The file cannot be read: {reason}",
      "请用 Excel/WPS 另存为 .xlsx 后重新上传", "Save it again as .xlsx in Excel or WPS and re-upload"),
    E("SHEET_NO_HEADER", "error", "找不到表头行", "No header row found",
      "请使用商品模板，第一行为表头", "Use the product template; its header row comes first"),
    E("SHEET_MISSING_COLUMN", "error", "缺少必填列 {field}", "Required column {field} is missing",
      "请从模板复制该列", "Copy the column from the template"),
    E("FIELD_REQUIRED", "error", "{field} 不能为空", "{field} is required",
      "请填写该单元格", "Fill in this cell"),
    E("FIELD_TYPE", "error", "{field} 的值 {value} 不是有效的{expected}", "{field} value {value} is not a valid {expected}",
      "请按模板格式填写", "Use the format shown in the template"),
)
