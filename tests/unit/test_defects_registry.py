"""The error-code registry loads its tables on first use, once, and no thread sees it half-loaded.

The defect: ``_load_all`` set its "loaded" flag before importing the tables, so a second thread
arriving while the first was still importing found the flag set and looked a code up in a
registry that did not hold it yet (``shangjia demo`` logged ``KeyError: 'BARCODE_CHECK_DIGIT'``
from validate). The race is made deterministic here: a fresh copy of the ``shangjia.errors``
package is loaded under another name, and an import hook holds the first thread inside the
import of the first table until the second thread has made its own lookup (or has had ample
time to, when it is rightly waiting for the first).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from pathlib import Path

import pytest

import shangjia.errors

PKG_DIR = Path(shangjia.errors.__file__).parent


@pytest.fixture
def fresh_errors():
    """A private, not-yet-loaded copy of the errors package (its own registry, its own flag)."""
    name = "shangjia_errors_race_copy"
    spec = importlib.util.spec_from_file_location(name, PKG_DIR / "__init__.py",
                                                  submodule_search_locations=[str(PKG_DIR)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    try:
        yield mod
    finally:
        for k in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[k]


class _HoldImport(importlib.abc.MetaPathFinder):
    """Holds the first import of ``<pkg>.<table>`` until ``release`` is set (or a time-out)."""

    def __init__(self, pkg: str, hold_s: float) -> None:
        self.pkg, self.hold_s = pkg, hold_s
        self.entered = threading.Event()
        self.release = threading.Event()

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001
        if fullname.startswith(self.pkg + ".") and not self.entered.is_set():
            self.entered.set()
            self.release.wait(self.hold_s)
        return None          # let the ordinary finders import it


def test_second_thread_never_sees_a_half_loaded_registry(fresh_errors):
    hook = _HoldImport(fresh_errors.__name__, hold_s=0.5)
    sys.meta_path.insert(0, hook)
    results: dict[str, object] = {}

    def lookup(who: str) -> None:
        try:
            results[who] = fresh_errors.CODES["BARCODE_CHECK_DIGIT"].code
        except Exception as e:  # noqa: BLE001 — recorded for the assertion
            results[who] = e
        finally:
            if who == "second":
                hook.release.set()

    try:
        first = threading.Thread(target=lookup, args=("first",))
        first.start()
        assert hook.entered.wait(5), "the first lookup never started loading the tables"
        # The first thread is now inside the tables' import. The second must wait for it, not
        # read a registry whose flag says "loaded" while it is still empty.
        second = threading.Thread(target=lookup, args=("second",))
        second.start()
        second.join(10)
        first.join(10)
    finally:
        sys.meta_path.remove(hook)
    assert results == {"first": "BARCODE_CHECK_DIGIT", "second": "BARCODE_CHECK_DIGIT"}, results


def test_many_threads_racing_the_first_lookup_all_find_their_codes(fresh_errors):
    hook = _HoldImport(fresh_errors.__name__, hold_s=0.2)
    sys.meta_path.insert(0, hook)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    codes = ["BARCODE_CHECK_DIGIT", "PIPE_PRODUCT_BUSY", "SHEET_CORRUPT", "CELL_TOO_LONG"]

    def worker(i: int) -> None:
        barrier.wait()
        try:
            c = codes[i % len(codes)]
            assert c in fresh_errors.CODES
            assert fresh_errors.finding(c, value="x").code == c
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    finally:
        sys.meta_path.remove(hook)
    assert not errors, errors
    assert len(fresh_errors.CODES.all()) == len(shangjia.errors.CODES.all())


def test_a_failed_load_is_not_remembered_as_loaded(fresh_errors, monkeypatch):
    """If the tables' import fails, the next lookup tries again instead of trusting the flag."""
    import builtins

    real_import = builtins.__import__
    calls = {"n": 0}

    def flaky(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002, ANN001
        if level == 1 and (globals or {}).get("__name__") == fresh_errors.__name__ and calls["n"] == 0:
            calls["n"] += 1
            raise ImportError("simulated failure while loading the tables")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", flaky)
    with pytest.raises(ImportError):
        fresh_errors.CODES["BARCODE_CHECK_DIGIT"]
    monkeypatch.setattr(builtins, "__import__", real_import)
    assert fresh_errors.CODES["BARCODE_CHECK_DIGIT"].code == "BARCODE_CHECK_DIGIT"
