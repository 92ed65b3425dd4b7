"""The Shangjia CDK app: one stack, one construct per concern, every resource built from
``shangjia.topology.TOPOLOGY`` (the same description the local cloud stands up).

    from shangjia_infra import build_app, ShangjiaStack
"""

from __future__ import annotations

from .app import CONTEXT_DEFAULTS, build_app
from .stack import ShangjiaStack

__all__ = ["CONTEXT_DEFAULTS", "ShangjiaStack", "build_app"]
