"""Product validation: exactly the rules the pipeline applies, also run offline by the CLI.

``validate_product(raw, ctx)`` turns a ``RawProduct`` (rows from a sheet or an ERP webhook)
into the canonical product dict and its findings: per field (required, type, length, enum,
category leaf, category attributes), across fields (cost ≤ promo ≤ price ≤ market price ≤
category cap, in integer fen), across rows (SKU codes unique in the product, spec grid
complete, images 3–9 in order) and banned terms (one Aho-Corasick automaton).

Catalog-wide SKU uniqueness is NOT here: the pipeline claims codes atomically in DynamoDB.
Uniqueness within the file is checked by the sheet reader (it sees every row).
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from decimal import Decimal
from itertools import product as cartesian
from typing import Any

from shangjia.errors import Finding, finding, has_errors
from shangjia.reports import is_dangerous
from shangjia.sheets import RawProduct
from shangjia.spec import CategoryTree, ProductSpec, load_categories, load_spec
from shangjia.validation import values as V
from shangjia.validation.banned import BannedTerms, load_banned_terms
from shangjia.validation.policy import BatchDecision, BatchPolicy, BatchTally, decide_batch, decide_product

__all__ = [
    "ValidationContext", "ValidationResult", "validate_product", "BatchPolicy", "BatchTally",
    "BatchDecision", "decide_batch", "decide_product", "BannedTerms", "load_banned_terms",
]

_FRAGILE_NOTE = ("易碎", "包装", "破损", "fragile", "packag")


@dataclass
class ValidationContext:
    merchant_id: str
    shipping_templates: frozenset[str] | None = None   # None: any non-empty name (offline use)
    categories: CategoryTree = dc_field(default_factory=load_categories)
    banned_terms: BannedTerms = dc_field(default_factory=load_banned_terms)
    spec: ProductSpec = dc_field(default_factory=load_spec)
    lang: str = "zh"                                    # field labels in messages
    # The merchant's choice per category prefix ("服饰鞋包" or "服饰鞋包/女装"): is a promo price
    # below cost an "error" or a "warning"? The longest matching prefix wins; default "warning".
    promo_below_cost: dict[str, str] | None = None

    def promo_below_cost_severity(self, category_path: str | None) -> str:
        return promo_below_cost_severity(self.promo_below_cost, category_path)


PROMO_BELOW_COST_CHOICES = ("error", "warning")


def check_promo_below_cost(choices: dict[str, str] | None) -> dict[str, str]:
    """A merchant's per-category setting, checked: {category prefix: "error" | "warning"}."""
    out: dict[str, str] = {}
    for prefix, sev in (choices or {}).items():
        p = str(prefix).strip().strip("/")
        if not p or sev not in PROMO_BELOW_COST_CHOICES:
            raise ValueError(f"promo below cost: {prefix!r} -> {sev!r}; want a category prefix -> error|warning")
        out[p] = sev
    return out


def promo_below_cost_severity(choices: dict[str, str] | None, category_path: str | None) -> str:
    """The severity of PROMO_BELOW_COST for a product of ``category_path``: the merchant's choice for
    the longest category prefix that matches it (whole path segments), else "warning"."""
    if choices and category_path:
        best = -1
        sev = "warning"
        for prefix, s in choices.items():
            p = prefix.strip("/")
            if (category_path == p or category_path.startswith(p + "/")) and len(p) > best:
                best, sev = len(p), s
        return sev
    return "warning"


