"""Helpers shared by the infra tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Synth:
    app: object
    stack: object
    template: object          # aws_cdk.assertions.Template
    resources: dict           # the template's Resources, as plain JSON
    outdir: Path
    synth_error: Exception | None

    def logical_id(self, construct) -> str:
        """The CloudFormation logical id of an L2 construct of the stack."""
        stack = self.stack
        return stack.resolve(stack.get_logical_id(construct.node.default_child))

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}


def ref(value) -> str:
    """An intrinsic as a short readable string, so statements compare as sets:
    {"Fn::GetAtt": ["Q", "Arn"]} -> "Q.Arn"; {"Ref": "T"} -> "T"; Join(["", [X.Arn, "/*"]]) -> "X.Arn/*"."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return arg
        if fn == "Fn::GetAtt":
            return ".".join(arg) if isinstance(arg, list) else arg
        if fn == "Fn::Join":
            sep, parts = arg
            return sep.join(ref(p) for p in parts)
    raise AssertionError(f"unexpected intrinsic {value!r}")


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]
