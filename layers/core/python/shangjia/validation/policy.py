"""Batch policy: what happens to a batch when products fail validation.

The merchant picks a mode per upload; the pipeline applies it with these two pure functions:
``decide_product`` (what to do with one validated product) and ``decide_batch`` (whether the
batch goes on, asked after each product and once at the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shangjia.errors import Finding, finding

Mode = Literal["skip_invalid", "stop_on_error_rate", "check_only"]
MODES: tuple[str, ...] = ("skip_invalid", "stop_on_error_rate", "check_only")


@dataclass(frozen=True)
class BatchPolicy:
    mode: Mode = "skip_invalid"
    max_error_rate: float = 0.05       # stop_on_error_rate: invalid products / products seen
    min_products: int = 20             # don't judge the rate on fewer products (except at the end)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown batch mode {self.mode!r}; one of {', '.join(MODES)}")
        if not 0.0 <= self.max_error_rate <= 1.0:
            raise ValueError("max_error_rate is a fraction between 0 and 1")

    @classmethod
    def from_dict(cls, d: dict | None) -> "BatchPolicy":
        d = d or {}
        return cls(mode=d.get("mode", "skip_invalid"), max_error_rate=float(d.get("max_error_rate", 0.05)),
                   min_products=int(d.get("min_products", 20)))

    def to_dict(self) -> dict:
        return {"mode": self.mode, "max_error_rate": self.max_error_rate, "min_products": self.min_products}


@dataclass
class BatchTally:
    products: int = 0
    invalid: int = 0
    skus: int = 0

    def add(self, valid: bool, skus: int = 0) -> None:
        self.products += 1
        self.skus += skus
        if not valid:
            self.invalid += 1

    @property
    def error_rate(self) -> float:
        return self.invalid / self.products if self.products else 0.0


ProductAction = Literal["forward", "needs_fix", "hold"]


def decide_product(policy: BatchPolicy, valid: bool) -> ProductAction:
    """forward: on to media/review. needs_fix: reported back to the merchant. hold: check-only
    mode — the product is reported (valid or not) and goes no further."""
    if policy.mode == "check_only":
        return "hold"
    return "forward" if valid else "needs_fix"


@dataclass(frozen=True)
class BatchDecision:
    stop: bool
    finding: Finding | None = None


def decide_batch(policy: BatchPolicy, tally: BatchTally, *, final: bool = False) -> BatchDecision:
    """Stop the batch when the error rate is above the threshold (stop_on_error_rate mode only).
    Mid-batch the rate is judged once ``min_products`` have been seen; at the end, always."""
    if policy.mode != "stop_on_error_rate" or tally.products == 0:
        return BatchDecision(False)
    if not final and tally.products < policy.min_products:
        return BatchDecision(False)
    rate = tally.error_rate
    if rate > policy.max_error_rate:
        return BatchDecision(True, finding("BATCH_ERROR_RATE", rate=round(rate * 100, 1),
                                           threshold=round(policy.max_error_rate * 100, 1),
                                           invalid=tally.invalid, products=tally.products))
    return BatchDecision(False)
