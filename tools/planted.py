"""The thirteen bugs of issue 14, planted one at a time in a copy of the core: each must be caught.

`make planted` copies the package to a temporary tree, applies one bug, runs the test files that
hold that rule with the copy first on ``PYTHONPATH`` (it wins over the editable install), and
prints the tests that failed. A bug no test catches is printed as SURVIVED and the exit status
is 1. Where `make mutate` plants every small change a tool can think of in the pure core, this
keeps the bugs that were seen to survive once, so they can never survive again unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "layers" / "core" / "python" / "shangjia"

# (name, file in the package, text to find, replacement, test files)
BUGS: list[tuple[str, str, str, str, list[str]]] = [
    ("to_dims: n <= 0 -> n < 0 (a 30x0x5 package validates)",
     "validation/values.py", "if n <= 0:", "if n < 0:",
     ["tests/unit/core/test_values.py"]),
    ("BannedTerms.scan: allowed-context <= -> <",
     "validation/banned.py", "any(cs <= s and e <= ce for cs, ce in ctx)", "any(cs < s and e <= ce for cs, ce in ctx)",
     ["tests/unit/core/test_banned.py", "tests/unit/sheets/test_validation.py"]),
    ("BannedTerms.scan: the exempt-category guard deleted",
     "validation/banned.py", "if category_path and grp.exempt_categories and any(", "if False and any(",
     ["tests/unit/core/test_banned.py"]),
    ("review.sampled always True (every VIP product to a person)",
     "pipeline/review.py", '    """Deterministic sampling: the same execution is always in or out of the manual audit sample."""\n',
     '    """Deterministic sampling: the same execution is always in or out of the manual audit sample."""\n    return True\n',
     ["tests/unit/test_review_rules.py"]),
    ("next_window_start: local < end -> <=",
     "pipeline/review.py", "if local < end:", "if local <= end:",
     ["tests/unit/test_review_window.py"]),
    ("status.TRANSITIONS: published may go back to needs_fix",
     "status.py", "S.PUBLISHED: frozenset({S.UPLOADED}),", "S.PUBLISHED: frozenset({S.UPLOADED, S.NEEDS_FIX}),",
     ["tests/unit/test_status.py"]),
    ("status.TRANSITIONS: needs_fix has no way out",
     "status.py", "S.NEEDS_FIX: frozenset({S.UPLOADED}),", "S.NEEDS_FIX: frozenset(),",
     ["tests/unit/test_status.py"]),
    ("error report's formula guard: only = counts as dangerous",
     "reports/__init__.py", "    return text.startswith(_DANGEROUS)\n", '    return text.startswith("=")\n',
     ["tests/unit/core/test_formula_guard.py"]),
    ("reports.neutralise: tab and CR no longer neutralised",
     "reports/__init__.py", """return "'" + s if s.startswith(_DANGEROUS) else s""",
     """return "'" + s if s.startswith(("=", "+", "-", "@")) else s""",
     ["tests/unit/core/test_formula_guard.py"]),
    ("reports.neutralise: - no longer neutralised",
     "reports/__init__.py", """return "'" + s if s.startswith(_DANGEROUS) else s""",
     """return "'" + s if s.startswith(("=", "+", "@", "\\t", "\\r")) else s""",
     ["tests/unit/core/test_formula_guard.py"]),
    ("review._fail: the failed status is never written",
     "pipeline/review.py", "    set_status(deps, event[\"merchant_id\"], event[\"spu_code\"], PS.FAILED,",
     "    (lambda *a, **k: None)(deps, event[\"merchant_id\"], event[\"spu_code\"], PS.FAILED,",
     ["tests/integration/test_review_steps.py"]),
    ("ingest._queue_for: everything to validate, never the priority lane",
     "pipeline/ingest.py", 'return "validate_priority" if product and product.get("priority") else "validate"',
     'return "validate"',
     ["tests/unit/core/test_ingest_routing.py"]),
    ("decide_batch: the min_products guard dropped",
     "validation/policy.py", "if not final and tally.products < policy.min_products:", "if False:",
     ["tests/unit/core/test_policy.py"]),
]


def plant(root: Path, rel: str, old: str, new: str) -> None:
    path = root / "layers" / "core" / "python" / "shangjia" / rel
    text = path.read_text("utf-8")
    if text.count(old) != 1:
        raise SystemExit(f"cannot plant in {rel}: {old!r} found {text.count(old)} times (the code moved: update BUGS)")
    path.write_text(text.replace(old, new), "utf-8")


def main() -> int:
    survived = 0
    for name, rel, old, new, tests in BUGS:
        with tempfile.TemporaryDirectory(prefix="planted-") as tmp:
            root = Path(tmp)
            shutil.copytree(PKG, root / "layers" / "core" / "python" / "shangjia",
                            ignore=shutil.ignore_patterns("__pycache__"))
            for extra in ("functions", "infra", "events", "docs"):   # topology finds the repo from the package
                (root / extra).symlink_to(REPO / extra)
            plant(root, rel, old, new)
            env = dict(os.environ, PYTHONPATH=str(root / "layers" / "core" / "python"), PYTHONDONTWRITEBYTECODE="1")
            proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
                                   "-q", "-rf", "--timeout", "300", *tests], cwd=REPO, env=env,
                                  capture_output=True, text=True)
            failed = sorted(set(re.findall(r"^FAILED (\S+)", proc.stdout, re.M)))
            if failed:
                print(f"caught    {name}\n          by {failed[0]}" + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""))
            else:
                survived += 1
                print(f"SURVIVED  {name}  (ran {' '.join(tests)}; exit {proc.returncode})")
    print(f"\n{len(BUGS) - survived} of {len(BUGS)} planted bugs caught")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
