"""Counts every request the local cloud serves, per service and operation, and prices them at
AWS list prices (us-east-1, on-demand, arm64 Lambda), split into orchestration and media as
``../shared/ARCHITECTURE.md`` defines. DynamoDB capacity units are computed from item sizes the
way AWS bills on-demand tables (``item_size``, ``write_units``, ``read_units``): the server's
middleware looks items up in moto's backend before and after each request. A request it cannot
measure falls back to an estimate from the request/response size and is counted in
``units["ddb_estimated"]``. See docs/cost-model.md."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shangjia.limits import item_size  # noqa: F401 - the one copy (DynamoDB's item size), used here and re-exported

# USD, us-east-1 list prices (2026): per unit named
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s": 0.0000133334,          # arm64
    "sqs_request": 0.40 / 1e6,            # standard queue, per 64 KB chunk
    "sfn_transition": 0.025 / 1000,       # Standard workflows
    "sfn_express_request": 1.00 / 1e6,    # Express workflows: per execution
    "sfn_express_gb_s": 0.00001667,       # Express duration, billed in 64 MB units

    "ddb_wru": 0.625 / 1e6,               # on-demand
    "ddb_rru": 0.125 / 1e6,
    "s3_put": 0.005 / 1000,               # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,              # GET, HEAD and others
    "s3_gb_month": 0.023,
    "apigw_request": 1.00 / 1e6,          # HTTP API
}
MEDIA_FUNCTIONS = frozenset({"media"})
DDB_WRITE_OPS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
DDB_READ_OPS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def write_units(before: int, after: int, transactional: bool = False) -> int:
    """WRU of one item write: 1 per started KB of the larger of the item before and after (a put
    that replaces, an update, a delete, a conditional write that failed), at least 1; a write in
    a transaction costs twice."""
    units = max(1, math.ceil(max(before, after) / WRITE_UNIT_BYTES))
    return units * 2 if transactional else units


def read_units(size: int, consistent: bool = True, transactional: bool = False) -> float:
    """RRU of one read (GetItem, or a whole Query/Scan page with ``size`` the sum of the items
    read): 1 per started 4 KB, at least 1; half that eventually consistent; twice in a
    transaction."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    if transactional:
        return units * 2
    return units if consistent else units / 2


def index_write_units(before: dict | None, after: dict | None, key_attrs: tuple[str, ...]) -> int:
    """WRU a table write costs in one global secondary index projecting ALL attributes. An item
    is in the index when it has every index key attribute. Put into / delete from the index: the
    item's size; the index keys changed: a delete plus a put; the item changed in place: the
    larger size; nothing changed (or the item is in the index neither before nor after): 0."""
    was = before is not None and all(k in before for k in key_attrs)
    now = after is not None and all(k in after for k in key_attrs)
    if not was and not now:
        return 0
    if was and not now:
        return write_units(item_size(before), 0)
    if now and not was:
        return write_units(0, item_size(after))
    if all(before[k] == after[k] for k in key_attrs):
        return 0 if before == after else write_units(item_size(before), item_size(after))
    return write_units(item_size(before), 0) + write_units(0, item_size(after))