@dataclass
class ValidationResult:
    product: dict
    findings: list[Finding]

    @property
    def valid(self) -> bool:
        """No error-severity findings (warnings do not block)."""
        return not has_errors(self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def to_dict(self) -> dict:
        return {"spu_code": self.product.get("spu_code"), "valid": self.valid,
                "product": self.product, "findings": [f.to_dict() for f in self.findings]}


class _Checker:
    """One product's checks; collects findings with the row and column they point at."""

    __slots__ = ("ctx", "spec", "findings", "cols", "src_row", "lang")

    def __init__(self, ctx: ValidationContext, findings: list[Finding]) -> None:
        self.ctx = ctx
        self.spec = ctx.spec
        self.findings = findings
        self.cols: dict[str, str] = {}
        self.src_row: dict[str, int] = {}
        self.lang = ctx.lang

    def label(self, name: str) -> str:
        f = self.spec[name]
        return f"{f.zh}({f.en})"

    def add(self, code: str, name: str | None, row: int | None, value: Any = None, **params) -> None:
        col = self.cols.get(name) if name else None
        self.findings.append(finding(code, row=row, column=col, field=self.label(name) if name else None,
                                     value=value, **params))


@dataclass(frozen=True)
class _Plan:
    """The specification turned into what the hot loop needs, computed once per spec."""
    spu: tuple                      # FieldSpec of product-level fields, in spec order
    sku: tuple                      # FieldSpec of SKU-level fields
    spu_names: frozenset
    money_min: dict                 # field -> minimum in fen
    weight_min: Decimal
    weight_max: Decimal
    image_key: dict


_PLANS: dict[int, _Plan] = {}


def _plan(spec: ProductSpec) -> _Plan:
    p = _PLANS.get(id(spec))
    if p is None:
        spu = tuple(f for f in spec.fields if f.level == "spu")
        sku = tuple(f for f in spec.fields if f.level == "sku")
        w = spec["weight_kg"]
        p = _Plan(spu, sku, frozenset(f.name for f in spu),
                  {f.name: V.to_fen(str(f.min_value)) for f in sku if f.type == "money" and f.min_value is not None},
                  Decimal(str(w.min_value)), Decimal(str(w.max_value)),
                  {"main_image": "main", "gallery_images": "gallery", "detail_images": "detail"})
        _PLANS[id(spec)] = p
    return p


_BANNED_FIELDS = ("title", "description", "selling_points", "keywords")
_SEP = "\n\x00\n"


def validate_product(raw: RawProduct, ctx: ValidationContext) -> ValidationResult:
    spec = ctx.spec
    plan = _plan(spec)
    findings: list[Finding] = list(raw.findings)
    ck = _Checker(ctx, findings)
    rows = raw.rows
    first_row = rows[0].row if rows else None

    # SPU-level values: the first non-blank value down the product's rows.
    src_row = ck.src_row                  # where a value came from, when not the first row
    spu_names = plan.spu_names
    spu: dict[str, str] = {k: v if v.__class__ is str else str(v) for k, v in rows[0].cells.items()
                           if k in spu_names and v is not None and v != ""} if rows else {}
    for r in rows[1:]:                    # a SKU row's product values count where the first row left blanks
        for k, v in r.cells.items():
            if k in spu_names and k not in spu and v is not None and v != "":
                spu[k] = v if v.__class__ is str else str(v)
                src_row[k] = r.row
    cols = ck.cols = rows[0].columns if rows else {}

    def srow(name: str) -> int | None:
        return src_row.get(name, first_row)

    # --- category first: it decides required fields, attributes, price cap, banned exemptions
    cat = None
    cat_text = spu.get("category")
    if cat_text:
        cat = ctx.categories.resolve(cat_text)
        if cat is None:
            ck.add("CATEGORY_NOT_LEAF" if ctx.categories.is_inner(cat_text) else "CATEGORY_UNKNOWN",
                   "category", srow("category"), cat_text)
    req_by_cat = cat.required_fields if cat else ()

    images = {"main": [], "gallery": [], "detail": []}
    product: dict[str, Any] = {
        "spu_code": raw.spu_code or spu.get("spu_code", ""),
        "title": spu.get("title", ""),
        "category": cat.path if cat else (cat_text or ""),
        "category_id": cat.id if cat else None,
        "priority": bool(cat and cat.priority),
        "key_product": False,
        "brand": spu.get("brand", ""),
        "description": spu.get("description", ""),
        "selling_points": [],
        "keywords": [],
        "attribute_tags": {},
        "shipping_template": spu.get("shipping_template", ""),
        "return_policy": spu.get("return_policy", ""),
        "fragile": False,
        "ship_from": spu.get("ship_from", ""),
        "dispatch_days": None,
        "model": spu.get("model", ""),
        "material": spu.get("material", ""),
        "origin": spu.get("origin", ""),
        "images": images,
        "video": None,
        "skus": [],
    }

    # --- SPU fields ---------------------------------------------------------------------------
    no_product = bool(raw.findings) and any(f.code == "ROW_NO_PRODUCT" for f in raw.findings)
    for f in plan.spu:
        name = f.name
        if name == "spu_code" and (raw.spu_code or no_product):
            continue
        v = spu.get(name)
        if v is None:
            if f.required is True or (f.required == "category" and name in req_by_cat):
                ck.add("FIELD_REQUIRED", name, first_row)
            continue
        t = f.type
        if t == "text":
            n = len(v)
            if (f.min_len and n < f.min_len) or (f.max_len and n > f.max_len):
                ck.add("FIELD_LENGTH", name, srow(name), v, length=n, min=f.min_len or 0, max=f.max_len or "∞")
        elif t == "list":
            items = V.split_list(v, spec.list_separators)
            lo, hi = f.min_items or 0, f.max_items or 10**9
            if not lo <= len(items) <= hi:
                ck.add("FIELD_COUNT", name, srow(name), v, count=len(items), min=lo, max=hi)
            if f.item_max_len:
                for it in items:
                    if len(it) > f.item_max_len:
                        ck.add("FIELD_LENGTH", name, srow(name), it, length=len(it), min=1, max=f.item_max_len)
                        break
            product[name] = items
        elif t == "kv":
            kv, bad = V.split_kv(v)
            for b in bad[:3]:
                ck.add("ATTRIBUTE_FORMAT", name, srow(name), b)
            product[name] = kv
        elif t == "images":
            is_video = name == "video"
            refs = _refs(ck, name, srow(name), v, V.VIDEO_EXTS if is_video else V.IMAGE_EXTS, spec.image_separators)
            lo, hi = f.min_items or 0, f.max_items or 10**9
            if not lo <= len(refs) <= hi:
                ck.add("FIELD_COUNT", name, srow(name), v, count=len(refs), min=lo, max=hi)
            if is_video:
                product["video"] = refs[0] if refs else None
            else:
                images[plan.image_key[name]] = refs
        elif t == "enum":
            product[name] = _enum(ck, f, name, srow(name), v)
        elif t == "bool":
            try:
                product[name] = V.to_bool(v)
            except ValueError:
                ck.add("FIELD_TYPE", name, srow(name), v, expected="yes/no (是/否)", expected_zh="是/否")
        elif t == "int":
            try:
                n = V.to_int(v)
            except ValueError:
                ck.add("FIELD_TYPE", name, srow(name), v, expected="whole number", expected_zh="整数")
            else:
                if not f.min_value <= n <= f.max_value:
                    ck.add("FIELD_RANGE", name, srow(name), v, min=f.min_value, max=f.max_value)
                product[name] = n
        elif t == "code":
            if f.max_len and len(v) > f.max_len:
                ck.add("FIELD_LENGTH", name, srow(name), v, length=len(v), min=1, max=f.max_len)
    # A product code or title that starts like a formula is exported to channels, reports and the
    # merchant's own spreadsheets: refuse it where it is (the one definition: shangjia.reports).
    for name in ("spu_code", "title"):
        v = product[name]
        if v and is_dangerous(v):
            ck.add("FIELD_FORMULA_LIKE", name, srow(name), v)
    if product["fragile"]:
        d = product["description"].lower()
        if not any(k in d for k in _FRAGILE_NOTE):
            ck.add("FRAGILE_NEEDS_NOTE", "description", srow("description"), product["return_policy"])

    # --- banned terms: one scan over the four texts, hits mapped back to their field ------------
    texts = [(n, spu[n]) for n in _BANNED_FIELDS if n in spu]
    if texts:
        joined = _SEP.join(t for _, t in texts)
        hits = ctx.banned_terms.scan(joined, cat.path if cat else None, per_position=True)
        if hits:
            bounds = []
            pos = 0
            for n, t in texts:
                bounds.append((pos, pos + len(t), n, t))
                pos += len(t) + len(_SEP)
            seen_hits: set = set()
            for h in hits:
                for lo, hi, n, t in bounds:
                    if lo <= h.start < hi:
                        if (n, h.term) not in seen_hits:
                            seen_hits.add((n, h.term))
                            code = "BANNED_TERM" if h.group.severity == "error" else "BANNED_TERM_WARNING"
                            ck.add(code, n, srow(n), t, term=h.term, reason_zh=h.group.zh,
                                   reason_en=h.group.en, reason=h.group.reason)
                        break

    # --- SKUs ------------------------------------------------------------------------------------
    cap = cat.price_cap_fen if cat else None
    multi = len(rows) > 1
    already_dup = {f.row for f in raw.findings if f.code == "SKU_DUPLICATE"} if raw.findings else ()
    seen_codes: dict[str, int] = {}
    seen_specs: dict[tuple, int] = {}
    spec_keys: tuple[str, ...] | None = None
    money_min = plan.money_min
    skus = product["skus"]
    fen_of, weight_of, dims_of, spec_of = V.FEN, V.WEIGHT, V.DIMS, V.SPEC_KV
    for r in rows:
        c = r.cells
        rn = r.row
        if r.columns is not cols and r.columns:
            ck.cols = r.columns
        sku: dict[str, Any] = {"sku_code": c.get("sku_code", ""), "spec": {}, "price_fen": None,
                               "market_price_fen": None, "cost_price_fen": None, "promo_price_fen": None,
                               "stock": None, "barcode": c.get("barcode") or None,
                               "weight_kg": c.get("weight_kg", ""), "package_size_cm": None, "row": rn}
        fen: dict[str, int] = {}
        for f in plan.sku:
            name = f.name
            v = c.get(name)
            if v is None or v == "":
                if f.required is True or (f.required == "multi_sku" and multi):
                    ck.add("SPEC_MISSING" if name == "spec_values" else "FIELD_REQUIRED", name, rn)
                continue
            if v.__class__ is not str:
                v = str(v)
            t = f.type
            if t == "money":
                x = fen_of[v]
                if x is None:
                    ck.add("PRICE_FORMAT", name, rn, v)
                    continue
                if x < money_min.get(name, 0):
                    ck.add("FIELD_RANGE", name, rn, v, min=f.min_value, max=f.max_value)
                fen[name] = x
                sku[name + "_fen"] = x
            elif name == "stock":
                try:
                    n = int(v) if v.isdigit() else V.to_int(v)
                    if n < 0:
                        raise ValueError
                except ValueError:
                    ck.add("STOCK_INVALID", name, rn, v)
                    continue
                sku["stock"] = n
            elif name == "sku_code":
                if f.max_len and len(v) > f.max_len:
                    ck.add("FIELD_LENGTH", name, rn, v, length=len(v), min=1, max=f.max_len)
                first = seen_codes.get(v)
                if first is not None and rn not in already_dup:
                    ck.add("SKU_DUPLICATE", name, rn, v, first_row=first)
                seen_codes.setdefault(v, rn)
            elif name == "barcode":
                if len(v) == 12 and v.isdigit():      # UPC-A, or an EAN-13 whose leading 0 Excel dropped
                    v = "0" + v
                    sku["barcode"] = v
                try:
                    exp = V.check_ean13(v)
                except ValueError:
                    ck.add("BARCODE_FORMAT", name, rn, v)
                else:
                    if exp is not None:
                        ck.add("BARCODE_CHECK_DIGIT", name, rn, v, expected=exp)
            elif name == "weight_kg":
                w = weight_of[v]
                if w is None:
                    ck.add("FIELD_TYPE", name, rn, v, expected="number in kg", expected_zh="数字(千克)")
                    continue
                if not plan.weight_min <= w[0] <= plan.weight_max:
                    ck.add("FIELD_RANGE", name, rn, v, min=f.min_value, max=f.max_value)
                sku["weight_kg"] = w[1]
            elif name == "package_size_cm":
                dims = dims_of[v]
                if dims is not None:
                    sku["package_size_cm"] = list(dims)
                else:
                    ck.add("FIELD_TYPE", name, rn, v, expected="L×W×H in cm, e.g. 30x20x10",
                           expected_zh="长×宽×高(cm)，如 30x20x10")
            elif name == "spec_values":
                kv, bad = spec_of[v]
                if bad or not kv:
                    ck.add("SPEC_FORMAT", name, rn, v)
                    continue
                sku["spec"] = kv = dict(kv)
                keys = tuple(kv)
                if spec_keys is None:
                    spec_keys = keys
                elif keys != spec_keys and set(keys) != set(spec_keys):
                    ck.add("SPEC_INCONSISTENT", name, rn, "/".join(keys), expected="/".join(spec_keys))
                    continue
                combo = tuple(kv[k] for k in spec_keys)
                if combo in seen_specs:
                    ck.add("SPEC_DUPLICATE", name, rn, v, first_row=seen_specs[combo])
                else:
                    seen_specs[combo] = rn
        if fen:
            _price_order(ck, rn, fen, cap, cat)
        skus.append(sku)
    ck.cols = cols

    # --- category attributes (attribute tags or spec names satisfy them) -------------------------
    if cat and cat.required_attributes:
        have = product["attribute_tags"]
        for a in cat.required_attributes:
            if a not in have and not (spec_keys and a in spec_keys):
                ck.add("ATTRIBUTE_MISSING", "attribute_tags", srow("attribute_tags"), None,
                       category=cat.path, attribute=a)

    # --- the spec grid: every combination of the values used, exactly once ----------------------
    if spec_keys and len(seen_specs) > 1:
        axes = [list(dict.fromkeys(combo[i] for combo in seen_specs)) for i in range(len(spec_keys))]
        total = 1
        for a in axes:
            total *= len(a)
        if total != len(seen_specs) and total <= 10_000:
            missing = [c for c in cartesian(*axes) if c not in seen_specs]
            shown = "、".join("/".join(m) for m in missing[:6]) + (" …" if len(missing) > 6 else "")
            ck.add("SPEC_GRID_INCOMPLETE", "spec_values", first_row, None, missing=shown, count=len(missing))
    return ValidationResult(product, findings)


def _price_order(ck: _Checker, rn: int, fen: dict[str, int], cap: int | None, cat) -> None:
    price = fen.get("price")
    cost = fen.get("cost_price")
    promo = fen.get("promo_price")
    market = fen.get("market_price")
    t = V.fen_text
    if price is not None:
        if market is not None and price > market:
            ck.add("PRICE_ORDER", "market_price", rn, t(market),
                   detail=f"售价 price {t(price)} > 划线价 market price {t(market)}")
        if cost is not None and cost > price:
            ck.add("PRICE_ORDER", "cost_price", rn, t(cost),
                   detail=f"进货价 cost {t(cost)} > 售价 price {t(price)}")
        if promo is not None and promo > price:
            ck.add("PRICE_ORDER", "promo_price", rn, t(promo),
                   detail=f"促销价 promo {t(promo)} > 售价 price {t(price)}")
        if cap is not None and price > cap:
            ck.add("PRICE_OVER_CAP", "price", rn, t(price), cap=t(cap), category=cat.path)
    if promo is not None and cost is not None and promo < cost:
        ck.add("PROMO_BELOW_COST", "promo_price", rn, t(promo), promo=t(promo), cost=t(cost),
               severity=ck.ctx.promo_below_cost_severity(cat.path if cat else None))


def _refs(ck: _Checker, name: str, row, text: str, exts, seps: str) -> list[str]:
    plain = V.plain_refs(text, exts)
    if plain is not None:
        return plain
    out: list[str] = []
    seen: set[str] = set()
    for ref in V.split_list(text, seps):
        try:
            r = V.check_ref(ref, exts)
        except ValueError as e:
            ck.add("IMAGE_REF_INVALID", name, row, ref, reason=str(e))
            continue
        if r in seen:
            ck.add("IMAGE_DUPLICATE", name, row, r)
            continue
        seen.add(r)
        out.append(r)
    return out


def _enum(ck: _Checker, f, name: str, row, v: str) -> str:
    if name == "shipping_template":
        allowed = ck.ctx.shipping_templates
        if allowed is not None and v not in allowed:
            ck.add("FIELD_ENUM", name, row, v, choices=" / ".join(sorted(allowed)) or "—")
        return v
    if v in f.choices:
        return v
    alias = f.choice_aliases.get(v) or f.choice_aliases.get(v.lower())
    if alias:
        return alias
    ck.add("FIELD_ENUM", name, row, v, choices=" / ".join(f.choices))
    return v
