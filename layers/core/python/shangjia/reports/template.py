"""The upload template: the product sheet (required columns marked, drop-downs from the
category tree and the merchant's shipping templates, code columns formatted as text so Excel
never turns a SKU into 1.23E+12), an instructions sheet and an example product with two specs."""

from __future__ import annotations

from typing import Iterable

from shangjia.spec import CategoryTree, FieldSpec, load_categories, load_spec

PRODUCT_SHEET = "商品 Products"
EXAMPLE_SHEET = "示例 Example"
INSTRUCTIONS_SHEET = "填写说明 Instructions"
LISTS_SHEET = "lists"
TEMPLATE_ROWS = 5000
DEFAULT_SHIPPING_TEMPLATES = ("默认运费模板", "全国包邮")

RULES: dict[str, tuple[str, str]] = {
    # field: (rule zh, example)
    "spu_code": ("商品的唯一编码；同一商品的多个SKU行填相同编码，且行要相邻", "TX2026001"),
    "title": ("5–60 个字符，不得含违禁词（最佳、第一、国家级、高仿等）", "简约纯棉短袖T恤 夏季新款"),
    "category": ("从下拉列表选择第三级类目（路径或类目ID）", "服饰鞋包/女装/T恤"),
    "brand": ("品牌名称；没有品牌填“无品牌”", "无品牌"),
    "model": ("型号", "T100"),
    "material": ("材质；部分类目必填", "棉"),
    "origin": ("产地", "中国"),
    "selling_points": ("1–5 个卖点，每个不超过 30 字，用分号 ; 分隔", "纯棉;透气;百搭"),
    "description": ("20–5000 个字符，不得含违禁词", "精梳纯棉面料，柔软透气……"),
    "keywords": ("1–10 个搜索词，用分号 ; 分隔", "T恤;纯棉;短袖"),
    "attribute_tags": ("类目属性，属性:值，多个用分号分隔；类目要求的属性必填", "风格:简约;袖长:短袖"),
    "main_image": ("1 张主图：文件名、相对路径或 https 链接；处理后为 800×800", "t100_main.jpg"),
    "gallery_images": ("3–9 张轮播图，按顺序，用分号 ; 分隔（也可用 , | 或换行）", "t100_1.jpg;t100_2.jpg;t100_3.jpg"),
    "detail_images": ("1–20 张详情图，按顺序，用分号 ; 分隔", "t100_d1.jpg"),
    "video": ("主图视频 mp4，≤30 秒；部分类目必填", "t100.mp4"),
    "shipping_template": ("从下拉列表选择您的运费模板", "全国包邮"),
    "return_policy": ("从下拉列表选择", "7天无理由退换"),
    "fragile": ("是/否；易碎品请在描述中注明包装与破损处理", "否"),
    "weight_kg": ("每个SKU的重量，单位千克，> 0", "0.3"),
    "package_size_cm": ("长x宽x高，单位厘米", "30x20x5"),
    "ship_from": ("发货省市", "浙江杭州"),
    "dispatch_days": ("付款后几天内发货，1–15 的整数", "3"),
    "sku_code": ("每个规格组合一个唯一的SKU编码（本列为文本格式，请勿改成数字）", "TX2026001-RM"),
    "spec_values": ("规格名:值，多个用分号分隔；多个SKU时必填，每个 颜色×尺码 组合各一行", "颜色:红色;尺码:M"),
    "price": ("售价（元），最多两位小数；≤ 类目价格上限", "99.00"),
    "market_price": ("划线价（元），≥ 售价", "129.00"),
    "cost_price": ("进货价（元），≤ 售价", "50.00"),
    "stock": ("库存，≥ 0 的整数", "100"),
    "promo_price": ("选填：促销价（元），进货价 ≤ 促销价 ≤ 售价", "89.00"),
    "barcode": ("选填：EAN-13 条形码（13 位，含校验位）", "6901234567892"),
    "key_product": ("选填：是/否；重点商品安排在 10:00–12:00 上架", "否"),
}