@dataclass
class Meter:
    requests: Counter = field(default_factory=Counter)            # (service, operation) -> n
    units: Counter = field(default_factory=Counter)               # priced units by category
    lambda_invocations: Counter = field(default_factory=Counter)  # function -> n
    lambda_gb_s: Counter = field(default_factory=Counter)         # function -> GB-s
    lambda_errors: Counter = field(default_factory=Counter)
    lambda_wall_gb_s: Counter = field(default_factory=Counter)    # as measured here (contention included)
    lambda_cpu_s: Counter = field(default_factory=Counter)
    observer_requests: Counter = field(default_factory=Counter)   # service -> n, not priced
    by_caller: Counter = field(default_factory=Counter)           # function / "states" -> requests
    ddb_by_caller: Counter = field(default_factory=Counter)       # (caller, "wru"|"rru"|"measured"|"estimated")
    # WRU per partition key (table keys as is, index keys as "gsi1:<key>"): the hot keys the
    # capacity model (shangjia.capacity) holds against DynamoDB's 1,000 WRU/s per partition
    ddb_partition_wru: Counter = field(default_factory=Counter)
    caller_service: Counter = field(default_factory=Counter)      # (caller, service) -> requests
    caller_ops: Counter = field(default_factory=Counter)          # (caller, service, op) -> requests
    # (caller, op, item kinds) -> DynamoDB requests: which items a caller's requests name (census)
    caller_ddb_kinds: Counter = field(default_factory=Counter)
    # (caller, op, item kinds) -> WRU, table and indexes: what each kind of write costs (census)
    caller_ddb_kind_wru: Counter = field(default_factory=Counter)
    state_transitions: int = 0
    express_executions: int = 0
    express_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, service: str, op: str, req_bytes: int, resp_bytes: int, s3_media: bool = False,
                caller: str = "function", ddb_units: tuple[float, float, bool] | None = None,
                ddb_partitions: list[tuple[str, float]] | None = None, ddb_kinds: str | None = None) -> None:
        """Count a request. Observers (the demo's progress display, the simulated reviewer's task
        polling, tests, the CLI) are counted apart and never priced as the workload's cost.
        ``ddb_units`` is (WRU, RRU, exact) measured from item sizes (exact False: partly
        estimated); without it a DynamoDB request's units are estimated from the request and
        response sizes. Either way an estimated request is counted in ``units["ddb_estimated"]``."""
        with self._lock:
            if caller == "observer":
                self.observer_requests[service] += 1
                return
            self.requests[(service, op)] += 1
            self.by_caller[caller] += 1
            self.caller_service[(caller, service)] += 1
            self.caller_ops[(caller, service, op)] += 1
            if ddb_kinds:
                self.caller_ddb_kinds[(caller, op, ddb_kinds)] += 1
            for pk, units in ddb_partitions or ():
                self.ddb_partition_wru[pk] += units
            if service == "sqs" and op.endswith("(empty)"):
                pass
            elif service == "sqs":
                self.units["sqs_request"] += max(1, math.ceil(req_bytes / 65536)) if op.startswith("Send") else 1
            elif service == "dynamodb":
                if ddb_units is not None:
                    wru, rru, exact = ddb_units
                elif op in DDB_WRITE_OPS:
                    wru, rru, exact = max(1, math.ceil(req_bytes / WRITE_UNIT_BYTES)), 0, False
                elif op in DDB_READ_OPS:
                    wru, rru, exact = 0, max(1, math.ceil(resp_bytes / READ_UNIT_BYTES)), False
                else:
                    wru, rru, exact = 0, 0, True
                if wru or rru:
                    kind = "measured" if exact else "estimated"
                    self.units[f"ddb_{kind}"] += 1
                    self.ddb_by_caller[(caller, kind)] += 1
                self.units["ddb_wru"] += wru
                self.units["ddb_rru"] += rru
                self.ddb_by_caller[(caller, "wru")] += wru
                if wru and ddb_kinds:
                    self.caller_ddb_kind_wru[(caller, op, ddb_kinds)] += wru
                self.ddb_by_caller[(caller, "rru")] += rru
            elif service == "s3":
                kind = "s3_put" if op in ("PutObject", "CopyObject", "ListObjects", "PostObject") else "s3_get"
                self.units[("media_" if s3_media else "orch_") + kind] += 1
                if op == "PutObject" and s3_media:
                    self.units["media_s3_bytes"] += req_bytes
            elif service == "apigateway":
                self.units["apigw_request"] += 1

    def invocation(self, function: str, wall_s: float, cpu_s: float, memory_mb: int, error: bool) -> None:
        """Lambda bills wall time rounded up to the millisecond. Here many handlers share two cores
        and one emulator, so wall time mostly measures waiting on each other; the billed estimate
        is the handler thread's own CPU time plus its time off-CPU capped at 20 ms + 10% of the CPU
        time (what waiting on AWS's own calls would add). The raw wall figure is kept beside it."""
        with self._lock:
            self.lambda_invocations[function] += 1
            self.lambda_wall_gb_s[function] += wall_s * memory_mb / 1024
            self.lambda_cpu_s[function] += cpu_s
            billed = cpu_s + min(max(wall_s - cpu_s, 0.0), 0.02 + 0.1 * cpu_s)
            self.lambda_gb_s[function] += math.ceil(billed * 1000) / 1000 * memory_mb / 1024
            if error:
                self.lambda_errors[function] += 1

    def snapshot(self) -> dict:
        with self._lock:
            by_service = Counter()
            for (svc, _op), n in self.requests.items():
                by_service[svc] += n
            return {"requests": dict(by_service), "operations": {f"{s}:{o}": n for (s, o), n in self.requests.items()},
                    "units": dict(self.units), "lambda_invocations": dict(self.lambda_invocations),
                    "lambda_gb_s": {k: round(v, 3) for k, v in self.lambda_gb_s.items()},
                    "lambda_wall_gb_s": {k: round(v, 3) for k, v in self.lambda_wall_gb_s.items()},
                    "lambda_errors": dict(self.lambda_errors), "state_transitions": self.state_transitions,
                    "express_executions": self.express_executions,
                    "lambda_cpu_s": {k: round(v, 2) for k, v in self.lambda_cpu_s.items()},
                    "requests_by_caller": dict(self.by_caller), "observer_requests": dict(self.observer_requests),
                    "ddb_units_by_caller": {f"{c}:{k}": v for (c, k), v in self.ddb_by_caller.items() if v}}

    def cost(self) -> dict[str, dict[str, float]]:
        """Dollars for what was counted, split into orchestration and media."""
        u, p = self.units, PRICES
        orch_fn_gb_s = sum(v for k, v in self.lambda_gb_s.items() if k not in MEDIA_FUNCTIONS)
        media_fn_gb_s = sum(v for k, v in self.lambda_gb_s.items() if k in MEDIA_FUNCTIONS)
        orchestration = {
            "step_functions": self.state_transitions * p["sfn_transition"],
            "step_functions_express": self.express_executions * p["sfn_express_request"]
            + self.express_seconds * 0.0625 * p["sfn_express_gb_s"],
            "sqs": u["sqs_request"] * p["sqs_request"],
            "lambda_requests": sum(self.lambda_invocations.values()) * p["lambda_request"],
            "lambda_gb_s": orch_fn_gb_s * p["lambda_gb_s"],
            "dynamodb": u["ddb_wru"] * p["ddb_wru"] + u["ddb_rru"] * p["ddb_rru"],
            "s3_sheets": u["orch_s3_put"] * p["s3_put"] + u["orch_s3_get"] * p["s3_get"],
            "api_gateway": u["apigw_request"] * p["apigw_request"],
        }
        media = {
            "s3_requests": u["media_s3_put"] * p["s3_put"] + u["media_s3_get"] * p["s3_get"],
            "s3_storage_month": u["media_s3_bytes"] / 1e9 * p["s3_gb_month"],
            "lambda_gb_s": media_fn_gb_s * p["lambda_gb_s"],
        }
        return {"orchestration": orchestration, "media": media}


