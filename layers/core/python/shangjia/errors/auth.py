"""Codes of sign-in (``POST /auth/login``, ``POST /auth/refresh``) and ``shangjia users``."""

from . import CODES, ErrorCode as E

CODES.declare(
    "auth",
    E("AUTH_FAILED", "error", "用户名或密码不正确", "The username or password is incorrect",
      "请检查用户名和密码；忘记密码请联系运营重置", "Check the username and password; ask ops to reset a forgotten password"),
    E("AUTH_REFRESH_FAILED", "error", "登录已过期，请重新登录", "The sign-in has expired; sign in again",
      "刷新令牌无效或已过期：请用用户名和密码重新登录", "The refresh token is invalid or expired: sign in with username and password"),
    E("AUTH_CHALLENGE", "error", "此账号需要完成额外验证（{challenge}），本登录接口暂不支持",
      "This account must complete an extra step ({challenge}) that this sign-in does not support",
      "请联系运营", "Ask ops"),
    E("AUTH_BODY_NOT_JSON", "error", "请求体不是合法的 JSON 对象（{reason}）", "The request body is not a JSON object ({reason})",
      "请发送 JSON 对象，例如 {{\"username\": \"...\", \"password\": \"...\"}}",
      "Send a JSON object, e.g. {{\"username\": \"...\", \"password\": \"...\"}}"),
    E("AUTH_FIELD_MISSING", "error", "请求体缺少字段 {field}", "Field {field} of the request body is missing",
      "请填写该字段（非空字符串）", "Fill the field (a non-empty string)"),
    E("AUTH_FIELD_INVALID", "error", "请求体字段 {field} 无效：{reason}", "Field {field} of the request body is invalid: {reason}",
      "请按接口说明填写该字段", "Fill the field as the API describes"),
    E("AUTH_ROLE_UNKNOWN", "error", "未知角色 {role}（可选：{roles}）", "Unknown role {role} (one of: {roles})",
      "请选择一个已有角色", "Pick one of the roles"),
    E("AUTH_MERCHANT_REQUIRED", "error", "商家用户必须指定商家编号", "A merchant user needs a merchant id",
      "请加上 --merchant <商家编号>", "Add --merchant <merchant id>"),
    E("AUTH_MERCHANT_NOT_ALLOWED", "error", "只有商家用户带商家编号（角色 {role}）",
      "Only merchant users carry a merchant id (role {role})",
      "去掉 --merchant；编辑负责的商家由运营分配", "Drop --merchant; ops assigns an editor's merchants"),
    E("AUTH_PASSWORD_WEAK", "error", "密码不符合用户池的密码策略（{reason}）", "The password does not meet the pool's policy ({reason})",
      "至少 12 位，含大写、小写字母、数字和符号；或不指定密码由系统生成",
      "At least 12 characters with upper and lower case letters, a digit and a symbol; or omit it to get one generated"),
    E("AUTH_USER_EXISTS", "error", "用户 {username} 已存在", "User {username} already exists",
      "换一个用户名", "Pick another username"),
)
