#!/usr/bin/env bash
# Ductape (seeds/003): the Rust SDK doing create, list, fetch, update, revoke and delete against
# a server (crates/hush-client/examples/ductape.rs), then the same secrets seen from the CLI.
source "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$EXAMPLE_DIR/../.." && pwd)

step "hush server (a fresh store prints its first admin token once)"
start_server
echo "listening on $ADDR"

step "the SDK walkthrough"
if [ -n "${DUCTAPE_BIN:-}" ]; then
    out=$(HUSH_ADDR=$ADDR HUSH_TOKEN=$ADMIN_TOKEN "$DUCTAPE_BIN" 2>&1)
else
    out=$(cd "$ROOT" && HUSH_ADDR=$ADDR HUSH_TOKEN=$ADMIN_TOKEN cargo run -q -p hush-client --example ductape 2>&1)
fi
echo "$out"
expect_contains "$out" "Secret created: STRIPE_API_KEY"
expect_contains "$out" "Secret with this key already exists"
expect_contains "$out" "Secret updated: STRIPE_API_KEY (version 2)"
expect_contains "$out" "Reading a revoked secret is forbidden"
expect_contains "$out" "Secret successfully deleted"
expect_absent "$out" "sk_live"

step "the CLI against the same server: create, list (metadata only), fetch"
export HUSH_ADDR=$ADDR HUSH_TOKEN=$ADMIN_TOKEN
printf 'sk_test_cli_0123456789' | hush secrets create PAYPAL_API_KEY --type api --scope checkout_service --env prd
out=$(hush secrets list)
echo "$out"
expect_contains "$out" "PAYPAL_API_KEY"
expect_absent "$out" "sk_test_cli"
[ "$(hush secrets get PAYPAL_API_KEY)" = "sk_test_cli_0123456789" ] || { echo "FAILED: fetch" >&2; exit 1; }
echo
echo "Ductape walkthrough: ok"
