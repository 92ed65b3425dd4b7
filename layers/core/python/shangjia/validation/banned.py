"""Banned-term scanning with one Aho-Corasick automaton (ahocorasick-rs).

All terms and all allowed contexts go into one automaton; a term hit that lies inside an
allowed-context hit (最佳 inside 最佳赏味期) is dropped. Text is matched half-width and lower
case, with zero-width characters removed, so ＮＯ.１ and 最\u200b佳 are still found. A term's
Latin end is matched as a word (no ASCII letter or digit next to it: "top10" is not TOP1);
Chinese ends match anywhere.

The list is data (``shangjia/data/banned_terms.json``) and replaceable at run time without a
deploy: point ``SHANGJIA_BANNED_TERMS`` at another JSON file (it is re-read when the file
changes), or build ``BannedTerms.from_json(...)`` from anywhere (an S3 object) and pass it in
the ``ValidationContext``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from shangjia.spec import DATA_DIR, to_halfwidth

ENV_VAR = "SHANGJIA_BANNED_TERMS"


@dataclass(frozen=True, slots=True)
class TermGroup:
    reason: str
    severity: str
    zh: str
    en: str
    exempt_categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    term: str
    start: int
    end: int
    group: TermGroup


class BannedTerms:
    def __init__(self, groups: list[dict], version: str = "") -> None:
        import ahocorasick_rs as ac

        self.version = version
        self.groups: list[TermGroup] = []
        patterns: list[str] = []
        kinds: list[tuple[bool, TermGroup | None, str]] = []   # (is_context, group, original)
        seen: dict[str, int] = {}
        for g in groups:
            grp = TermGroup(g.get("reason", ""), g.get("severity", "error"), g.get("zh", ""), g.get("en", ""),
                            tuple(g.get("exempt_categories", ())))
            self.groups.append(grp)
            for t in g.get("terms", ()):
                k = self._norm(t)
                if k and k not in seen:
                    seen[k] = len(patterns)
                    patterns.append(k)
                    kinds.append((False, grp, t))
            for c in g.get("allowed_contexts", ()):
                k = self._norm(c)
                if k and k not in seen:
                    seen[k] = len(patterns)
                    patterns.append(k)
                    kinds.append((True, None, c))
                elif k in seen and not kinds[seen[k]][0]:
                    pass    # a context equal to a term: the term wins
        self.term_count = sum(1 for k in kinds if not k[0])
        self._kinds = kinds
        # A Latin term is a word: it must not run on into ASCII letters or digits ("top10", "stop1"
        # and "no.10" are not TOP1 / NO.1). Per pattern: (check the character before, after).
        # CJK ends keep substring matching (Chinese has no spaces between words).
        self._edges = [(_word(k[0]), _word(k[-1])) for k in patterns]
        self._has_contexts = any(k[0] for k in kinds)
        self._ac = ac.AhoCorasick(patterns, matchkind=ac.MatchKind.Standard) if patterns else None

    @staticmethod
    def _norm(s: str) -> str:
        return to_halfwidth(s).lower().strip()

    @classmethod
    def from_json(cls, text: str | bytes) -> "BannedTerms":
        d = json.loads(text)
        return cls(d["groups"], d.get("version", ""))

    @classmethod
    def from_terms(cls, terms: Iterable[str], reason: str = "custom", severity: str = "error") -> "BannedTerms":
        return cls([{"reason": reason, "severity": severity, "zh": reason, "en": reason, "terms": list(terms)}])

    def scan(self, text: str, category_path: str | None = None, per_position: bool = False) -> list[Hit]:
        """Hits in ``text``; groups exempt for the category are skipped. Empty list when clean.
        Each term is reported once, unless ``per_position`` (then every occurrence).
        ``start``/``end`` index ``text`` as given, even where matching dropped characters."""
        if not text or self._ac is None:
            return []
        t = text.lower() if text.isascii() else to_halfwidth(text).lower()
        back: list[int] | None = None
        if len(t) != len(text):
            # Zero-width characters were dropped (or a lower-case form is longer): match the
            # same normalised text, built per character so a hit maps back to where it is.
            parts = [to_halfwidth(ch).lower() for ch in text]
            t = "".join(parts)
            back = [i for i, p in enumerate(parts) for _ in p]
        matches = self._ac.find_matches_as_indexes(t, overlapping=True)
        if not matches:
            return []
        kinds = self._kinds
        ctx = [(s, e) for i, s, e in matches if kinds[i][0]] if self._has_contexts else []
        out: list[Hit] = []
        seen: set[str] = set()
        edges = self._edges
        n = len(t)
        for i, s, e in matches:
            is_ctx, grp, orig = kinds[i]
            if is_ctx:
                continue
            lead, tail = edges[i]
            if (lead and s > 0 and _word(t[s - 1])) or (tail and e < n and _word(t[e])):
                continue
            if ctx and any(cs <= s and e <= ce for cs, ce in ctx):
                continue
            if category_path and grp.exempt_categories and any(
                    category_path.startswith(p) for p in grp.exempt_categories):
                continue
            if not per_position:
                if orig in seen:
                    continue
                seen.add(orig)
            out.append(Hit(orig, s, e, grp) if back is None else Hit(orig, back[s], back[e - 1] + 1, grp))
        return out


def _word(ch: str) -> bool:
    """An ASCII letter or digit: what a Latin term may not touch."""
    return ch.isascii() and ch.isalnum()


_lock = threading.Lock()
_cache: dict[str, tuple[tuple, BannedTerms]] = {}


def default_path() -> Path:
    return DATA_DIR / "banned_terms.json"


def load_banned_terms(path: str | os.PathLike | None = None) -> BannedTerms:
    """The active list: ``path``, else ``$SHANGJIA_BANNED_TERMS``, else the packaged default.
    Cached per file and re-read when its size or mtime changes (a swap needs no restart)."""
    p = Path(path or os.environ.get(ENV_VAR) or default_path())
    st = p.stat()
    key = (st.st_mtime_ns, st.st_size)
    with _lock:
        hit = _cache.get(str(p))
        if hit and hit[0] == key:
            return hit[1]
    bt = BannedTerms.from_json(p.read_bytes())
    with _lock:
        _cache[str(p)] = (key, bt)
    return bt
