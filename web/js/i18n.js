// Every visible string goes through t(): one dictionary per language, Chinese by default.
const zh = {
  "app.name": "上架",
  "app.tagline": "商品批量上架平台",
  "lang.switch": "English",
  "nav.portal": "商家中心", "nav.board": "看板", "nav.review": "审核", "nav.failures": "失败周报", "nav.ops": "运维",
  "nav.signout": "退出登录",
  "role.merchant": "商家", "role.editor": "商品编辑", "role.reviewer": "审核员", "role.ops": "运营",
  "common.loading": "加载中…", "common.retry": "重试", "common.refresh": "刷新", "common.close": "关闭",
  "common.none": "暂无", "common.all": "全部", "common.save": "保存", "common.saved": "已保存",
  "common.updated": "更新于 {time}", "common.error": "出错了：{message}",
  "common.unavailable": "此功能暂不可用（接口 {path} 尚未开放）。",
  "common.forbidden": "你的角色（{role}）无权查看此页面。",
  "common.merchant": "商家", "common.owner": "负责人", "common.age": "停留", "common.status": "状态",
  "common.download": "下载", "common.created": "创建时间", "common.total": "合计",
  "age.s": "{n} 秒", "age.m": "{n} 分钟", "age.h": "{n} 小时", "age.d": "{n} 天",
  "signin.title": "登录上架平台", "signin.username": "用户名", "signin.password": "密码",
  "signin.submit": "登录", "signin.busy": "正在登录…", "signin.failed": "用户名或密码不正确",
  "signin.expired": "登录已过期，请重新登录",
  "signin.hint": "商家、商品编辑、审核员和运营使用同一入口，登录后按角色显示页面。",
  "portal.title": "商家中心", "portal.upload": "上传商品表格",
  "portal.drop": "把商品表格（.xlsx / .csv）和图片，或一个 zip 压缩包拖到这里",
  "portal.choose": "选择文件", "portal.start": "开始上传", "portal.clear": "清空",
  "portal.template": "下载上传模板",
  "portal.files": "待上传 {n} 个文件", "portal.files.done": "{n} 个文件已全部上传", "portal.file.waiting": "等待", "portal.file.done": "已上传",
  "portal.file.failed": "失败：{message}", "portal.file.uploading": "上传中 {pct}%",
  "portal.merchant": "代哪个商家上传", "portal.merchant.pick": "选择商家",
  "portal.batches": "我的批次", "portal.batches.empty": "还没有批次。上传一个商品表格开始吧。",
  "portal.batch.file": "文件", "portal.batch.progress": "进度", "portal.batch.products": "商品数",
  "portal.batch.open": "查看", "portal.batch.title": "批次 {id}",
  "portal.errors": "错误明细", "portal.errors.none": "这个批次没有错误。",
  "portal.errors.row": "行", "portal.errors.column": "列", "portal.errors.code": "错误码",
  "portal.errors.message": "问题", "portal.errors.hint": "修改建议", "portal.errors.spu": "商品编码",
  "portal.report": "下载错误报告", "portal.report.busy": "正在生成链接…", "portal.report.pending": "报告还在生成",
  "portal.file.too_big": "文件超过 {mb} MB 上限",
  "portal.listings": "各渠道上架情况", "portal.listings.none": "还没有渠道上架记录。",
  "portal.readiness": "渠道就绪", "portal.ready": "就绪", "portal.notready": "未就绪",
  "portal.product": "商品", "portal.channel": "渠道", "portal.state": "状态", "portal.reason": "原因",
  "portal.notices": "通知", "portal.notices.none": "暂无通知。",
  "stage.uploaded": "已上传", "stage.validating": "校验中", "stage.needs_fix": "待修改",
  "stage.in_review": "审核中", "stage.pre_review": "初审", "stage.final_review": "终审",
  "stage.approved": "已通过", "stage.rejected": "已驳回", "stage.scheduled": "排期中",
  "stage.publishing": "发布中", "stage.published": "已发布", "stage.failed": "失败",
  "stage.processing": "处理中", "stage.settled": "已完成", "stage.refused": "被拒收", "stage.valid": "校验通过",
  "stage.invalid": "有错误", "stage.done": "已完成", "stage.completed": "已完成", "stage.partial": "部分完成",
  "channel.own_shop": "自营商城", "channel.wechat": "微信小店", "channel.douyin": "抖店",
  "board.title": "上架看板", "board.filter.merchant": "商家", "board.filter.category": "类目",
  "board.filter.channel": "渠道", "board.filter.owner": "负责人", "board.filter.apply": "筛选",
  "board.filter.reset": "重置", "board.empty": "空", "board.kind.batch": "批次", "board.kind.product": "商品",
  "board.blocker": "阻塞：{reason}", "board.live": "实时刷新", "board.cards": "{n} 张卡片",
  "review.title": "审核工作台", "review.queue": "待审队列", "review.stage.pre": "初审", "review.stage.final": "终审",
  "review.mine": "我认领的", "review.empty": "队列是空的，辛苦了。", "review.pick": "从左侧选择一个任务（j / k 切换）。",
  "review.claim": "认领 (c)", "review.approve": "通过 (a)", "review.reject": "驳回 (r)",
  "review.claimed": "已由 {who} 认领", "review.claimed.me": "已由我认领", "review.open": "待认领",
  "review.findings": "自动检查结果", "review.findings.none": "自动检查没有发现问题。",
  "review.preview": "买家看到的详情页", "review.preview.mobile": "手机", "review.preview.pc": "电脑",
  "review.preview.none": "暂无预览。", "review.images": "图片",
  "review.reasons": "驳回原因（至少选一个）", "review.note": "备注（可选）", "review.confirm": "确认驳回",
  "review.cancel": "取消", "review.decided": "已{decision}：{spu}", "review.decision.approve": "通过",
  "review.decision.reject": "驳回", "review.sla": "截止 {time}",
  "review.help": "快捷键", "review.help.j": "下一个任务", "review.help.k": "上一个任务", "review.help.c": "认领当前任务",
  "review.help.a": "通过", "review.help.r": "驳回（选择原因）", "review.help.q": "显示 / 隐藏帮助",
  "review.help.esc": "关闭对话框",
  "reason.REVIEW_TITLE_MISLEADING": "标题夸大或误导", "reason.REVIEW_IMAGE_QUALITY": "图片不清晰或不合规",
  "reason.REVIEW_PRICE_SUSPICIOUS": "价格异常", "reason.REVIEW_CATEGORY_WRONG": "类目错误",
  "reason.REVIEW_PROHIBITED": "禁售或违规商品", "reason.REVIEW_DESCRIPTION_INCOMPLETE": "描述不完整",
  "failures.title": "失败周报", "failures.week": "周次", "failures.empty": "还没有周报。每周一自动生成，生成后显示在这里。",
  "failures.by_code": "按根因（错误码）", "failures.by_category": "按类目", "failures.by_merchant": "按商家",
  "failures.by_channel": "按渠道", "failures.trend": "与上周对比", "failures.total": "本周失败 {n} 个",
  "failures.prev": "上周 {n} 个", "failures.this_week": "本周", "failures.prev_week": "上周",
  "failures.examples": "示例", "failures.no_channel": "未到渠道", "failures.xlsx": "下载 Excel 版",
  "ops.title": "运维", "ops.dlq": "死信队列", "ops.dlq.queue": "队列", "ops.dlq.depth": "积压",
  "ops.dlq.redrive": "重新投递", "ops.dlq.moved": "已重新投递 {n} 条", "ops.dlq.empty": "没有死信。",
  "ops.settings": "设置", "ops.settings.audit": "VIP 抽检比例（0–1）", "ops.settings.banned": "违禁词表（JSON 文档）", "ops.settings.default": "默认值：{value}",
  "ops.settings.json": "不是合法的 JSON：{message}",
};

