"""layers/build.sh: wheels for Lambda's python3.12 on arm64, without Docker, cached by requirements hash.

Every test here runs on `make test`: the build needs no Docker and no compiler, only the package
index pip is configured with (PyPI, or a mirror through PIP_INDEX_URL / pip.conf), which `make
setup` needs as well. The real requirements download ~35 MB of wheels (about 15 s from PyPI on
the dev VM, less from pip's cache); without the index they fail with pip's message, not a skip."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD = REPO_ROOT / "layers" / "build.sh"
EM_AARCH64 = 0xB7   # ELF e_machine of arm64


def _build(requirements: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "REQUIREMENTS": str(requirements), "OUT": str(out)}
    # under pytest's 300 s per test, so a stuck download fails here with its output
    return subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, env=env, timeout=240, check=False)


def _machine(so: Path) -> int:
    header = so.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", so
    return int.from_bytes(header[18:20], "little")


def _assert_arm64_cp312(layer: Path) -> list[Path]:
    libs = list((layer / "python").rglob("*.so"))
    assert libs, "expected compiled extensions"
    for so in libs:
        if so.name.startswith(("_", "lib")) and ".cpython-" not in so.name:
            continue   # vendored shared libraries (pillow.libs): still ELF, checked below
        assert "cpython-312-aarch64-linux-gnu" in so.name or "abi3" in so.name, so.name
    assert all(_machine(so) == EM_AARCH64 for so in libs)
    return libs


def test_builds_arm64_cp312_wheels_and_reuses_the_cache(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("ahocorasick-rs==1.0.3\n")
    out = tmp_path / "layer"
    first = _build(req, out)
    assert first.returncode == 0, first.stderr[-2000:]
    assert Path(first.stdout.strip().splitlines()[-1]) == out
    _assert_arm64_cp312(out)
    marker = (out / ".complete").stat().st_mtime_ns

    again = _build(req, out)
    assert again.returncode == 0 and (out / ".complete").stat().st_mtime_ns == marker, "cache not reused"


def test_a_package_without_a_wheel_fails_the_build(tmp_path):
    """No source builds: they would compile for this machine, not for Lambda's."""
    req = tmp_path / "requirements.txt"
    req.write_text("docopt==0.6.2\n")   # published as an sdist only
    proc = _build(req, tmp_path / "layer")
    assert proc.returncode != 0
    assert "docopt" in proc.stderr
    assert not (tmp_path / "layer" / ".complete").exists()


def test_the_real_requirements_build_for_lambda(tmp_path):
    out = tmp_path / "layer"
    proc = _build(REPO_ROOT / "requirements.txt", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    libs = _assert_arm64_cp312(out)
    # every pinned runtime package is in the layer, at its pinned version
    pins = [line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()]
    dists = {p.name.lower().replace("_", "-") for p in (out / "python").glob("*.dist-info")}
    for pin in filter(None, pins):
        name, version = pin.split("==")
        assert f"{name.lower().replace('_', '-')}-{version}.dist-info" in dists, pin
    # the compiled ones the functions import are arm64 builds (checked above), not just present
    assert any("PIL" in str(so) for so in libs) and any("pydantic_core" in str(so) for so in libs)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size < 200 * 1024 * 1024, f"layer is {size / 2**20:.0f} MiB; Lambda allows 250 MiB unzipped in all"
