#!/usr/bin/env bash
# The Python SDK's checks: a venv in target/sdk-python-venv (made once, then reused), the
# package installed from sdk/python as a user would install it, `mypy --strict` on the package
# and the tests, then pytest against a real `hush server` and `hush run`.
#
# The hush binary is $HUSH_BIN, else target/debug/hush (build it first: cargo build -p hush).
# Works from any directory, with no terminal and no standard input; exits non-zero on any
# failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
VENV="$ROOT/target/sdk-python-venv"
PY=${PYTHON:-python3}
export HUSH_BIN=${HUSH_BIN:-$ROOT/target/debug/hush}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

if [ ! -x "$HUSH_BIN" ]; then
    echo "sdk/python/test.sh: no hush binary at $HUSH_BIN: run cargo build -p hush, or set HUSH_BIN" >&2
    exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "== making $VENV"
    "$PY" -m venv "$VENV" </dev/null
fi

echo "== pip install ./sdk/python[fallback] pytest mypy"
"$VENV/bin/python" -m pip install -q "./sdk/python[fallback]" pytest mypy </dev/null
# A local directory of the same version is not always rebuilt: install this tree's code.
"$VENV/bin/python" -m pip install -q --no-deps --force-reinstall ./sdk/python </dev/null

echo "== mypy --strict"
(cd sdk/python && "$VENV/bin/python" -m mypy --strict --cache-dir "$ROOT/target/sdk-python-mypy-cache" src/hush tests examples) </dev/null

echo "== pytest"
(cd sdk/python && "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests) </dev/null
