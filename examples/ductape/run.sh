#!/usr/bin/env bash
# Ductape (seeds/003): the Node SDK (sdk/node) doing create, list, fetch, update, revoke and
# delete against a server (ductape.js, reading like the Ductape document), then the same
# secrets seen from the CLI. With DUCTAPE_BIN (the Rust SDK's example, built by
# `cargo test --workspace`), the Rust walkthrough runs against the same server too.
source "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$EXAMPLE_DIR/../.." && pwd)

# The SDK from this repository, as `npm install` of package.json's file: dependency would
# link it (no network needed).
rm -rf node_modules && mkdir node_modules && ln -s "$ROOT/sdk/node" node_modules/hush-sdk

step "hush server (a fresh store prints its first admin token once)"
start_server
echo "listening on $ADDR"

step "the SDK walkthrough: node ductape.js"
out=$(HUSH_ADDR=$ADDR HUSH_TOKEN=$ADMIN_TOKEN node ductape.js 2>&1)
echo "$out"
expect_contains "$out" "Secret created: STRIPE_API_KEY"
expect_contains "$out" "Environments: prd, staging"
expect_contains "$out" "Value: Secret([redacted])"
expect_contains "$out" "Secret with this key already exists"
expect_contains "$out" "You do not have permission to create secrets"
expect_contains "$out" "Secret updated: STRIPE_API_KEY (version 2)"
expect_contains "$out" "Metadata updated: scope stripe_payments, subscription_service, invoice_service"
expect_contains "$out" "Reading a revoked secret is forbidden"
expect_contains "$out" "Secret successfully deleted"
expect_contains "$out" "It is gone"
expect_absent "$out" "sk_live"
expect_absent "$out" "hush_"

if [ -n "${DUCTAPE_BIN:-}" ]; then
    step "the Rust SDK's walkthrough against the same server"
    out=$(HUSH_ADDR=$ADDR HUSH_TOKEN=$ADMIN_TOKEN "$DUCTAPE_BIN" 2>&1)
    echo "$out"
    expect_contains "$out" "Secret updated: STRIPE_API_KEY (version 2)"
    expect_contains "$out" "Secret successfully deleted"
    expect_absent "$out" "sk_live"
fi

step "the CLI against the same server: create, list (metadata only), fetch"
export HUSH_ADDR=$ADDR HUSH_TOKEN=$ADMIN_TOKEN
printf 'sk_test_cli_0123456789' | hush secrets create PAYPAL_API_KEY --type api --scope checkout_service --envs prd
out=$(hush secrets list)
echo "$out"
expect_contains "$out" "PAYPAL_API_KEY"
expect_absent "$out" "sk_test_cli"
[ "$(hush secrets get PAYPAL_API_KEY)" = "sk_test_cli_0123456789" ] || { echo "FAILED: fetch" >&2; exit 1; }
echo
echo "Ductape walkthrough: ok"
