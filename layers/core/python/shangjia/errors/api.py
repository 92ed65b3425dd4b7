"""Codes the API answers a request it cannot use or may not serve with (400, 401, 403, 404, 409)."""

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
    E("API_PARAM_INVALID", "error", "参数 {field} 无效：{reason}", "Parameter {field} is invalid: {reason}",
      "请按接口说明填写该参数", "Fill the parameter as the API describes"),
    E("API_UNAUTHENTICATED", "error", "未登录或登录已失效", "Not signed in, or the sign-in has expired",
      "请重新登录后再试", "Sign in again and retry"),
    E("AUTH_FORBIDDEN", "error", "您的角色（{role}）无权执行此操作", "Your role ({role}) may not do this",
      "如需此权限请联系运营", "Ask ops if you need this"),
    E("API_NOT_FOUND", "error", "找不到该对象", "Not found",
      "请检查链接或编号；只能查看您有权查看的商家的数据", "Check the link or id; only the merchants you may see are shown"),
    E("API_CONFLICT", "error", "操作未执行：{reason}", "Not done: {reason}",
      "请刷新后查看最新状态再试", "Refresh to see the current state, then retry"),
    E("API_NOT_RESUBMITTABLE", "error", "商品当前状态为 {status}，不能重新提交", "The product is {status} and cannot be resubmitted",
      "只有待修改（needs_fix）或被驳回（rejected）的商品可以重新提交", "Only a product that needs a fix or was rejected can be resubmitted"),
    # the board's blockers of a product that waits (not an error: where it is and for whom)
    E("BOARD_WAITING_REVIEW", "warning", "等待{stage_zh}{who}", "Waiting for the {stage} review{who}",
      "审核员在审核页认领并处理", "A reviewer claims and decides it on the review page"),
    E("BOARD_WAITING_WINDOW", "warning", "等待上架时段（{at}）", "Waiting for its publishing window ({at})",
      "到时自动发布", "It publishes by itself when the window opens"),
    E("BOARD_WAITING_CHANNEL", "warning", "等待渠道处理：{channels}", "Waiting for the channels: {channels}",
      "渠道审核结果会自动回传", "The platforms' verdicts arrive by themselves"),
    E("BOARD_WAITING_BATCH", "warning", "文件处理中（{status}）", "The file is being processed ({status})",
      "稍候片刻", "Wait a moment"),
)