EXAMPLE = [
    {"spu_code": "TX2026001", "title": "简约纯棉短袖T恤 夏季新款", "category": "服饰鞋包/女装/T恤", "brand": "无品牌",
     "model": "T100", "material": "棉", "origin": "中国", "selling_points": "纯棉;透气;百搭",
     "description": "这款T恤采用精梳纯棉面料，柔软透气，版型宽松，适合日常通勤与休闲穿着。",
     "keywords": "T恤;纯棉;短袖", "attribute_tags": "风格:简约", "main_image": "t100_main.jpg",
     "gallery_images": "t100_1.jpg;t100_2.jpg;t100_3.jpg", "detail_images": "t100_d1.jpg",
     "shipping_template": "全国包邮", "return_policy": "7天无理由退换", "fragile": "否", "ship_from": "浙江杭州",
     "dispatch_days": 3, "sku_code": "TX2026001-RM", "spec_values": "颜色:红色;尺码:M", "price": 99,
     "market_price": 129, "cost_price": 50, "stock": 100, "weight_kg": 0.3, "package_size_cm": "30x20x5",
     "barcode": "6901234567892", "key_product": "是"},
    {"spu_code": "TX2026001", "sku_code": "TX2026001-RL", "spec_values": "颜色:红色;尺码:L", "price": 99,
     "market_price": 129, "cost_price": 50, "stock": 80, "weight_kg": 0.32, "package_size_cm": "30x20x5"},
]


def header_text(f: FieldSpec) -> str:
    return ("*" if f.required is True else "") + f.header


def required_label(f: FieldSpec) -> str:
    return {True: "必填 required", "category": "类目要求时必填 required by category",
            "multi_sku": "多SKU时必填 required with several SKUs"}.get(f.required, "选填 optional")


