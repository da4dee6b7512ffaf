#!/usr/bin/env bash
# mini-loader (seeds/000): `secrets set githubtoken`, then a Node script that reads it with the
# hush SDK (`secrets.get('githubtoken')`, sdk/node), run with `hush run`; and the same script
# locally with a `.secrets` file and with a prefixed variable, with and without `hush run`.
source "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$EXAMPLE_DIR/../.." && pwd)
TOKEN=ghp_minil0ader0example0token0123456
fp() { printf '%s' "$1" | sha256sum | cut -c1-12; }

# The SDK from this repository, as `npm install` of package.json's file: dependency would
# link it (no network needed).
rm -rf node_modules && mkdir node_modules && ln -s "$ROOT/sdk/node" node_modules/hush-sdk

step "hush init; hush secrets set githubtoken (piped here; a person gets a hidden prompt)"
hush init
echo "$TOKEN" | hush secrets set githubtoken   # echo adds a newline; hush removes it

step "hush run --secret githubtoken -- node github.js"
out=$(hush run --secret githubtoken -- node github.js 2>&1)
echo "$out"
expect_contains "$out" "authenticated to GitHub with token [redacted]"
expect_contains "$out" "token fingerprint $(fp "$TOKEN")"
expect_absent "$out" "$TOKEN"
expect_contains "$(cat user.json)" octocat

step "locally, from a .secrets file (no store needed), under hush run and without it"
rm -rf "$HUSH_HOME" user.json
printf 'githubtoken=%s\n' "$TOKEN" > .secrets
out=$(hush run --secret githubtoken -- node github.js 2>&1)
echo "$out"
expect_contains "$out" "token fingerprint $(fp "$TOKEN")"
expect_absent "$out" "$TOKEN"
out=$(node github.js 2>&1)
echo "$out"
expect_contains "$out" "token fingerprint $(fp "$TOKEN")"
expect_absent "$out" "$TOKEN"
rm .secrets

step "locally, from HUSH_SECRET_githubtoken, or mini-loader's ML_S_ prefix (--prefix ML_S_ / HUSH_SECRET_PREFIX=ML_S_)"
out=$(HUSH_SECRET_githubtoken=$TOKEN hush run --secret githubtoken -- node github.js 2>&1)
echo "$out"
expect_contains "$out" "token fingerprint $(fp "$TOKEN")"
out=$(ML_S_githubtoken=$TOKEN hush run --prefix ML_S_ --secret githubtoken -- node github.js 2>&1)
expect_contains "$out" "token fingerprint $(fp "$TOKEN")"
expect_absent "$out" "$TOKEN"
out=$(HUSH_SECRET_PREFIX=ML_S_ ML_S_githubtoken=$TOKEN node github.js 2>&1)
echo "$out"
expect_contains "$out" "token fingerprint $(fp "$TOKEN")"
expect_absent "$out" "$TOKEN"

step "without the secret anywhere: hush run does not start the script; the SDK says where it looked"
set +e
out=$(hush run --secret githubtoken -- node github.js 2>&1); code=$?
set -e
echo "$out"
[ "$code" -eq 125 ] || { echo "FAILED: expected exit 125, got $code" >&2; exit 1; }
# Every place looked at: the env var, the .secrets file, the store.
expect_contains "$out" "env HUSH_SECRET_githubtoken (unset)"
expect_contains "$out" ".secrets (no "
expect_contains "$out" "hush.db"
set +e
out=$(node github.js 2>&1); code=$?
set -e
echo "$out"
[ "$code" -eq 1 ] || { echo "FAILED: expected exit 1, got $code" >&2; exit 1; }
expect_contains "$out" 'secret "githubtoken" not found'
expect_contains "$out" "add a line \`githubtoken=…\` to"
echo
echo "mini-loader walkthrough: ok"
