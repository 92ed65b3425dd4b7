#!/usr/bin/env bash
# Build the dependency Lambda layer for the deployed runtime (Python 3.12, arm64) WITHOUT Docker:
# pip downloads the manylinux2014_aarch64 / cp312 wheels of requirements.txt into <out>/python.
#
#   layers/build.sh            -> prints the built directory (.build/deps-layer-<hash of requirements.txt>)
#   FORCE=1 layers/build.sh    -> rebuild even if the cached directory exists
#
# Platform: the python3.12 Lambda runtime is Amazon Linux 2023 (glibc 2.34), so wheels tagged
# manylinux_2_28 (e.g. pillow 13) are as good as manylinux2014 ones; both tags are accepted.
#
# The directory is keyed on requirements.txt's hash, so a second synth reuses it in milliseconds;
# change a pin and the next synth builds a fresh one. Only binary wheels are accepted
# (--only-binary=:all:): a package without an aarch64/py3 wheel fails the build loudly rather than
# shipping an x86 or source build that would crash on import in Lambda.
# If a Python 3.12 interpreter is found (PYTHON312=..., python3.12 on PATH, or pyenv 3.12.x), the
# layer also ships compiled bytecode (__pycache__/*.cpython-312.pyc) to shorten cold starts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="${REQUIREMENTS:-$ROOT/requirements.txt}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
test -x "$PY" || PY="$(command -v python3)"
HASH="$(sha256sum "$REQ" | cut -c1-16)"
OUT_GIVEN="${OUT:-}"
OUT="${OUT:-$ROOT/.build/deps-layer-$HASH}"

# Layers built for earlier requirements.txt versions are dead weight: keep only the current one.
prune() {
  if [[ -z "$OUT_GIVEN" && -d "$ROOT/.build" ]]; then
    find "$ROOT/.build" -maxdepth 1 -type d -name 'deps-layer-*' ! -name "$(basename "$OUT")" ! -name '*.tmp.*' \
      -exec rm -rf {} + 2>/dev/null || true
  fi
}

if [[ -f "$OUT/.complete" && -z "${FORCE:-}" ]]; then
  prune
  echo "$OUT"
  exit 0
fi

TMP="$OUT.tmp.$$"
rm -rf "$TMP"
mkdir -p "$TMP/python"
trap 'rm -rf "$TMP"' EXIT
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile \
  --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --abi cp312 \
  --only-binary=:all: --upgrade -r "$REQ" -t "$TMP/python" 1>&2

# Lambda's runtime already carries these for its own use, and they are never imported at run time.
rm -rf "$TMP/python/bin" "$TMP/python"/pip "$TMP/python"/pip-*.dist-info
find "$TMP/python" -type d -name "__pycache__" -prune -exec rm -rf {} +

# Optional: bytecode for the target interpreter (3.12 writes *.cpython-312.pyc, which is what Lambda loads).
PY312="${PYTHON312:-}"
if [[ -z "$PY312" ]]; then
  for c in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    if [[ -x "$(command -v "$c" 2>/dev/null || true)" ]] && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      PY312="$c"; break
    fi
  done
fi
if [[ -n "$PY312" ]]; then
  "$PY312" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$TMP/python" >/dev/null 1>&2 || true
  echo "layers/build.sh: compiled bytecode with $PY312" 1>&2
else
  echo "layers/build.sh: no Python 3.12 found; shipping sources only (Lambda compiles on first import)" 1>&2
fi

sha256sum "$REQ" > "$TMP/.requirements.sha256"
touch "$TMP/.complete"
[[ -n "${FORCE:-}" ]] && rm -rf "$OUT"
# Atomic publish; if a concurrent build got there first with a complete layer, keep that one.
if ! mv -T "$TMP" "$OUT" 2>/dev/null; then
  if [[ -f "$OUT/.complete" ]]; then
    rm -rf "$TMP"
  else
    rm -rf "$OUT" && mv -T "$TMP" "$OUT"
  fi
fi
trap - EXIT

prune
echo "$OUT"
