"""layers/build.sh: wheels for Lambda's python3.12 on arm64, without Docker, cached by requirements hash."""

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
    return subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, env=env, timeout=300, check=False)


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


@pytest.mark.skipif(not os.environ.get("SHANGJIA_BUILD_LAYER"),
                    reason="downloads every runtime wheel (~35 MB); set SHANGJIA_BUILD_LAYER=1 to run")
def test_the_real_requirements_build_for_lambda(tmp_path):
    out = tmp_path / "layer"
    proc = _build(REPO_ROOT / "requirements.txt", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _assert_arm64_cp312(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size < 200 * 1024 * 1024, f"layer is {size / 2**20:.0f} MiB; Lambda allows 250 MiB unzipped in all"
