"""What the merchant gets back: the template workbook and the error report.

Both are written with XlsxWriter, which writes files the way Excel does and that Excel,
LibreOffice and WPS open without repair prompts. Text is always written as text (never as a
formula); text we write that starts with = + - @ (or a tab/CR) is neutralised with a leading
apostrophe, the OWASP rule for spreadsheet formula injection, so it stays inert even when the
sheet is later saved as CSV. The merchant's own cells are written back verbatim as text
cells with Excel's quote-prefix, which keeps them inert without changing their value.
"""

from __future__ import annotations

__all__ = ["neutralise", "is_dangerous", "write_template", "write_error_report", "ReportSummary"]

# The one definition of what a spreadsheet may take for a formula (OWASP CSV injection). Defined
# before the submodules are imported: errors_report imports it from here.
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def is_dangerous(text: str) -> bool:
    """True when a spreadsheet could take ``text`` for a formula."""
    return text.startswith(_DANGEROUS)


def neutralise(text: object) -> str:
    """Text that a spreadsheet could take for a formula gets a leading apostrophe."""
    s = "" if text is None else str(text)
    return "'" + s if s.startswith(_DANGEROUS) else s


from shangjia.reports.errors_report import ReportSummary, write_error_report  # noqa: E402
from shangjia.reports.template import write_template  # noqa: E402
