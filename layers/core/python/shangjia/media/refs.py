"""Match an image reference written in a sheet to the files uploaded beside it.

Merchants write references the way their computer showed them: ``images\\红色.JPG``,
``./款式A/主图.jpg``, a bare file name, or an https URL. Uploaded files arrive as S3 keys below
the batch's prefix or as paths inside a zip. ``resolve_reference`` picks the one file meant:
exact normalised path, then the same path ignoring case, then a unique file name anywhere.
Ambiguity returns None rather than a guess (two ``1.jpg`` in different folders).
"""

from __future__ import annotations

import posixpath
import unicodedata
from typing import Iterable


def is_url(ref: str) -> bool:
    return ref.strip().lower().startswith(("https://", "http://"))


def normalise(ref: str) -> str:
    p = unicodedata.normalize("NFC", ref.strip().strip('"').replace("\\", "/"))
    parts = [x for x in p.split("/") if x not in ("", ".")]
    return "/".join(parts)


def resolve_reference(ref: str, available: Iterable[str]) -> str | None:
    """The entry of ``available`` (as given) that ``ref`` names, or None (missing or ambiguous)."""
    want = normalise(ref)
    if not want or is_url(ref):
        return None
    files = list(available)
    norm = {f: normalise(f) for f in files}
    for test in (lambda n: n == want or n.endswith("/" + want),
                 lambda n: n.casefold() == want.casefold() or n.casefold().endswith("/" + want.casefold())):
        hits = [f for f, n in norm.items() if test(n)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            exact = [f for f in hits if norm[f] == want]
            return exact[0] if len(exact) == 1 else None
    base = posixpath.basename(want).casefold()
    hits = [f for f, n in norm.items() if posixpath.basename(n).casefold() == base]
    return hits[0] if len(hits) == 1 else None
