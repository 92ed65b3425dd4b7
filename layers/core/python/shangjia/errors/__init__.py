"""One error model for every stage: sheets, media, review, publishing.

A ``Finding`` is what a merchant or an operator sees: a code, a severity, where (row, column,
field, file), the offending value, and a message in Chinese and English with a fix hint.
Codes are declared once, in the per-area tables of this package (``sheet``, ``media``,
``pipeline``, ``api``), and ``CODES`` merges them. ``shangjia codes`` prints the table and
``docs/error-codes.md`` is generated from it.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field as dc_field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """A declared error code. Messages are ``str.format`` templates over the finding's params."""

    code: str
    severity: Severity
    zh: str
    en: str
    hint_zh: str = ""
    hint_en: str = ""
    area: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message_zh: str
    message_en: str
    hint_zh: str = ""
    hint_en: str = ""
    row: int | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None
    file: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: v for k, v in d.items() if v not in (None, "", {})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__ if k in d})


class _Registry:
    def __init__(self) -> None:
        self._codes: dict[str, ErrorCode] = {}

    def declare(self, area: str, *codes: ErrorCode) -> None:
        for c in codes:
            if c.code in self._codes:
                raise ValueError(f"error code {c.code} declared twice")
            self._codes[c.code] = ErrorCode(c.code, c.severity, c.zh, c.en, c.hint_zh, c.hint_en, area)

    def __getitem__(self, code: str) -> ErrorCode:
        _load_all()
        return self._codes[code]

    def __contains__(self, code: str) -> bool:
        _load_all()
        return code in self._codes

    def all(self) -> list[ErrorCode]:
        _load_all()
        return sorted(self._codes.values(), key=lambda c: (c.area, c.code))


CODES = _Registry()
_LOADED = False
# Re-entrant: a table being imported may itself look a code up (same thread, nested call).
_LOAD_LOCK = threading.RLock()


def _load_all() -> None:
    """Import the code tables once. Threads (the local cloud runs handlers on many) that arrive
    while another is importing wait for it; the flag is set only once every table is declared,
    and a failed import leaves it unset so the next lookup tries again."""
    global _LOADED
    if _LOADED:                   # the fast path: set only after the tables are complete
        return
    with _LOAD_LOCK:
        if _LOADED:
            return
        # Importing each table declares its codes. Keep this list the only place that knows them.
        from . import api, auth, channel, failures, inbound, media, pipeline, sheet, stock  # noqa: F401
        _LOADED = True


class _SafeDict(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def finding(
    code: str,
    *,
    row: int | None = None,
    column: str | None = None,
    field: str | None = None,
    value: Any = None,
    file: str | None = None,
    severity: Severity | None = None,
    **params: Any,
) -> Finding:
    """Build a finding for a declared code; unknown codes are a programming error."""
    c = CODES[code]
    fmt = _SafeDict(params, field=field or "", value=value if value is not None else "",
                    row=row or "", column=column or "")
    shown = None if value is None else str(value)[:200]
    return Finding(
        code=code,
        severity=severity or c.severity,
        message_zh=c.zh.format_map(fmt),
        message_en=c.en.format_map(fmt),
        hint_zh=c.hint_zh.format_map(fmt),
        hint_en=c.hint_en.format_map(fmt),
        row=row,
        column=column,
        field=field,
        value=shown,
        file=file,
        params={k: v for k, v in params.items() if isinstance(v, (str, int, float, bool))},
    )


def has_errors(findings: list[Finding]) -> bool:
    return any(f.is_error for f in findings)


class FindingError(Exception):
    """Raised when one finding ends the unit of work (a file, an image, a request)."""

    def __init__(self, f: Finding) -> None:
        super().__init__(f"{f.code}: {f.message_en}")
        self.finding = f


def markdown_table() -> str:
    lines = ["| code | area | severity | 中文 | English | hint |", "|---|---|---|---|---|---|"]
    for c in CODES.all():
        hint = " / ".join(x for x in (c.hint_zh, c.hint_en) if x)
        lines.append(f"| `{c.code}` | {c.area} | {c.severity} | {c.zh} | {c.en} | {hint} |")
    return "\n".join(lines) + "\n"
