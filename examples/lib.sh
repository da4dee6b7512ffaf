# Shared by the example walkthroughs: a private hush home, a work directory, and checks.
# Each walkthrough runs against the real `hush` binary: $HUSH, else `hush` on PATH.
set -euo pipefail

HUSH=${HUSH:-hush}
command -v "$HUSH" >/dev/null || { echo "set HUSH to the hush binary (cargo build -p hush)" >&2; exit 2; }
EXAMPLE_DIR=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
SCRATCH=$(mktemp -d)
export HUSH_HOME="$SCRATCH/home"
unset HUSH_ADDR HUSH_TOKEN HUSH_PASSPHRASE HUSH_ROOT_KEY HUSH_WORKSPACE HUSH_SECRET_PREFIX || true
export HUSH_CONFIG="$SCRATCH/no-login.json"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
WORK="$SCRATCH/work"
mkdir -p "$WORK"
cp -R "$EXAMPLE_DIR"/. "$WORK"/
cd "$WORK"

hush() { "$HUSH" "$@"; }

step() { printf '\n== %s\n' "$*"; }

# expect_contains TEXT NEEDLE: fail unless TEXT contains NEEDLE.
expect_contains() {
    case "$1" in
        *"$2"*) ;;
        *) printf 'FAILED: expected %q in:\n%s\n' "$2" "$1" >&2; exit 1 ;;
    esac
}

# expect_absent TEXT NEEDLE: fail if TEXT contains NEEDLE.
expect_absent() {
    case "$1" in
        *"$2"*) printf 'FAILED: %q must not appear in:\n%s\n' "$2" "$1" >&2; exit 1 ;;
        *) ;;
    esac
}

# start_server: a hush server on a free 127.0.0.1 port; sets ADDR and ADMIN_TOKEN.
start_server() {
    local out="$SCRATCH/server.out" err="$SCRATCH/server.err"
    "$HUSH" server --listen 127.0.0.1:0 >"$out" 2>"$err" </dev/null &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        if grep -q 'hush listening on' "$err" 2>/dev/null; then break; fi
        sleep 0.1
    done
    ADDR=$(sed -n '/^hush listening on /{s///p;q}' "$err")
    ADMIN_TOKEN=$(head -n1 "$out")
    [ -n "$ADDR" ] && [ -n "$ADMIN_TOKEN" ] || { echo "the server did not start:" >&2; cat "$err" >&2; exit 1; }
}