const en = {
  "app.name": "Shangjia",
  "app.tagline": "Bulk product listing",
  "lang.switch": "中文",
  "nav.portal": "Merchant portal", "nav.board": "Kanban", "nav.review": "Review", "nav.failures": "Failures", "nav.ops": "Ops",
  "nav.signout": "Sign out",
  "role.merchant": "Merchant", "role.editor": "Editor", "role.reviewer": "Reviewer", "role.ops": "Ops",
  "common.loading": "Loading…", "common.retry": "Retry", "common.refresh": "Refresh", "common.close": "Close",
  "common.none": "None", "common.all": "All", "common.save": "Save", "common.saved": "Saved",
  "common.updated": "Updated {time}", "common.error": "Something went wrong: {message}",
  "common.unavailable": "Not available yet (the route {path} is not open).",
  "common.forbidden": "Your role ({role}) may not see this page.",
  "common.merchant": "Merchant", "common.owner": "Owner", "common.age": "Age", "common.status": "Status",
  "common.download": "Download", "common.created": "Created", "common.total": "Total",
  "age.s": "{n}s", "age.m": "{n} min", "age.h": "{n} h", "age.d": "{n} d",
  "signin.title": "Sign in to Shangjia", "signin.username": "Username", "signin.password": "Password",
  "signin.submit": "Sign in", "signin.busy": "Signing in…", "signin.failed": "The username or password is incorrect",
  "signin.expired": "Your sign-in expired; sign in again",
  "signin.hint": "Merchants, editors, reviewers and ops share one door; pages follow your role.",
  "portal.title": "Merchant portal", "portal.upload": "Upload a product sheet",
  "portal.drop": "Drop a product sheet (.xlsx / .csv) and its images, or one zip, here",
  "portal.choose": "Choose files", "portal.start": "Upload", "portal.clear": "Clear",
  "portal.template": "Download the template",
  "portal.files": "{n} files to upload", "portal.files.done": "All {n} files uploaded", "portal.file.waiting": "Waiting", "portal.file.done": "Uploaded",
  "portal.file.failed": "Failed: {message}", "portal.file.uploading": "Uploading {pct}%",
  "portal.merchant": "Upload for merchant", "portal.merchant.pick": "Pick a merchant",
  "portal.batches": "Batches", "portal.batches.empty": "No batches yet. Upload a product sheet to start.",
  "portal.batch.file": "File", "portal.batch.progress": "Progress", "portal.batch.products": "Products",
  "portal.batch.open": "Open", "portal.batch.title": "Batch {id}",
  "portal.errors": "Errors", "portal.errors.none": "This batch has no errors.",
  "portal.errors.row": "Row", "portal.errors.column": "Column", "portal.errors.code": "Code",
  "portal.errors.message": "Problem", "portal.errors.hint": "How to fix", "portal.errors.spu": "SPU",
  "portal.report": "Download the error report", "portal.report.busy": "Preparing the link…", "portal.report.pending": "The report is not written yet",
  "portal.file.too_big": "The file is over the {mb} MB limit",
  "portal.listings": "Listings per channel", "portal.listings.none": "No channel listings yet.",
  "portal.readiness": "Channel readiness", "portal.ready": "Ready", "portal.notready": "Not ready",
  "portal.product": "Product", "portal.channel": "Channel", "portal.state": "State", "portal.reason": "Reason",
  "portal.notices": "Notices", "portal.notices.none": "No notices yet.",
  "stage.uploaded": "Uploaded", "stage.validating": "Validating", "stage.needs_fix": "Needs fix",
  "stage.in_review": "In review", "stage.pre_review": "Pre-review", "stage.final_review": "Final review",
  "stage.approved": "Approved", "stage.rejected": "Rejected", "stage.scheduled": "Scheduled",
  "stage.publishing": "Publishing", "stage.published": "Published", "stage.failed": "Failed",
  "stage.processing": "Processing", "stage.settled": "Settled", "stage.refused": "Refused", "stage.valid": "Valid",
  "stage.invalid": "Has errors", "stage.done": "Done", "stage.completed": "Completed", "stage.partial": "Partly done",
  "channel.own_shop": "Own shop", "channel.wechat": "WeChat shop", "channel.douyin": "Douyin shop",
  "board.title": "Listing board", "board.filter.merchant": "Merchant", "board.filter.category": "Category",
  "board.filter.channel": "Channel", "board.filter.owner": "Owner", "board.filter.apply": "Filter",
  "board.filter.reset": "Reset", "board.empty": "Empty", "board.kind.batch": "Batch", "board.kind.product": "Product",
  "board.blocker": "Blocked: {reason}", "board.live": "Live refresh", "board.cards": "{n} cards",
  "review.title": "Review desk", "review.queue": "Queue", "review.stage.pre": "Pre-review", "review.stage.final": "Final review",
  "review.mine": "Claimed by me", "review.empty": "The queue is empty.", "review.pick": "Pick a task on the left (j / k to move).",
  "review.claim": "Claim (c)", "review.approve": "Approve (a)", "review.reject": "Reject (r)",
  "review.claimed": "Claimed by {who}", "review.claimed.me": "Claimed by me", "review.open": "Open",
  "review.findings": "Automated findings", "review.findings.none": "The automated checks found nothing.",
  "review.preview": "The detail page as a buyer sees it", "review.preview.mobile": "Mobile", "review.preview.pc": "PC",
  "review.preview.none": "No preview yet.", "review.images": "Images",
  "review.reasons": "Reasons (pick at least one)", "review.note": "Note (optional)", "review.confirm": "Reject",
  "review.cancel": "Cancel", "review.decided": "{decision}: {spu}", "review.decision.approve": "Approved",
  "review.decision.reject": "Rejected", "review.sla": "Due {time}",
  "review.help": "Keyboard shortcuts", "review.help.j": "Next task", "review.help.k": "Previous task",
  "review.help.c": "Claim this task", "review.help.a": "Approve", "review.help.r": "Reject (pick reasons)",
  "review.help.q": "Show / hide this help", "review.help.esc": "Close the dialog",
  "reason.REVIEW_TITLE_MISLEADING": "Misleading or exaggerated title", "reason.REVIEW_IMAGE_QUALITY": "Poor or non-compliant images",
  "reason.REVIEW_PRICE_SUSPICIOUS": "Suspicious price", "reason.REVIEW_CATEGORY_WRONG": "Wrong category",
  "reason.REVIEW_PROHIBITED": "Prohibited product", "reason.REVIEW_DESCRIPTION_INCOMPLETE": "Incomplete description",
  "failures.title": "Weekly failure report", "failures.week": "Week",
  "failures.empty": "No weekly report yet. One is written every Monday and shows here.",
  "failures.by_code": "By root cause (error code)", "failures.by_category": "By category", "failures.by_merchant": "By merchant",
  "failures.by_channel": "By channel", "failures.trend": "Against the previous week", "failures.total": "{n} failures this week",
  "failures.prev": "{n} the week before", "failures.this_week": "This week", "failures.prev_week": "Previous week",
  "failures.examples": "Examples", "failures.no_channel": "Before any channel", "failures.xlsx": "Download as Excel",
  "ops.title": "Operations", "ops.dlq": "Dead-letter queues", "ops.dlq.queue": "Queue", "ops.dlq.depth": "Depth",
  "ops.dlq.redrive": "Redrive", "ops.dlq.moved": "Redrove {n} messages", "ops.dlq.empty": "No dead letters.",
  "ops.settings": "Settings", "ops.settings.audit": "VIP audit sample rate (0–1)", "ops.settings.banned": "Banned-term list (JSON document)", "ops.settings.default": "Default: {value}",
  "ops.settings.json": "Not valid JSON: {message}",
};

export const DICTS = { zh, en };
let lang = localStorage.getItem("sj.lang") === "en" ? "en" : "zh";

export function getLang() { return lang; }

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  localStorage.setItem("sj.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** The string for key in the current language, {name} placeholders filled; unknown keys show as is. */
export function t(key, params = {}) {
  const s = DICTS[lang][key] ?? DICTS.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (params[k] ?? `{${k}}`));
}

/** A stage / channel / reason label when the dictionary knows it, else the raw value. */
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in DICTS[lang] ? t(key) : String(value ?? "");
}

/** The message of an API error or finding in the current language. */
export function msg(obj) {
  if (!obj) return "";
  if (lang === "zh") return obj.message_zh || obj.message || obj.code || "";
  return obj.message || obj.message_en || obj.message_zh || obj.code || "";
}

export function hint(obj) {
  if (!obj) return "";
  return lang === "zh" ? (obj.hint_zh || obj.hint || "") : (obj.hint_en || obj.hint || obj.hint_zh || "");
}

setLang(lang);