def request_item_kinds(op: str, request: dict) -> str | None:
    """The kinds of the items a DynamoDB request names, ``PRODUCT/META`` or for a batch read
    ``PRODUCT/DATA+PRODUCT/META`` (ids left out, ``partition_kind``); queries name their key
    condition's partition. None when it names none the census can tell."""
    def kind(key: dict) -> str:
        pk = next(iter((key.get("pk") or {}).values()), "")
        sk = next(iter((key.get("sk") or {}).values()), "")
        return f"{partition_kind(str(pk)).split('#')[0]}/{str(sk).split('#')[0]}"

    if op in ("GetItem", "UpdateItem", "DeleteItem"):
        return kind(request.get("Key") or {})
    if op == "PutItem":
        return kind(request.get("Item") or {})
    if op == "BatchGetItem":
        keys = [k for t in (request.get("RequestItems") or {}).values() for k in t.get("Keys") or []]
        return "+".join(sorted({kind(k) for k in keys}))
    if op == "BatchWriteItem":
        reqs = [r for t in (request.get("RequestItems") or {}).values() for r in t]
        return "+".join(sorted({kind((r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key")
                                     or {}) for r in reqs}))
    if op == "TransactWriteItems":
        out = set()
        for a in request.get("TransactItems") or []:
            body = next(iter(a.values()), {})
            out.add(kind(body.get("Item") or body.get("Key") or {}))
        return "+".join(sorted(out))
    if op == "Query":
        vals = request.get("ExpressionAttributeValues") or {}
        first = next((next(iter(v.values())) for v in vals.values() if isinstance(v, dict)), "")
        return f"{request.get('IndexName') or 'table'}:{partition_kind(str(first)).split('#')[0]}"
    return None


def partition_kind(pk: str) -> str:
    """What a partition key names, without its ids: ``BATCH#ab12`` -> ``BATCH``,
    ``gsi1:BATCH#ab12#PRODUCTS`` -> ``gsi1:BATCH#*#PRODUCTS``. The capacity model judges hot keys
    per kind."""
    index, _, key = pk.rpartition(":") if pk.startswith("gsi") else ("", "", pk)
    parts = key.split("#")
    shape = "#".join([parts[0]] + [p if p.isupper() and p.isalpha() else "*" for p in parts[1:]])
    return f"{index}:{shape}" if index else shape


_PROFILED = ("caller_service", "ddb_partition_wru", "requests", "lambda_invocations", "lambda_cpu_s",
             "lambda_gb_s", "units")


def counts(meter: Meter) -> dict[str, Any]:
    """The counters a profile is made of, as they are now (``Meter.snapshot`` is the JSON view of
    all of them): ``profile(..., since=)`` counts what happened after (a run's second phase,
    apart from its first)."""
    with meter._lock:
        out: dict[str, Any] = {k: Counter(getattr(meter, k)) for k in _PROFILED}
        out["state_transitions"], out["express_executions"] = meter.state_transitions, meter.express_executions
        return out


def profile(meter: Meter, *, skus: int, products: int, images: int, memory_mb: dict[str, int],
            source: str, since: dict[str, Any] | None = None) -> dict:
    """The measured per-stage figures of one run, per SKU where it scales with the work: what the
    capacity model (``shangjia.capacity``, ``shangjia capacity``) takes. Stages are functions;
    requests are counted by who made them (a function's own calls and its event-source
    mapping's polls and deletes). ``since``: ``counts`` taken earlier; only what the meter
    counted after it (``skus``, ``products`` and ``images`` are that phase's)."""
    now = counts(meter)
    if since is not None:
        for k in _PROFILED:
            now[k] = Counter({key: v - since[k].get(key, 0) for key, v in now[k].items() if v - since[k].get(key, 0)})
        for k in ("state_transitions", "express_executions"):
            now[k] = max(0, now[k] - since[k])
    units, ops = now["units"], now["requests"]
    fn_requests: Counter = Counter()
    for (caller, _svc), n in now["caller_service"].items():
        fn_requests[caller.removeprefix("esm:")] += n
    kinds: dict[str, dict[str, float]] = {}
    for pk, wru in now["ddb_partition_wru"].items():
        k = kinds.setdefault(partition_kind(pk), {"keys": 0, "wru": 0.0, "max_key_wru": 0.0})
        k["keys"] += 1
        k["wru"] += wru
        k["max_key_wru"] = max(k["max_key_wru"], wru)
    functions = {fn: {"invocations": n, "cpu_s": round(now["lambda_cpu_s"][fn], 3),
                      "gb_s": round(now["lambda_gb_s"][fn], 3), "memory_mb": memory_mb.get(fn, 128),
                      "requests": fn_requests.get(fn, 0)}
                 for fn, n in now["lambda_invocations"].items()}
    by_service: Counter = Counter()
    for (svc, _op), n in ops.items():
        by_service[svc] += n
    return {
        "source": source,
        "workload": {"skus": skus, "products": products, "images": images},
        "functions": functions,
        "requests": dict(by_service),
        "dynamodb": {"wru": round(units["ddb_wru"], 1), "rru": round(units["ddb_rru"], 1)},
        "stepfunctions": {
            # Express executions are started with the same StartExecution call
            "standard_starts": max(0, ops.get(("states", "StartExecution"), 0) - now["express_executions"]),
            "express_starts": now["express_executions"],
            "transitions": now["state_transitions"],
            "task_responses": sum(ops.get(("states", op), 0) for op in
                                  ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"))},
        "sqs_sends": sum(n for (svc, op), n in ops.items() if svc == "sqs" and op.startswith("SendMessage")),
        "s3": {"put": units["media_s3_put"] + units["orch_s3_put"],
               "get": units["media_s3_get"] + units["orch_s3_get"]},
        "apigateway": units["apigw_request"],
        "partitions": dict(sorted(kinds.items(), key=lambda kv: -kv[1]["wru"])),
    }
