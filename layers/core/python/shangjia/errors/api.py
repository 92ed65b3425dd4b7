"""Codes the ops API answers a request it cannot use with (HTTP 400)."""

from . import CODES, ErrorCode as E

CODES.declare(
    "api",
    E("API_BODY_NOT_UTF8", "error", "请求体不是 UTF-8 编码的文本（{reason}）", "The request body is not UTF-8 text ({reason})",
      "请以 UTF-8 编码发送 JSON", "Send the JSON encoded as UTF-8"),
    E("API_BODY_NOT_JSON", "error", "请求体不是合法的 JSON（{reason}）", "The request body is not valid JSON ({reason})",
      "请发送一个 JSON 对象（键值对），例如含 decision 字段的决定", "Send a JSON object (name: value pairs), e.g. a decision with its decision field"),
    E("API_BODY_NOT_OBJECT", "error", "请求体必须是 JSON 对象，而不是 {kind}", "The request body must be a JSON object, not {kind}",
      "请发送一个 JSON 对象（键值对），例如含 decision 字段的决定", "Send a JSON object (name: value pairs), e.g. a decision with its decision field"),
    E("API_BODY_FIELD", "error", "请求体字段 {field} 无效：{reason}", "Field {field} of the request body is invalid: {reason}",
      "请按接口说明填写该字段", "Fill the field as the API describes"),
)
