"""``shangjia template`` and ``shangjia validate``: the merchant's sheet tools, offline.

``validate`` runs exactly what the pipeline runs (``open_sheet`` → ``validate_product``), with
progress on stderr for big files, on every core for big sheets (``--jobs``), and can write the error report and/or print one JSON object
per product. Exit status: 0 every product valid, 1 some product invalid, 2 the file was refused.
"""

from __future__ import annotations

import json
import sys
import time


def register(sub) -> None:
    t = sub.add_parser("template", help="write the product upload template (.xlsx)")
    t.add_argument("out", metavar="OUT.xlsx")
    t.add_argument("--shipping-templates", metavar="A,B", help="the merchant's shipping template names (drop-down)")
    t.set_defaults(func=run_template)

    v = sub.add_parser("validate", help="validate a product sheet offline with the pipeline's rules")
    v.add_argument("file", metavar="FILE")
    v.add_argument("--report", metavar="OUT.xlsx", help="write the error report workbook")
    v.add_argument("--json", action="store_true", help="print one JSON object per product (JSON lines)")
    v.add_argument("--merchant", default="offline", help="merchant id (default: offline)")
    v.add_argument("--shipping-templates", metavar="A,B",
                   help="accepted shipping template names (default: any non-empty name)")
    v.add_argument("--banned-terms", metavar="FILE.json", help="a banned-term list replacing the default")
    v.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    v.add_argument("--jobs", default="auto", metavar="N", type=_jobs,
                   help="processes to read and validate with (same rules, same findings, same order); "
                        "auto: every core for sheets over 2,000 rows, else 1")
    v.set_defaults(func=run_validate)


def _jobs(s: str):
    import argparse
    if s == "auto":
        return s
    if not s.isdigit() or int(s) < 1:
        raise argparse.ArgumentTypeError("a whole number ≥ 1, or auto")
    return int(s)


def _names(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


def run_template(args) -> int:
    from shangjia.reports import write_template

    write_template(args.out, shipping_templates=_names(args.shipping_templates))
    print(f"template written: {args.out}", file=sys.stderr)
    return 0


def _finding_json(f) -> dict:
    return {"row": f.row, "column": f.column, "field": f.field, "code": f.code, "severity": f.severity,
            "message": f.message_en, "message_zh": f.message_zh, "hint": f.hint_en, "hint_zh": f.hint_zh,
            "value": f.value}


def run_validate(args) -> int:
    try:
        return _validate(args)
    except BrokenPipeError:                      # `shangjia validate x --json | head`
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _validate(args) -> int:
    import os

    from shangjia.errors import FindingError
    from shangjia.sheets import open_sheet
    from shangjia.validation import ValidationContext
    from shangjia.validation.banned import load_banned_terms
    from shangjia.validation.parallel import check_sheet, default_jobs

    name = os.path.basename(args.file)
    err = sys.stderr
    show = not args.quiet
    ships = _names(args.shipping_templates)
    ctx = ValidationContext(args.merchant, shipping_templates=frozenset(ships) if ships else None)
    if args.banned_terms:
        ctx.banned_terms = load_banned_terms(args.banned_terms)
    out = sys.stdout
    findings = []
    products = invalid = skus = 0
    t0 = time.monotonic()
    try:
        reader = open_sheet(args.file, name)
        with reader:
            if show:
                i = reader.info
                print(f"{name}: sheet “{i.sheet_name}”, header on row {i.header_row}, layout {i.layout}, "
                      f"{len(i.columns)} columns mapped" + (f", ~{i.total_rows} rows" if i.total_rows else ""), file=err)
                last = [0.0]

                def progress(n: int, total: int | None) -> None:
                    now = time.monotonic()
                    if now - last[0] < 0.5 and (total is None or n < total):
                        return
                    last[0] = now
                    pct = f" ({100 * n // total}%)" if total else ""
                    print(f"\r  {n:,} rows{pct}, {products:,} products, {invalid:,} invalid", end="", file=err, flush=True)
                reader.on_progress = progress
            findings.extend(reader.findings)
            jobs = default_jobs(reader.info.total_rows) if args.jobs == "auto" else args.jobs
            for res in check_sheet(reader, ctx, jobs=jobs):
                products += 1
                skus += res.skus
                if not res.valid:
                    invalid += 1
                findings.extend(res.findings)
                if args.json:
                    out.write(json.dumps({
                        "spu_code": res.spu_code, "valid": res.valid, "row": res.first_row,
                        "skus": res.skus,
                        "errors": [_finding_json(f) for f in res.findings if f.is_error],
                        "warnings": [_finding_json(f) for f in res.findings if not f.is_error],
                    }, ensure_ascii=False) + "\n")
            if show:
                print(file=err)
    except FindingError as e:
        f = e.finding
        if args.json:
            out.write(json.dumps({"file": name, "spu_code": None, "valid": False,
                                  "errors": [_finding_json(f)], "warnings": []}, ensure_ascii=False) + "\n")
        if show:
            print(f"\n{name}: refused — {f.message_zh} / {f.message_en}\n  → {f.hint_zh} / {f.hint_en}", file=err)
        if args.report:
            from shangjia.reports import write_error_report
            write_error_report(args.report, args.file, name, findings + [f])
            show and print(f"report written: {args.report}", file=err)
        return 2
    if args.report:
        from shangjia.reports import write_error_report
        write_error_report(args.report, args.file, name, findings, products=products, invalid_products=invalid)
    if show:
        dt = time.monotonic() - t0
        errs = sum(1 for f in findings if f.is_error)
        print(f"{name}: {products:,} products ({skus:,} SKUs), {invalid:,} invalid, {errs:,} errors, "
              f"{len(findings) - errs:,} warnings in {dt:.1f}s", file=err)
        if args.report:
            print(f"report written: {args.report}", file=err)
    return 1 if invalid else 0
