"""The one status model for products, and a pure transition table.

Every write of a product status goes through ``can_transition`` (the store turns it into a
DynamoDB condition), so a late or duplicate message can never move a product backwards.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ProductStatus(StrEnum):
    UPLOADED = "uploaded"          # rows received from a sheet or webhook
    VALIDATING = "validating"      # rules running
    NEEDS_FIX = "needs_fix"        # the merchant must fix rows, images or review findings
    CHECKED = "checked"            # valid, from a check-only upload: goes no further
    HELD = "held"                  # valid, but its batch stopped above the error-rate threshold
    MEDIA = "media"                # valid; images being processed
    IN_REVIEW = "in_review"        # review execution started
    APPROVED = "approved"          # both review stages passed
    REJECTED = "rejected"          # a reviewer rejected (reason codes kept); merchant re-uploads
    SCHEDULED = "scheduled"        # waiting for the publishing window
    PUBLISHING = "publishing"      # handed to channel queues; each channel's listing has its own state
    PUBLISHED = "published"        # listed on every requested channel
    FAILED = "failed"              # a bug or an exhausted retry; ops looks at it


S = ProductStatus

TRANSITIONS: dict[ProductStatus, frozenset[ProductStatus]] = {
    S.UPLOADED: frozenset({S.VALIDATING, S.NEEDS_FIX, S.FAILED}),
    S.VALIDATING: frozenset({S.NEEDS_FIX, S.MEDIA, S.IN_REVIEW, S.CHECKED, S.HELD, S.FAILED}),
    S.CHECKED: frozenset({S.UPLOADED}),
    S.HELD: frozenset({S.UPLOADED}),
    S.NEEDS_FIX: frozenset({S.UPLOADED}),
    S.MEDIA: frozenset({S.IN_REVIEW, S.NEEDS_FIX, S.FAILED}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.NEEDS_FIX, S.FAILED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.PUBLISHING, S.FAILED}),
    S.REJECTED: frozenset({S.UPLOADED, S.NEEDS_FIX}),
    S.SCHEDULED: frozenset({S.PUBLISHING, S.FAILED}),
    # every requested channel's listing settled: all live -> published; any rejected by a platform's
    # audit or refused for good -> needs_fix with findings naming the channel (docs/channels.md)
    S.PUBLISHING: frozenset({S.PUBLISHED, S.NEEDS_FIX, S.FAILED}),
    S.PUBLISHED: frozenset({S.UPLOADED}),   # a new upload of the same product starts over
    S.FAILED: frozenset({S.UPLOADED}),
}

# A fresh upload of a product may replace any settled state (never one in flight).
RESUBMITTABLE = frozenset({S.NEEDS_FIX, S.REJECTED, S.PUBLISHED, S.FAILED, S.CHECKED, S.HELD})
TERMINAL_FOR_BATCH = frozenset({S.NEEDS_FIX, S.REJECTED, S.PUBLISHED, S.FAILED, S.CHECKED, S.HELD})


def can_transition(current: ProductStatus | str | None, target: ProductStatus | str) -> bool:
    """True when ``current -> target`` is allowed; ``None`` (no record yet) may only become uploaded."""
    target = ProductStatus(target)
    if current is None:
        return target is S.UPLOADED
    return target in TRANSITIONS[ProductStatus(current)]


def sources_of(target: ProductStatus | str) -> frozenset[ProductStatus]:
    """Every status from which ``target`` may be reached (used to build store conditions)."""
    target = ProductStatus(target)
    return frozenset(s for s, nexts in TRANSITIONS.items() if target in nexts)


class BatchStatus(StrEnum):
    RECEIVED = "received"
    INGESTING = "ingesting"
    PROCESSING = "processing"    # all products handed on; stages running
    SETTLED = "settled"          # every product settled (or superseded): final, outcome counts kept
    DONE = "settled"             # the old name of SETTLED (an alias: same member)
    REJECTED = "rejected"        # the file itself was refused (unreadable, hostile, over limits)


B = BatchStatus

# A batch is one upload: its final states are final (the merchant's next upload is a new batch).
# Every other state reaches one of them; ``pipeline/batches.py`` writes each move conditioned on
# the sources this table allows, so a late or duplicate writer can never move a batch backwards.
BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    B.RECEIVED: frozenset({B.INGESTING, B.REJECTED}),
    B.INGESTING: frozenset({B.PROCESSING, B.REJECTED}),
    B.PROCESSING: frozenset({B.SETTLED}),
    B.SETTLED: frozenset(),
    B.REJECTED: frozenset(),
}
BATCH_FINAL = frozenset(s for s, nexts in BATCH_TRANSITIONS.items() if not nexts)


def can_batch_transition(current: BatchStatus | str | None, target: BatchStatus | str) -> bool:
    """True when a batch may move ``current -> target``; ``None`` (no record yet) only to received."""
    target = BatchStatus(target)
    if current is None:
        return target is B.RECEIVED
    return target in BATCH_TRANSITIONS[BatchStatus(current)]


def batch_sources_of(target: BatchStatus | str) -> frozenset[BatchStatus]:
    target = BatchStatus(target)
    return frozenset(s for s, nexts in BATCH_TRANSITIONS.items() if target in nexts)


# --- how a move is recorded ---------------------------------------------------------------------
# A product's (and a listing's) history is a list of entries, one per move, stored as one string
# each: "<status> <at>" and, where the batch changes (the admission that starts a revision),
# "<status> <at> <batch>". Every status move rewrites the item it is on and pays one WRU per
# started KB of it: a string entry is about 34 bytes where a map of the same fields is about 48
# (and 78 with its batch named), so a product's six moves and a listing's four keep them under
# the next KB. ``read_history`` also reads the maps older items hold.


def history_entry(status: str, at: str, batch_id: str | None = None) -> str:
    """One stored entry: the move to ``status`` at ``at`` (ISO time), naming ``batch_id`` only
    where the batch changes."""
    return f"{status} {at} {batch_id}" if batch_id else f"{status} {at}"


def read_history(entries: Any, field: str = "status") -> list[dict[str, Any]]:
    """Stored entries as dicts ``{field, at, batch_id}``, each with its batch (an entry that names
    none is of the batch last named before it); anything that is not an entry is skipped."""
    out: list[dict[str, Any]] = []
    batch = None
    for h in entries or []:
        if isinstance(h, str):
            parts = h.split(" ", 2)
            if len(parts) < 2:
                continue
            e: dict[str, Any] = {field: parts[0], "at": parts[1]}
            if len(parts) > 2:
                e["batch_id"] = parts[2]
        elif isinstance(h, dict):
            e = dict(h)
        else:
            continue
        if e.get("batch_id") is not None:
            batch = e["batch_id"]
        out.append({**e, "batch_id": e.get("batch_id", batch)})
    return out
