#!/usr/bin/env bash
# ToolJump (seeds/004): a manifest of required secrets with a primary/backup fallback; a run
# refused with a clear message while one is missing; the INTEGRATION_ env adapter locally.
source "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$EXAMPLE_DIR/../.." && pwd)
PRIMARY=ghp_tooljump_primary_0000000001
BACKUP=ghp_tooljump_backup_00000000002
WEBHOOK=https://hooks.slack.example/services/T000/B000/secretpath
fp() { printf '%s' "$1" | sha256sum | cut -c1-12; }

# The SDK from this repository (integration.js reads through it too), as `npm install` of
# package.json's file: dependency would link it (no network needed).
rm -rf node_modules && mkdir node_modules && ln -s "$ROOT/sdk/node" node_modules/hush-sdk

hush init
printf '%s' "$PRIMARY" | hush secrets set GITHUB_TOKEN_PRIMARY
printf '%s' "$BACKUP" | hush secrets set GITHUB_TOKEN_BACKUP
printf 'unrelated-value' | hush secrets set UNRELATED_SECRET

step "hush check: SLACK_WEBHOOK is missing"
set +e
out=$(hush check 2>&1); code=$?
set -e
echo "$out"
[ "$code" -eq 125 ] || { echo "FAILED: expected exit 125, got $code" >&2; exit 1; }
expect_contains "$out" "missing"

step "hush run refuses to start the integration, naming the missing secret"
set +e
out=$(hush run -- node integration.js 2>&1); code=$?
set -e
echo "$out"
[ "$code" -eq 125 ] || { echo "FAILED: expected exit 125, got $code" >&2; exit 1; }
expect_contains "$out" "SLACK_WEBHOOK: looked for key SLACK_WEBHOOK in env HUSH_SECRET_SLACK_WEBHOOK (unset)"
expect_contains "$out" "SLACK_WEBHOOK is missing"
[ ! -e ran.txt ] || { echo "FAILED: the integration ran" >&2; exit 1; }

step "with every required secret, it runs with the primary token; only declared secrets are there"
printf '%s' "$WEBHOOK" | hush secrets set SLACK_WEBHOOK
out=$(hush run -- node integration.js 2>&1)
echo "$out"
expect_contains "$out" "github token fingerprint $(fp "$PRIMARY")"
expect_contains "$out" "posting to ***"
expect_contains "$out" "undeclared secret visible: false"
expect_contains "$out" "SDK: SLACK_WEBHOOK is [redacted] (the same value)"
expect_contains "$out" "SDK: UNRELATED_SECRET refused (not declared)"
expect_absent "$out" "$WEBHOOK"

step "rotation: revoke the primary and the backup takes over; restore it and it is back"
hush secrets revoke GITHUB_TOKEN_PRIMARY
out=$(hush run -- node integration.js 2>&1)
expect_contains "$out" "github token fingerprint $(fp "$BACKUP")"
hush secrets restore GITHUB_TOKEN_PRIMARY
out=$(hush run -- node integration.js 2>&1)
expect_contains "$out" "github token fingerprint $(fp "$PRIMARY")"
echo "primary -> backup -> primary: ok"

step "locally, ToolJump's env adapter: INTEGRATION_<VAR> (INTEGRATION_GITHUB_TOKEN for [secrets.GITHUB_TOKEN]), no store"
rm -rf "$HUSH_HOME"
out=$(HUSH_SECRET_PREFIX=INTEGRATION_ INTEGRATION_GITHUB_TOKEN=$PRIMARY INTEGRATION_SLACK_WEBHOOK=$WEBHOOK \
    hush run -- node integration.js 2>&1)
echo "$out"
expect_contains "$out" "github token fingerprint $(fp "$PRIMARY")"
expect_absent "$out" "$WEBHOOK"
echo
echo "ToolJump walkthrough: ok"
