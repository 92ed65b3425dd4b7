#!/usr/bin/env python3
"""CDK entry point: `cdk synth` / `cdk deploy` (cdk.json runs this with .venv/bin/python), or
`python infra/app.py` (make synth) which writes the cloud assembly to ./cdk.out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
INFRA = Path(__file__).resolve().parent
sys.path.insert(0, str(INFRA))

from shangjia_infra import build_app  # noqa: E402


def main() -> None:
    # Under the CDK CLI, CDK_OUTDIR says where to write; run directly, write ./cdk.out at the repo root.
    outdir = None if os.environ.get("CDK_OUTDIR") else str(INFRA.parent / "cdk.out")
    app, _ = build_app(outdir=outdir)
    app.synth()


if __name__ == "__main__":
    main()
