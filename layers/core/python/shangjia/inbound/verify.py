"""Signed ERP requests: who the client is, whether the bytes are theirs, and exactly-once answers.

- A client is a name with its merchants (a non-secret record in the state table) and its
  secrets (Secrets Manager, ``shangjia/erp/<client>``: ``{"secrets": [current, previous...]}``,
  several while a secret is rotated). ``add_client`` creates both; ``client_for`` reads them.
- ``check_signature``: the Stripe-style ``X-Shangjia-Signature`` over the RAW bytes, before any
  parsing (``channels.signing.verify_webhook``: constant time, several ``v1``, ±300 s both sides).
- ``EventLog``: the event id is claimed by a conditional put (``attribute_not_exists``) that
  also records the body's hash; the answer is stored on the same item once the event is done.
  A retry of the same event gets the stored first answer; the same id with another body is a
  409; a concurrent duplicate finds the claim still open and gets a 409 "in progress" (it
  retries and then receives the first answer). A claim whose owner died (lease passed) is taken
  over by a conditional update. Refused requests (4xx) release their claim (state ``released``,
  free to claim again): nothing of the request is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets as _secrets
import uuid
from dataclasses import dataclass
from typing import Any

from shangjia.channels.signing import (SIG_MALFORMED, SIG_MISMATCH, SIG_MISSING, SIG_STALE, WEBHOOK_HEADER,
                                       SignatureError, verify_webhook)
from shangjia.ports import ConditionFailed, SecretNotFound

SECRET_PREFIX = "shangjia/erp"
CLIENT_HEADER = "X-Shangjia-Client"
EVENT_HEADER = "X-Shangjia-Event-Id"
SIGNATURE_HEADER = WEBHOOK_HEADER
WINDOW_S = 300
EVENT_TTL_S = 7 * 86400            # a retried delivery is recognised for a week
CLAIM_LEASE_S = 120                # a claim not answered by then (its owner died) may be taken over
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class InboundError(Exception):
    """A request refused: HTTP ``status`` and a declared ``INBOUND_*`` code with its params."""

    def __init__(self, status: int, code: str, **params: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.params = status, code, params

    def finding(self):
        from shangjia.errors import finding
        return finding(self.code, **self.params)


@dataclass(frozen=True)
class ErpClient:
    name: str
    merchants: tuple[str, ...]
    secrets: tuple[str, ...]
    endpoint: str = ""

    def __repr__(self) -> str:            # never the secrets, whatever prints it
        return f"ErpClient({self.name!r}, merchants={list(self.merchants)})"


def secret_name(client: str) -> str:
    return f"{SECRET_PREFIX}/{client}"


def client_key(client: str) -> tuple[str, str]:
    return f"ERPCLIENT#{client}", "CLIENT"


def event_key(client: str, event_id: str) -> tuple[str, str]:
    return f"ERPEVENT#{client}#{event_id}", "EVENT"


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name or ""))


def add_client(deps, name: str, merchants: list[str], *, endpoint: str = "", at: str = "") -> str:
    """Create (or re-key) the client; returns the new secret, which is stored and shown once.
    An existing client's secret stays valid next to the new one (rotation): the newest first."""
    if not valid_name(name):
        raise ValueError(f"bad client name {name!r} (letters, digits, - _ . ; up to 64)")
    merchants = [m.strip() for m in merchants if m.strip()]
    if not merchants or any("/" in m or "#" in m for m in merchants):
        raise ValueError("at least one merchant id (no / or #)")
    new = _secrets.token_hex(32)
    try:
        old = json.loads(deps.secrets.get(secret_name(name))).get("secrets", [])
    except SecretNotFound:
        old = []
    deps.secrets.put(secret_name(name), json.dumps({"secrets": [new, *old[:1]]}),
                     description=f"Shangjia ERP client {name}: webhook signing secrets (newest first)")
    pk, sk = client_key(name)
    deps.store.put({"pk": pk, "sk": sk, "client": name, "merchants": merchants, "endpoint": endpoint,
                    "updated_at": at})
    return new


def client_for(deps, name: str) -> ErpClient:
    """The client and its secrets; ``InboundError`` 401 when there is no such client."""
    if not name or not valid_name(name):
        raise InboundError(401, "INBOUND_UNKNOWN_CLIENT", client=(name or "")[:64] or "(none)")
    rec = deps.store.get(*client_key(name), consistent=False)
    if not rec:
        raise InboundError(401, "INBOUND_UNKNOWN_CLIENT", client=name)
    try:
        doc = json.loads(deps.secrets.get(secret_name(name)))
    except SecretNotFound:
        raise InboundError(401, "INBOUND_UNKNOWN_CLIENT", client=name) from None
    keys = tuple(s for s in doc.get("secrets", []) if isinstance(s, str) and s)
    if not keys:
        raise InboundError(401, "INBOUND_UNKNOWN_CLIENT", client=name)
    return ErpClient(name, tuple(rec.get("merchants") or ()), keys, rec.get("endpoint") or "")


