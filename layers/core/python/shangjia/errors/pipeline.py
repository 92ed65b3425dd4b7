"""Codes raised by the pipeline itself: intake, state, review, publishing."""

from . import CODES, ErrorCode as E

CODES.declare(
    "pipeline",
    E("PIPE_NOT_A_SHEET", "warning", "已忽略非表格文件 {value}", "Ignored a non-sheet upload {value}",
      "表格请使用 .xlsx/.xlsm/.csv 扩展名", "Sheets must end in .xlsx, .xlsm or .csv"),
    E("PIPE_UNKNOWN_MERCHANT", "error", "未知商家 {value}", "Unknown merchant {value}",
      "请把文件放在以商家编号命名的目录下", "Put files under a folder named after your merchant id"),
    E("PIPE_SKU_CODE_TAKEN", "error", "SKU编码 {value} 已被商品 {owner} 使用",
      "SKU code {value} is already used by product {owner}",
      "每个SKU编码在店铺内必须唯一", "Every SKU code must be unique in your catalog"),
    E("PIPE_IMAGE_MISSING", "error", "找不到图片 {value}", "Image {value} was not found",
      "请把图片与表格一起上传，并使用相同的文件名", "Upload the image beside the sheet under the same name"),
    E("PIPE_REVIEW_REJECTED", "error", "审核未通过（{stage}）：{reason}", "Rejected at {stage}: {reason}",
      "按审核意见修改后重新上传", "Fix as the reviewer says and upload again"),
    E("PIPE_PUBLISH_FAILED", "error", "发布到 {channel} 失败：{reason}", "Publishing to {channel} failed: {reason}",
      "系统会自动重试；持续失败请联系运营", "Retried automatically; contact ops if it persists"),
    # A channel's own verdict on a listing (docs/channels.md, "Publishing semantics"): located on the
    # product with the platform's code and message; the product goes to needs_fix when every channel settled.
    E("PIPE_CHANNEL_REJECTED", "error", "{channel} 审核驳回（{reason_class}）：{reason}",
      "{channel} rejected the listing at audit ({reason_class}): {reason}",
      "按平台的驳回原因修改后重新上传；其他渠道不受影响", "Fix what the platform names and upload again; "
      "other channels are unaffected"),
    E("PIPE_CHANNEL_FAILED", "error", "{channel} 拒绝发布（错误码 {platform_code}）：{message_zh}",
      "{channel} refused the listing (code {platform_code}): {message_en}",
      "按错误信息修改商品或店铺设置后重新上传", "Fix the product or the shop's settings as the error says, "
      "then upload again"),
    E("PIPE_PRODUCT_BUSY", "error", "商品 {value} 的上一次上传仍在处理中（{status}）",
      "An earlier upload of product {value} is still in progress ({status})",
      "请等待其审核/发布完成后再上传修改", "Upload the change again once it is reviewed or published"),
    E("PIPE_PREVIEW_INCOMPLETE", "error", "详情页预览（{layout}）缺少标题或图片", "The {layout} detail preview lacks its title or images",
      "检查商品标题与图片是否上传成功", "Check that the title and the images were uploaded"),
    E("PIPE_PRODUCT_GONE", "error", "商品 {value} 已不存在", "Product {value} no longer exists",
      "请重新上传商品", "Upload the product again"),
    # Records too big for the stores they go to (shangjia/limits.py): located, never a retry loop.
    E("PIPE_CODE_TOO_LONG", "error", "商品编码过长（{size} 字节，系统上限 {limit} 字节），无法保存",
      "The product code is too long to store ({size} bytes; the limit is {limit})",
      "请使用不超过64个字符的商品编码", "Use a product code of at most 64 characters"),
    E("PIPE_PRODUCT_TOO_LARGE", "error", "商品数据过大（{size} 字节，上限 {limit} 字节）：共 {rows} 行",
      "The product is too large to process ({size} bytes; the limit is {limit}): {rows} rows",
      "请拆分SKU行或缩短过长的文字（如详情描述）", "Split its SKU rows or shorten long texts (such as the description)"),
    E("PIPE_PRODUCT_RESET", "error", "商品处理中断，已由运营 {actor} 重置（原状态 {status}）：{reason}",
      "Processing stopped; ops ({actor}) reset the product from {status}: {reason}",
      "请重新上传该商品", "Upload the product again"),
)
