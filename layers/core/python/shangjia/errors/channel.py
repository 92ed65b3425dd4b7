"""Codes for a product measured against a sales channel's own rules (``shangjia.channels``).

Raised by ``channels.readiness`` when a product is checked for the own shop, the WeChat Channels
shop (微信小店) or the Douyin shop (抖店), and by ``channels.categories`` when our category has
no counterpart on a channel. Every message starts with the channel's name
(``{channel_zh}`` / ``{channel_en}``) and every finding carries ``channel`` (its key:
own_shop | wechat | douyin). The platforms' own error numbers are named where a rule mirrors one.
"""

from . import CODES, ErrorCode as E

CODES.declare(
    "channel",
    # --- category mapping (data: shangjia/data/channel_categories.json) ----------------------
    E("CHANNEL_CATEGORY_UNMAPPED", "error", "{channel_zh}：类目 {value} 尚未对应到该平台的类目{reason_zh}",
      "{channel_en}: category {value} has no category mapped on this platform{reason_en}",
      "请改选已开通的类目，或联系运营在类目对照表中补充该类目",
      "Choose a category the channel supports, or ask ops to add this one to the channel category map"),
    E("CHANNEL_PROPERTY_MISSING", "error", "{channel_zh}：类目 {category} 要求填写属性“{attribute}”",
      "{channel_en}: category {category} requires the attribute \"{attribute}\"",
      "请在“{source_zh}”中填写该属性", "Fill it in under {source_en}"),
    E("CHANNEL_PROPERTY_VALUE", "error", "{channel_zh}：属性“{attribute}”的值 {value} 不在平台可选值中（可选：{choices}）",
      "{channel_en}: \"{value}\" is not an allowed value of the attribute \"{attribute}\" (allowed: {choices})",
      "请改为平台可选值之一", "Use one of the allowed values"),
    # --- title ---------------------------------------------------------------------------------
    E("CHANNEL_TITLE_MISSING", "error", "{channel_zh}：商品没有标题", "{channel_en}: the product has no title",
      "请填写商品标题", "Fill in the title"),
    E("CHANNEL_TITLE_TOO_SHORT", "error", "{channel_zh}：标题的有效字符（汉字、字母、数字）只有 {count} 个，至少需要 {min} 个",
      "{channel_en}: the title has {count} effective characters (Chinese, letters, digits); at least {min} are needed",
      "请补充标题内容（标点和空格不计入）", "Lengthen the title (punctuation and spaces do not count)"),
    E("CHANNEL_TITLE_TOO_LONG", "error", "{channel_zh}：标题 {length} 个字符，超过上限 {limit} 个",
      "{channel_en}: the title is {length} characters long, over the limit of {limit}",
      "请缩短标题", "Shorten the title"),
    E("CHANNEL_TITLE_TOO_WIDE", "error", "{channel_zh}：标题长度 {length}（汉字按 2 计），超过上限 {limit}（即 {limit_cjk} 个汉字）",
      "{channel_en}: the title counts {length} (a Chinese character counts 2), over the limit of {limit} ({limit_cjk} Chinese characters)",
      "请缩短标题", "Shorten the title"),
    E("CHANNEL_TITLE_ONLY_ALNUM", "error", "{channel_zh}：标题不能只由字母、数字和符号组成",
      "{channel_en}: the title may not consist only of letters, digits and symbols",
      "请在标题中加入中文商品名称", "Add the product's Chinese name to the title"),
    E("CHANNEL_TITLE_EMOJI", "error", "{channel_zh}：标题不能含有表情符号（{emoji}）",
      "{channel_en}: the title may not contain emoji ({emoji})",
      "请删除标题中的表情符号", "Remove the emoji from the title"),
    # --- images --------------------------------------------------------------------------------
    E("CHANNEL_IMAGES_TOO_FEW", "error", "{channel_zh}：主图和轮播图共 {count} 张（去重后），至少需要 {min} 张{why_zh}",
      "{channel_en}: the main and gallery images number {count} (duplicates removed); at least {min} are needed{why_en}",
      "请补充不重复的轮播图", "Add more distinct gallery images"),
    # --- SKUs, specs, prices -------------------------------------------------------------------
    E("CHANNEL_SKU_COUNT", "error", "{channel_zh}：商品有 {count} 个SKU，平台要求 {min}–{max} 个{pc_zh}",
      "{channel_en}: the product has {count} SKUs; the platform takes {min}–{max}{pc_en}",
      "请拆分商品或减少规格组合", "Split the product or reduce its spec combinations"),
    E("CHANNEL_PRICE_NOT_POSITIVE", "error", "{channel_zh}：SKU {value} 的售价不大于 0，平台不接受{pc_zh}",
      "{channel_en}: SKU {value} is not priced above 0, which the platform refuses{pc_en}",
      "请填写大于 0 的售价", "Enter a price above 0"),
    E("CHANNEL_MARKET_PRICE_NOT_ABOVE", "error", "{channel_zh}：SKU {value} 的划线价 {market} 低于售价 {price}{pc_zh}",
      "{channel_en}: SKU {value} has a market price of {market}, below its price of {price}{pc_en}",
      "划线价须高于售价（与售价相同时不显示划线价）",
      "The market price must be above the price (when equal, no market price is shown)"),
    E("CHANNEL_SKU_ATTR_TOO_LONG", "error", "{channel_zh}：规格{part_zh}“{value}”有 {length} 个字符，上限 {limit} 个",
      "{channel_en}: the spec {part_en} \"{value}\" is {length} characters long; the limit is {limit}",
      "请缩短规格名或规格值", "Shorten the spec name or value"),
    E("CHANNEL_SKU_CODE_SHORTENED", "warning", "{channel_zh}：SKU编码 {value} 超过 {limit} 个字符，平台上显示为 {shown}",
      "{channel_en}: SKU code {value} is longer than {limit} characters; the platform shows it as {shown}",
      "订单仍按完整的SKU编码（外部SKU ID）对应；如需在平台后台看到原编码，请使用不超过 {limit} 个字符的编码",
      "Orders still match on the full SKU code (the external SKU id); use codes of at most {limit} characters to see them unchanged in the platform's back office"),
    E("CHANNEL_SPEC_TOO_MANY_DIMENSIONS", "error", "{channel_zh}：商品有 {count} 个规格维度（{names}），平台最多 {limit} 个",
      "{channel_en}: the product has {count} spec dimensions ({names}); the platform takes at most {limit}",
      "请合并规格维度（如把“颜色”和“款式”合为一个）", "Merge spec dimensions (e.g. colour and style into one)"),
    E("CHANNEL_SPEC_GRID_MISMATCH", "error", "{channel_zh}：规格组合共 {combinations} 种，但SKU有 {count} 个；平台要求两者相等",
      "{channel_en}: the specs make {combinations} combinations but the product has {count} SKUs; the platform needs them equal",
      "每个规格组合需要且只需要一行SKU：请补齐缺少的组合或删除多余的行",
      "Give every spec combination exactly one SKU row: add the missing ones or remove the extra rows"),
    E("CHANNEL_SPEC_SEPARATOR", "error", "{channel_zh}：规格“{value}”含有平台的分隔符 {chars}",
      "{channel_en}: the spec \"{value}\" contains the platform's separator characters {chars}",
      "请去掉规格名和规格值中的 | , ^ 符号", "Remove | , ^ from spec names and values"),
)
