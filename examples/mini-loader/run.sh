#!/usr/bin/env bash
# mini-loader (seeds/000): `secrets set githubtoken`, then a Node script that reads it, run with
# `hush run`; and the same locally with a `.secrets` file and with HUSH_SECRET_githubtoken.
source "$(dirname "$0")/../lib.sh"
TOKEN=ghp_minil0ader0example0token0123456

step "hush init; hush secrets set githubtoken (piped here; a person gets a hidden prompt)"
hush init
printf '%s' "$TOKEN" | hush secrets set githubtoken

step "hush run --secret githubtoken -- node github.js"
out=$(hush run --secret githubtoken -- node github.js 2>&1)
echo "$out"
expect_contains "$out" "authenticated to GitHub with token ***"
expect_absent "$out" "$TOKEN"
expect_contains "$(cat user.json)" octocat

step "locally, from a .secrets file (no store needed)"
rm -rf "$HUSH_HOME" user.json
printf 'githubtoken=%s\n' "$TOKEN" > .secrets
out=$(hush run --secret githubtoken -- node github.js 2>&1)
echo "$out"
expect_contains "$out" "token ***"
expect_absent "$out" "$TOKEN"
rm .secrets

step "locally, from HUSH_SECRET_githubtoken (mini-loader's ML_S_ prefix works too: --prefix ML_S_)"
out=$(HUSH_SECRET_githubtoken=$TOKEN hush run --secret githubtoken -- node github.js 2>&1)
echo "$out"
expect_contains "$out" "token ***"
out=$(ML_S_githubtoken=$TOKEN hush run --prefix ML_S_ --secret githubtoken -- node github.js 2>&1)
expect_contains "$out" "token ***"
expect_absent "$out" "$TOKEN"

step "without the secret anywhere, the script is not started"
set +e
out=$(hush run --secret githubtoken -- node github.js 2>&1); code=$?
set -e
echo "$out"
[ "$code" -eq 125 ] || { echo "FAILED: expected exit 125, got $code" >&2; exit 1; }
expect_contains "$out" "githubtoken is missing"
echo
echo "mini-loader walkthrough: ok"
