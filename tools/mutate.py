"""`make mutate`: mutation testing of the pure core with mutmut, a score per module.

mutmut 3 imports the code under test from ``mutants/src`` (or ``mutants/``); our package lives
in ``layers/core/python`` (the Lambda layer's layout), so this script stages a workspace
(``.mutate/``, ignored by git) where the package is ``src/shangjia`` and the tests are copied
beside it, writes mutmut's configuration there, runs ``mutmut run`` and prints:

- the mutation score of every module (killed / (killed + survived)), against the 85 % target;
- every surviving mutant that is not in the list of explained equivalents
  (``docs/mutation.md``, section "Equivalent mutants"), with its diff.

Usage::

    make mutate                                   # every module in MODULES
    make mutate ARGS="status"                     # one module (a key of MODULES)
    make mutate ARGS="validation/values --max-children 2"

The exit status is 1 when a module is under the target or an unexplained mutant survives.
It is not part of `make test`: a full run takes tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".mutate"
PKG = REPO / "layers" / "core" / "python" / "shangjia"
TARGET = 0.85

# module key -> (files to mutate, relative to the package; the tests that hold them)
# The pure core: rules with no boto3. Each module's tests are the unit (and, where the rule is
# applied through the store, integration) tests written for it; e2e and infra are too slow per
# mutant and add nothing for pure rules. mutmut runs, per mutant, only the selected tests that
# reach the mutated function.
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "status": (["status.py"], ["tests/unit/test_status.py"]),
    "validation": (["validation/__init__.py"], ["tests/unit/core", "tests/unit/sheets/test_validation.py",
                                                "tests/unit/sheets/test_spec.py"]),
    "validation/values": (["validation/values.py"], ["tests/unit/core", "tests/unit/sheets/test_validation.py"]),
    "validation/banned": (["validation/banned.py"], ["tests/unit/core", "tests/unit/sheets/test_validation.py"]),
    "validation/policy": (["validation/policy.py"], ["tests/unit/core/test_policy.py"]),
    "review": (["pipeline/review.py"], ["tests/unit/test_review_rules.py", "tests/unit/test_review_window.py",
                                        "tests/integration/test_review_steps.py"]),
    "counting": (["pipeline/counting.py"], ["tests/unit/test_batch_counts.py"]),
    "reports": (["reports/__init__.py"], ["tests/unit/core/test_formula_guard.py",
                                          "tests/unit/sheets/test_reports_cli.py"]),
    "revisions": (["revisions.py"], ["tests/unit/core/test_revisions.py"]),
    "limits": (["limits.py"], ["tests/unit/test_limits.py"]),
    "channels/signing": (["channels/signing.py"], ["tests/unit/channels/test_signing.py"]),
    "channels/payloads": (["channels/payloads.py"], ["tests/unit/channels/test_payloads.py"]),
    "channels/readiness": (["channels/readiness.py"], ["tests/unit/channels/test_readiness.py"]),
}

EXPLAINED = REPO / "docs" / "mutation.md"


def explained_mutants() -> set[str]:
    """Mutant names listed (in backticks) under the 'Equivalent mutants' heading of docs/mutation.md."""
    if not EXPLAINED.exists():
        return set()
    text = EXPLAINED.read_text("utf-8")
    _, _, section = text.partition("## Equivalent mutants")
    return set(re.findall(r"`(shangjia\.[^`\s]+__mutmut_\d+)`", section))


def stage(files: list[str], tests: list[str], max_children: int) -> None:
    """A fresh workspace: src/shangjia, the tests, pyproject with mutmut's settings."""
    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "src").mkdir(parents=True)
    shutil.copytree(PKG, WORK / "src" / "shangjia", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "tests", WORK / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    for extra in ("functions", "events", "infra"):   # read by a few unit tests (event samples)
        (WORK / extra).symlink_to(REPO / extra)
    pyproject = (REPO / "pyproject.toml").read_text("utf-8")
    only = ", ".join(json.dumps(f"src/shangjia/{f}") for f in files)
    selection = ", ".join(json.dumps(t) for t in tests)
    pyproject += f"""
[tool.mutmut]
source_paths = ["src/shangjia"]
only_mutate = [{only}]
pytest_add_cli_args_test_selection = [{selection}]
also_copy = ["functions", "events", "infra"]
pytest_add_cli_args = ["-p", "no:xdist", "-p", "no:cacheprovider", "-q", "-x", "-m", "not e2e and not infra and not browser", "--timeout", "120"]
max_children = {max_children}
"""
    (WORK / "pyproject.toml").write_text(pyproject, "utf-8")


def mutmut(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("SHANGJIA_CORPUS", str(REPO.parent / "shared" / "corpus"))
    # the editable install points at layers/core/python; mutmut puts mutants/src first on sys.path
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=WORK, env=env, text=True,
                          capture_output=True, check=check)


def results() -> dict[str, str]:
    out = mutmut("results", "--all", "true", check=False).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"\s*(shangjia\.\S+__mutmut_\d+):\s*(.+)$", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def module_of(mutant: str) -> str:
    return mutant.split(".x_")[0].split(".xǁ")[0]


def run(keys: list[str], max_children: int) -> int:
    explained = explained_mutants()
    failing = 0
    print(f"{'module':<34}{'mutants':>8}{'killed':>8}{'survived':>9}{'other':>7}{'score':>8}")
    reports: list[str] = []
    for key in keys:
        files, tests = MODULES[key]
        stage(files, tests, max_children)
        proc = mutmut("run", check=False)
        if proc.returncode != 0:   # e.g. the tests fail on the unmutated code: nothing was judged
            sys.stderr.write(f"mutmut run ({key}) exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}\n")
            failing += 1
        per: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for name, status in results().items():
            per[module_of(name)][status].append(name)
        for mod, by in sorted(per.items()):
            killed = len(by.get("killed", [])) + len(by.get("timeout", []))
            survived = [n for n in by.get("survived", [])]
            unexplained = [n for n in survived if n not in explained]
            other = sum(len(v) for k, v in by.items() if k not in ("killed", "timeout", "survived"))
            judged = killed + len(survived)
            # equivalent mutants cannot be killed by any test: they are left out of the score
            equivalent = len(survived) - len(unexplained)
            score = killed / (judged - equivalent) if judged - equivalent else (1.0 if judged else 0.0)
            mark = "" if score >= TARGET and not unexplained else "  <-"
            print(f"{mod:<34}{judged + other:>8}{killed:>8}{len(survived):>9}{other:>7}{score:>7.0%}{mark}")
            if score < TARGET or unexplained:
                failing += 1
            for name in unexplained:
                diff = mutmut("show", name, check=False).stdout
                reports.append(f"--- survived: {name}\n{diff.strip()}\n")
            for status, names in by.items():
                if status not in ("killed", "timeout", "survived"):
                    reports.append(f"--- {status}: {len(names)} mutant(s), e.g. {names[0]}\n")
    if reports:
        print("\n" + "\n".join(reports))
    print(f"\ntarget: {TARGET:.0%} killed per module; equivalent mutants are listed in docs/mutation.md")
    return 1 if failing else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help=f"module keys (default: all): {', '.join(MODULES)}")
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args(argv)
    keys = a.modules or list(MODULES)
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    return run(keys, a.max_children)


if __name__ == "__main__":
    raise SystemExit(main())
