#!/usr/bin/env bash
# Union (seeds/002): create (prompt, or from a file), list, update, delete; a task that declares
# its secret requests and reads them with the Python SDK: one as a value (secrets.get), one as
# the file hush delivered (secrets.file).
source "$(dirname "$0")/../lib.sh"
# The script imports the Python SDK from the repository, with no install.
export PYTHONPATH="$(cd "$EXAMPLE_DIR/../.." && pwd)/sdk/python/src${PYTHONPATH:+:$PYTHONPATH}"
hush init

step "union create secret my_secret (value piped here; a person gets a hidden prompt)"
printf 'union-env-secret-value-7' | hush secrets create my_secret
step "union create secret my_file_secret -f service-account.json"
hush secrets create my_file_secret -f service-account.json
hush secrets list

step "hush run -- python3 task.py"
out=$(hush run -- python3 task.py 2>&1)
echo "$out"
expect_contains "$out" "mode 0o600"
expect_contains "$out" "secret file holds 2 fields"
expect_contains "$out" "oops, printing it: ***"
expect_contains "$out" "the SDK's Secret prints as [redacted]"
expect_absent "$out" "union-env-secret-value-7"
dir=$(cat secrets-dir.txt)
# secrets.file gave the file hush run delivered, in its private directory.
expect_contains "$out" "secret file: $dir/"
[ ! -e "$dir" ] || { echo "FAILED: $dir was not removed" >&2; exit 1; }
echo "the secrets directory $dir is gone"

step "update, then delete"
printf 'union-env-secret-value-8' | hush secrets update my_secret
hush secrets history my_secret
hush secrets delete my_secret
hush secrets delete my_file_secret
out=$(hush secrets list)
expect_absent "$out" "my_secret"
echo
echo "Union walkthrough: ok"