def write_template(path, *, shipping_templates: Iterable[str] | None = None,
                   categories: CategoryTree | None = None) -> None:
    """Write the upload template to ``path`` (a file path or a binary file object)."""
    import xlsxwriter

    spec = load_spec()
    tree = categories or load_categories()
    ships = list(shipping_templates or DEFAULT_SHIPPING_TEMPLATES)
    fields = list(spec.fields)
    wb = xlsxwriter.Workbook(path, {"strings_to_numbers": False, "strings_to_formulas": False,
                                    "strings_to_urls": False})
    wb.set_properties({"title": "上架 Shangjia 商品上传模板 product upload template", "author": "Shangjia",
                       "comments": f"spec {spec.version}, categories {tree.version}"})
    fmt = {
        True: wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#F4B183",
                             "font_color": "#9C0006", "border": 1}),
        "category": wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#FFE699",
                                   "border": 1}),
        "multi_sku": wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#FFE699",
                                    "border": 1}),
        False: wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#D9D9D9",
                              "border": 1}),
    }
    text_col = wb.add_format({"num_format": "@"})
    money_col = wb.add_format({"num_format": "0.00"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})

    # lists for drop-downs, on a hidden sheet
    ws_products = wb.add_worksheet(PRODUCT_SHEET)
    ws_example = wb.add_worksheet(EXAMPLE_SHEET)
    ws_help = wb.add_worksheet(INSTRUCTIONS_SHEET)
    ws_lists = wb.add_worksheet(LISTS_SHEET)
    leaf_paths = tree.leaf_paths()
    ret = list(spec["return_policy"].choices)
    lists = {"category": leaf_paths, "shipping_template": ships, "return_policy": ret,
             "fragile": ["是", "否"], "key_product": ["是", "否"]}
    for c, (name, values) in enumerate(lists.items()):
        ws_lists.write_string(0, c, name)
        for r, v in enumerate(values, 1):
            ws_lists.write_string(r, c, v)
    ws_lists.hide()

    def lay_out(ws, rows: list[dict], n_rows: int) -> None:
        ws.freeze_panes(1, 1)
        ws.set_landscape()
        # printed across pages with the header row and the product code on each (fitting 31
        # wide columns to one page made them unreadably small)
        ws.repeat_rows(0)
        ws.repeat_columns(0)
        ws.set_row(0, 36)
        for c, f in enumerate(fields):
            width = 40 if f.type in ("text", "images", "kv", "category") else 16
            col_fmt = text_col if f.type in ("code", "text", "spec", "images", "kv", "list") else (
                money_col if f.type == "money" else None)
            ws.set_column(c, c, width, col_fmt)
            ws.write_string(0, c, header_text(f), fmt[f.required])
            rule, example = RULES.get(f.name, ("", ""))
            ws.write_comment(0, c, f"{f.zh} {f.en}\n{required_label(f)}\n{rule}\n例 e.g. {example}",
                             {"x_scale": 2.2, "y_scale": 1.6, "author": "Shangjia"})
            last = n_rows
            if f.name in lists:
                col = list(lists).index(f.name)
                letter = chr(65 + col)
                ws.data_validation(1, c, last, c, {
                    "validate": "list", "source": f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(lists[f.name]) + 1}",
                    "error_title": f.zh, "error_message": "请从下拉列表中选择 Pick a value from the list",
                    "error_type": "warning" if f.name == "category" else "stop"})
            elif f.type == "money":
                ws.data_validation(1, c, last, c, {"validate": "decimal", "criteria": ">=", "value": 0,
                                                   "error_message": "金额 ≥ 0，最多两位小数"})
            elif f.name == "stock":
                ws.data_validation(1, c, last, c, {"validate": "integer", "criteria": ">=", "value": 0,
                                                   "error_message": "库存为 ≥ 0 的整数"})
            elif f.name == "dispatch_days":
                ws.data_validation(1, c, last, c, {"validate": "integer", "criteria": "between",
                                                   "minimum": 1, "maximum": 15, "error_message": "1–15 天"})
            elif f.name == "title":
                ws.data_validation(1, c, last, c, {"validate": "length", "criteria": "between",
                                                   "minimum": 5, "maximum": 60, "error_type": "warning",
                                                   "error_message": "标题 5–60 个字符"})
        for r, row in enumerate(rows, 1):
            for c, f in enumerate(fields):
                v = row.get(f.name)
                if v is None:
                    continue
                if isinstance(v, (int, float)) and f.type not in ("code",):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))

    lay_out(ws_products, [], TEMPLATE_ROWS)
    lay_out(ws_example, EXAMPLE, 10)

    ws_help.set_landscape()
    ws_help.fit_to_pages(1, 0)
    ws_help.set_column(0, 0, 8)
    ws_help.set_column(1, 2, 18)
    ws_help.set_column(3, 3, 40)
    ws_help.set_column(4, 4, 60)
    ws_help.set_column(5, 5, 34)
    bold = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    title = wb.add_format({"bold": True, "font_size": 14})
    ws_help.write_string(0, 0, "商品上传模板填写说明 How to fill in the product template", title)
    notes = [
        "1. 每行一个 SKU；同一商品的多个 SKU 行填写相同的商品编码，并且相邻。One row per SKU; rows of one product share its product code and stay together.",
        "2. 商品级列（标题、类目、图片……）只需在商品的第一行填写，后续行可留空。Product columns may be left blank after a product's first row.",
        "3. 多张图片用分号 ; 分隔（也可用逗号、竖线或换行），顺序即展示顺序，第一张轮播图为封面。Separate images with ; (or , | newline); order is kept.",
        "4. 图片可填文件名（与表格一起上传）、相对路径或 https 链接。Images: a file name uploaded with the sheet, a relative path, or an https link.",
        "5. 规格写成 规格名:值;规格名:值，每个 颜色×尺码 组合各一行。Specs as name:value;name:value, one row per combination.",
        "6. 价格单位为元，最多两位小数；应满足 进货价 ≤ 促销价 ≤ 售价 ≤ 划线价。Prices in yuan; cost ≤ promo ≤ price ≤ market price.",
        "7. 表头带 * 的列为必填；黄色列在类目要求或多 SKU 时必填。Columns marked * are required; yellow ones when the category or several SKUs need them.",
        "8. 请勿修改表头文字；可以删除选填列。Keep the header texts; optional columns may be deleted.",
        f"9. 可选类目 {len(leaf_paths)} 个，见类目列的下拉列表。{len(leaf_paths)} categories are in the category drop-down.",
        "10. 重新上传已有商品：留空的单元格（或没有的列）保留当前值；要清空某个值，请填写 [清空] 或 [clear]。"
        "Re-uploading a product: a blank cell (or a missing column) keeps its current value; "
        "write [清空] or [clear] to erase a value.",
        "11. 重新上传时未列出的 SKU 会从所有渠道下架，其 SKU 编码释放；内容未变的商品不会重新审核或发布。"
        "SKUs a re-upload leaves out are delisted on every channel and their codes released; "
        "products whose content did not change are not reviewed or published again.",
    ]
    for i, n in enumerate(notes, 2):
        ws_help.write_string(i, 0, n)
    top = len(notes) + 3
    for c, h in enumerate(["列 Col", "中文表头", "English", "必填 Required", "规则 Rule", "示例 Example"]):
        ws_help.write_string(top, c, h, bold)
    from shangjia.sheets.xlsx import col_letters
    for r, f in enumerate(fields, top + 1):
        rule, example = RULES.get(f.name, ("", ""))
        ws_help.write_string(r, 0, col_letters(r - top - 1))
        ws_help.write_string(r, 1, f.zh)
        ws_help.write_string(r, 2, f.en)
        ws_help.write_string(r, 3, required_label(f))
        ws_help.write_string(r, 4, rule, wrap)
        ws_help.write_string(r, 5, example)
    ws_products.activate()
    wb.close()
