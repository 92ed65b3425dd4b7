"""What ops change without a deploy, kept in the state table (``CONFIG`` items) and read by the
functions through a short cache:

- ``banned_terms``: the banned-term list (the JSON of ``shangjia/data/banned_terms.json``), set with
  ``shangjia banned set FILE.json``; validate uses it within ``TTL_S`` seconds. Without one, the
  packaged list (or ``$SHANGJIA_BANNED_TERMS``) applies.
- ``settings``: named settings (``SETTINGS``), set with ``shangjia settings set NAME VALUE``, each
  checked when set; a missing or unreadable value is its documented default.

The state table is already granted to every function that reads these (validate, review_step):
no new resource, no new grant. The cache's clock is its own (monotonic, injectable): the
business clock (``SHANGJIA_CLOCK``) may be pinned, freshness must still move.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from shangjia.pipeline import keys
from shangjia.ports import Store

TTL_S = 60.0                        # a change is picked up within a minute
MAX_BANNED_DOC_BYTES = 350_000      # a DynamoDB item holds 400 KB


def _rate(value: Any) -> float:
    x = float(value)
    if not 0.0 <= x <= 1.0:          # also refuses NaN
        raise ValueError(f"a rate is between 0 and 1, not {value!r}")
    return x


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    doc: str


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("audit_sample_rate", 0.05, _rate,
            "share of VIP products (0..1) also sent to reviewers as an audit sample; a merchant's own "
            "vip_sample_rate overrides it"),
)}


def _setting(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(SETTINGS))}") from None


def read_settings(store: Store) -> dict[str, Any]:
    """Every setting: the stored value where there is a valid one, else its default."""
    item = store.get(*keys.config("settings")) or {}
    out = {}
    for name, s in SETTINGS.items():
        try:
            out[name] = s.parse(item[name]) if name in item else s.default
        except (TypeError, ValueError):
            out[name] = s.default            # never let a bad stored value stop the pipeline
    return out


def set_setting(store: Store, name: str, value: Any, *, at: str = "") -> Any:
    """Check and store one setting; returns the value as stored."""
    v = _setting(name).parse(value)
    pk, sk = keys.config("settings")
    store.update(pk, sk, "SET #n = :v, updated_at = :u", names={"#n": name}, values={":v": v, ":u": at})
    return v


def parse_banned_doc(text: str | bytes):
    """The list as BannedTerms, or ValueError saying what is wrong with the document."""
    from shangjia.validation.banned import BannedTerms

    try:
        doc = json.loads(text)
        groups = doc["groups"]
        if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("terms", []), list)
                                                   for g in groups):
            raise ValueError("groups must be a list of objects with a list of terms")
        bt = BannedTerms(groups, str(doc.get("version", "")))
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"not a banned-term list: {e}") from None
    if bt.term_count == 0:
        raise ValueError("not a banned-term list: no terms")
    return bt


def put_banned_terms(store: Store, text: str | bytes, *, at: str = "") -> dict[str, Any]:
    """Replace the list every validate function uses (within ``TTL_S``). Checked first: a
    document that does not parse, or holds no term, is refused and the current list stays."""
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if len(raw) > MAX_BANNED_DOC_BYTES:
        raise ValueError(f"the list is {len(raw):,} bytes; at most {MAX_BANNED_DOC_BYTES:,}")
    bt = parse_banned_doc(raw)
    pk, sk = keys.config("banned_terms")
    item = {"pk": pk, "sk": sk, "doc": raw.decode("utf-8"), "sha256": hashlib.sha256(raw).hexdigest(),
            "version": bt.version, "term_count": bt.term_count, "updated_at": at}
    store.put(item)
    return {k: item[k] for k in ("version", "term_count", "sha256", "updated_at")}


def banned_terms_item(store: Store) -> dict[str, Any] | None:
    return store.get(*keys.config("banned_terms"))


class ConfigCache:
    """Per container (one per ``Deps``): each value is read again once it is ``ttl_s`` old; the
    banned-term automaton is rebuilt only when the stored document changed."""

    def __init__(self, ttl_s: float = TTL_S, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.now = now
        self._lock = threading.Lock()
        self._read_at: dict[str, float] = {}
        self._values: dict[str, Any] = {}
        self._banned_sha: str | None = None

    def _fresh(self, name: str) -> bool:
        at = self._read_at.get(name)
        return at is not None and 0 <= self.now() - at < self.ttl_s

    def settings(self, store: Store) -> dict[str, Any]:
        with self._lock:
            if not self._fresh("settings"):
                self._values["settings"] = read_settings(store)
                self._read_at["settings"] = self.now()
            return self._values["settings"]

    def setting(self, store: Store, name: str) -> Any:
        _setting(name)
        return self.settings(store)[name]

    def banned_terms(self, store: Store):
        from shangjia.validation.banned import load_banned_terms

        with self._lock:
            if self._fresh("banned_terms"):
                return self._values["banned_terms"]
            item = banned_terms_item(store)
            sha = item.get("sha256") if item else None
            if sha is None:
                bt = load_banned_terms()                     # the packaged list (or $SHANGJIA_BANNED_TERMS)
            elif sha == self._banned_sha:
                bt = self._values["banned_terms"]            # unchanged: keep the automaton
            else:
                try:
                    bt = parse_banned_doc(item["doc"])
                except ValueError:
                    # put_banned_terms checks before storing; a hand-edited item that does not parse
                    # keeps the list in use rather than stopping validation
                    bt = self._values.get("banned_terms") or load_banned_terms()
            self._values["banned_terms"] = bt
            self._banned_sha = sha
            self._read_at["banned_terms"] = self.now()
            return bt
