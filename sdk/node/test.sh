#!/usr/bin/env bash
# The Node SDK's tests: installs the pinned dev tools when missing, checks that the generated
# OpenAPI types are current, type-checks the declarations, then runs `node --test` against a
# real `hush server` (the binary: HUSH_BIN, else <repo>/target/debug/hush). Works from any
# directory, with no terminal.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export HUSH_BIN=${HUSH_BIN:-$(cd ../.. && pwd)/target/debug/hush}
[ -x "$HUSH_BIN" ] || { echo "no hush binary at $HUSH_BIN: cargo build -p hush, or set HUSH_BIN" >&2; exit 2; }

if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error </dev/null
fi

echo "== generated types (types/openapi.d.ts) are current"
node scripts/check-types.mjs </dev/null
echo "== tsc --noEmit: the declarations against test/types/usage.ts"
node node_modules/typescript/bin/tsc -p test/types/tsconfig.json </dev/null
echo "== node --test"
exec node --test --test-reporter=tap test/*.test.js </dev/null