def check_signature(client: ErpClient, header: str | None, raw: bytes, now: int) -> None:
    """Raise ``InboundError`` unless ``header`` signs ``raw`` with one of the client's secrets
    within ±``WINDOW_S``. Signature first, then the clock (a stale answer means authentic)."""
    try:
        verify_webhook(header or "", raw, list(client.secrets), now, tolerance_s=WINDOW_S)
    except SignatureError as e:
        if e.code == SIG_MISSING:
            raise InboundError(401, "INBOUND_UNSIGNED", header=SIGNATURE_HEADER) from None
        if e.code == SIG_MALFORMED:
            raise InboundError(401, "INBOUND_SIGNATURE_MALFORMED", reason=str(e).split(": ", 1)[-1]) from None
        if e.code == SIG_STALE:
            t = signed_at(header or "")
            raise InboundError(401, "INBOUND_TIMESTAMP_OUT_OF_WINDOW", skew=f"{now - t:+d}", window=WINDOW_S) from None
        assert e.code == SIG_MISMATCH
        raise InboundError(401, "INBOUND_SIGNATURE_MISMATCH", client=client.name) from None


def signed_at(header: str) -> int:
    """The ``t`` of a header ``check_signature`` accepted."""
    return int(re.search(r"(?:^|,)\s*t=(\d+)", header).group(1))


def check_event_id(event_id: str | None) -> str:
    if not event_id:
        raise InboundError(400, "INBOUND_EVENT_ID_MISSING", reason=f"no {EVENT_HEADER} header")
    if not _EVENT_ID.match(event_id):
        raise InboundError(400, "INBOUND_EVENT_ID_MISSING", reason="1–128 characters of A-Z a-z 0-9 - _ . :")
    return event_id


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass
class Claim:
    """``answer`` set: the event was answered before (replay it). Else we own the event."""
    answer: dict[str, Any] | None
    owner: str = ""


class EventLog:
    """The event-id ledger of one client, through the Store port."""

    def __init__(self, store, client: str) -> None:
        self.store, self.client = store, client

    def claim(self, event_id: str, digest: str, now: int) -> Claim:
        pk, sk = event_key(self.client, event_id)
        me = uuid.uuid4().hex
        item = {"pk": pk, "sk": sk, "client": self.client, "event_id": event_id, "body_sha256": digest,
                "state": "processing", "owner": me, "lease_until": now + CLAIM_LEASE_S, "ttl": now + EVENT_TTL_S}
        try:
            self.store.put(item, condition="attribute_not_exists(pk) OR #s = :r", names={"#s": "state"},
                           values={":r": "released"})
        except ConditionFailed:
            return self._taken(pk, sk, event_id, digest, now, me)
        # Read back: an emulator whose conditional writes race under threads must not let two in.
        if (self.store.get(pk, sk) or {}).get("owner") != me:
            return self._taken(pk, sk, event_id, digest, now, me)
        return Claim(None, me)

    def _taken(self, pk: str, sk: str, event_id: str, digest: str, now: int, me: str) -> Claim:
        held = self.store.get(pk, sk) or {}
        if held.get("body_sha256") not in (None, digest):
            raise InboundError(409, "INBOUND_EVENT_REUSED", event_id=event_id)
        if held.get("state") == "done":
            return Claim(held.get("answer") or {})
        if int(held.get("lease_until") or 0) >= now:
            raise InboundError(409, "INBOUND_EVENT_IN_PROGRESS", event_id=event_id)
        try:                                  # its owner died: take over, once
            self.store.update(pk, sk, "SET #o = :me, lease_until = :l", condition="#o = :old AND #s = :p",
                              names={"#o": "owner", "#s": "state"},
                              values={":me": me, ":l": now + CLAIM_LEASE_S, ":old": held.get("owner"),
                                      ":p": "processing"})
        except ConditionFailed:
            raise InboundError(409, "INBOUND_EVENT_IN_PROGRESS", event_id=event_id) from None
        return Claim(None, me)

    def answer(self, event_id: str, owner: str, answer: dict[str, Any]) -> None:
        pk, sk = event_key(self.client, event_id)
        self.store.update(pk, sk, "SET #s = :d, answer = :a REMOVE lease_until", condition="#o = :me",
                          names={"#s": "state", "#o": "owner"}, values={":d": "done", ":a": answer, ":me": owner})

    def release(self, event_id: str, owner: str) -> None:
        """Forget a claim whose request was refused or failed: nothing was done under it."""
        pk, sk = event_key(self.client, event_id)
        try:
            self.store.update(pk, sk, "SET #s = :r REMOVE lease_until", condition="#o = :me AND #s = :p",
                              names={"#o": "owner", "#s": "state"}, values={":me": owner, ":p": "processing",
                                                                          ":r": "released"})
        except ConditionFailed:
            pass
