"""Lambda's sandboxes on the local cloud: each function's handler runs in worker processes of its
own, as Lambda runs it in execution environments, so the handlers use every core while moto, the
meter and the pollers keep this process.

- A ``SandboxPool`` per function holds up to its concurrency of workers, started on demand. A
  worker imports its handler once (the "init" of a cold start) and then serves invocations one at
  a time: SQS batches, Step Functions tasks, API requests, schedules, whatever ``LambdaRuntime``
  is asked to invoke.
- Workers are forked from one clean, single-threaded server process (multiprocessing's
  ``forkserver``) that imported the heavy libraries once, so a cold start costs milliseconds,
  not the second a fresh interpreter takes to import boto3, Pillow and Powertools.
- The function's environment is the local cloud's at the worker's start; ``SHANGJIA_*`` settings
  (the clock, knobs a test sets) are sent with each invocation, as a configuration update would
  reach new environments on AWS.
- A handler that raises is that invocation's error payload, as on Lambda. One that outlives its
  timeout, or kills its process (a crash, an ``os._exit``, the OOM killer), is that invocation's
  failure (``Sandbox.Timedout`` / ``Runtime.ExitError``); its worker is discarded and the next
  invocation gets a fresh one. Module state stays inside one function's workers.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import signal
import threading
import time
import traceback
from typing import Any

PRELOAD = [
    "boto3", "botocore.session", "botocore.client", "aws_lambda_powertools", "aws_lambda_powertools.utilities.batch",
    "pydantic", "PIL.Image", "openpyxl", "jwt",
    "shangjia.adapters.aws", "shangjia.lambda_kit", "shangjia.pipeline.deps", "shangjia.sheets",
    "shangjia.validation", "shangjia.media", "shangjia.channels", "shangjia.api",
]

_CTX: Any = None
_CTX_LOCK = threading.Lock()


def _context():
    """The forkserver context, its server preloading the libraries every handler imports."""
    global _CTX
    with _CTX_LOCK:
        if _CTX is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _CTX = ctx
        return _CTX


class SandboxError(Exception):
    """The invocation failed outside the handler: its payload is Lambda's for that failure."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage"))
        self.payload = payload


def timeout_factor() -> float:
    """How much longer than its timeout an invocation may run here before its worker is killed.
    The handler sees its real timeout (``get_remaining_time_in_millis``) and checkpoints by it as
    on AWS; but here the emulator and every handler share a few cores, and a machine loaded by
    other work (a test run on CI) stretches each invocation, so the kill waits
    ``SHANGJIA_LOCAL_TIMEOUT_FACTOR`` (4) times as long. A handler that hangs is still killed."""
    try:
        return max(1.0, float(os.environ.get("SHANGJIA_LOCAL_TIMEOUT_FACTOR", "4")))
    except ValueError:
        return 4.0


def settings() -> dict[str, str]:
    """What each invocation carries: the local cloud's ``SHANGJIA_*`` settings as they are now."""
    return {k: v for k, v in os.environ.items() if k.startswith("SHANGJIA_")}


# --- the worker (runs in the child process) -------------------------------------------------------

def _serve(conn, key: str, path: str, attr: str, env: dict[str, str]) -> None:  # pragma: no cover - child
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C stops the cloud, which stops us
    from shangjia.adapters.aws import caller, reset_clients

    reset_clients()
    caller.name = key                                   # the meter bills this worker's calls to it
    from shangjia.localcloud.runtime import Context

    spec = importlib.util.spec_from_file_location(f"shangjia_fn_{key}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    handler = getattr(mod, attr)
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            return
        msg = json.loads(raw)
        if msg is None:
            return
        for k in [k for k in os.environ if k.startswith("SHANGJIA_") and k not in msg["settings"]]:
            del os.environ[k]
        os.environ.update(msg["settings"])
        ctx = Context(**msg["context"], deadline=time.monotonic() + msg["timeout_s"])
        c0 = time.process_time()
        try:
            result = handler(msg["event"], ctx)
            out = {"ok": True, "result": result}
            try:
                data = json.dumps({**out, "cpu_s": time.process_time() - c0}).encode()
            except (TypeError, ValueError) as e:   # Lambda cannot serialize it either
                raise TypeError(f"Unable to marshal response: {e}") from e
        except Exception as e:  # noqa: BLE001 — Lambda turns any exception into an error payload
            data = json.dumps({"ok": False, "cpu_s": time.process_time() - c0,
                               "traceback": traceback.format_exc(limit=8),
                               "payload": {"errorMessage": str(e), "errorType": type(e).__name__,
                                           "stackTrace": traceback.format_exc(limit=5).splitlines()}}).encode()
        conn.send_bytes(data)


# --- the parent side ------------------------------------------------------------------------------

class Sandbox:
    def __init__(self, key: str, path: str, attr: str, env: dict[str, str]) -> None:
        ctx = _context()
        self.key = key
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, key, path, attr, env), name=f"lambda-{key}")
        self.proc.start()
        child.close()

    def call(self, event: Any, *, timeout_s: float, context: dict[str, Any]) -> dict[str, Any]:
        msg = {"event": event, "timeout_s": timeout_s, "context": context, "settings": settings()}
        try:
            self.conn.send_bytes(json.dumps(msg).encode())
            if not self.conn.poll(timeout_s * timeout_factor() + 1.0):
                self.kill()
                raise SandboxError({"errorType": "Sandbox.Timedout",
                                    "errorMessage": f"RequestId: {context['aws_request_id']} Error: Task timed out "
                                                    f"after {timeout_s:.2f} seconds"})
            return json.loads(self.conn.recv_bytes())
        except (EOFError, OSError, BrokenPipeError):
            self.proc.join(timeout=1)
            code = self.proc.exitcode
            self.kill()
            raise SandboxError({"errorType": "Runtime.ExitError",
                                "errorMessage": f"RequestId: {context['aws_request_id']} Error: Runtime exited "
                                                f"with error: exit status {code}"}) from None

    def kill(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=2)

    def close(self) -> None:
        try:
            self.conn.send_bytes(b"null")
        except OSError:
            pass
        self.proc.join(timeout=1)
        self.kill()


class SandboxPool:
    """The warm workers of one function. Concurrency is bounded by the caller (the runtime's
    semaphore per function); the pool keeps idle workers and starts one when none is free."""

    def __init__(self, key: str, path: str, attr: str, env: dict[str, str]) -> None:
        self.key, self.path, self.attr, self.env = key, path, attr, env
        self._idle: list[Sandbox] = []
        self._all: set[Sandbox] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.cold_starts = 0

    def invoke(self, event: Any, *, timeout_s: float, context: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._closed:
                raise SandboxError({"errorType": "ServiceException", "errorMessage": "the local cloud is stopping"})
            box = self._idle.pop() if self._idle else None
        if box is None:
            box = Sandbox(self.key, self.path, self.attr, self.env)
            with self._lock:
                self._all.add(box)
                self.cold_starts += 1
        try:
            answer = box.call(event, timeout_s=timeout_s, context=context)
        except SandboxError:
            with self._lock:
                self._all.discard(box)
            raise
        with self._lock:
            if self._closed:
                box.close()
            else:
                self._idle.append(box)
        return answer

    def close(self) -> None:
        with self._lock:
            self._closed = True
            boxes, self._idle = list(self._all), []
            self._all = set()
        for b in boxes:
            b.close()
