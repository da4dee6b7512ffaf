#!/usr/bin/env bash
# Tensorleap (seeds/001): a JSON key uploaded from a file, read by a Python script with the SDK
# (secrets.get; hush run delivers it as AUTH_SECRET) and parsed; replaced without seeing the old
# value; delete refused while in use.
source "$(dirname "$0")/../lib.sh"
# The script imports the Python SDK from the repository, with no install.
export PYTHONPATH="$(cd "$EXAMPLE_DIR/../.." && pwd)/sdk/python/src${PYTHONPATH:+:$PYTHONPATH}"

step "upload the JSON key file as secret gcs-creds"
hush init
hush secrets create gcs-creds -f gcs-key.json --type access --description "GCS service account"
hush secrets show gcs-creds

step "hush run (the manifest hush.toml declares AUTH_SECRET = gcs-creds) -- python3 dataset.py (secrets.get(\"gcs-creds\"))"
out=$(hush run -- python3 dataset.py 2>&1)
echo "$out"
expect_contains "$out" "parsed credentials with fields: client_email, private_key, private_key_id, project_id, type"
# Only the fields that carry secret material are masked (docs/workloads.md): the account's
# e-mail is printed, its key id is not.
expect_contains "$out" "connecting as loader@tensorleap-demo.iam.gserviceaccount.com"
expect_contains "$out" "with key ***"
expect_absent "$out" "0123456789abcdef0123456789abcdef01234567"

step "update the value without viewing the old one"
sed 's/0123456789abcdef/fedcba9876543210/' gcs-key.json > new-key.json
hush secrets update gcs-creds --from-file new-key.json
out=$(hush secrets history gcs-creds)
echo "$out"
expect_absent "$out" "BEGIN PRIVATE KEY"

step "register the dataset instance: the secret is now in use and cannot be deleted"
hush apps register hush.toml
set +e
out=$(hush secrets delete gcs-creds 2>&1); code=$?
set -e
echo "$out"
[ "$code" -eq 4 ] || { echo "FAILED: expected exit 4, got $code" >&2; exit 1; }
expect_contains "$out" "in use by dataset-instance"
out=$(hush secrets show gcs-creds -o json)
expect_contains "$out" '"app": "dataset-instance"'

step "unregister the app, then delete"
hush apps delete dataset-instance
hush secrets delete gcs-creds

step "locally, no secret in the store: the key in .secrets under its hyphenated key, literal"
python3 -c 'import json,sys; print("gcs-creds=\x27" + json.dumps(json.load(open(sys.argv[1]))) + "\x27")' gcs-key.json > .secrets
out=$(hush run -- python3 dataset.py 2>&1)
echo "$out"
expect_contains "$out" "connecting as loader@tensorleap-demo.iam.gserviceaccount.com"
rm .secrets

step "locally as Tensorleap's document says, AUTH_SECRET set in the shell: used with --inherit-env only"
set +e
out=$(AUTH_SECRET="$(cat gcs-key.json)" hush run -- python3 dataset.py 2>&1); code=$?
set -e
echo "$out"
[ "$code" -eq 125 ] || { echo "FAILED: expected exit 125, got $code" >&2; exit 1; }
expect_contains "$out" "env AUTH_SECRET (set, but only used with --inherit-env or inherit = true)"
out=$(AUTH_SECRET="$(cat gcs-key.json)" hush run --inherit-env -- python3 dataset.py 2>&1)
echo "$out"
expect_contains "$out" "connecting as loader@tensorleap-demo.iam.gserviceaccount.com"
expect_absent "$out" "0123456789abcdef0123456789abcdef01234567"
echo
echo "Tensorleap walkthrough: ok"
