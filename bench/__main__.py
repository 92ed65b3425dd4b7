from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    only = set(argv)
    rc = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        print(f"\n=== bench {name} ===", flush=True)
        rc |= subprocess.call([sys.executable, "-m", f"bench.{path.stem}"], cwd=HERE.parent)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
