"""Tensorleap's dataset script: the secret is read with the hush SDK and parsed as JSON.

`secrets.get("gcs-creds")` gives the same answer inside `hush run` (where hush.toml delivers
the key as AUTH_SECRET), in local development (HUSH_SECRET_gcs-creds or a .secrets file) and
against a hush server (HUSH_ADDR and HUSH_TOKEN): the script does not change.
"""
import json

from hush import secrets

auth_secret_string = secrets.get("gcs-creds").expose()
auth_secret = json.loads(auth_secret_string)
print("parsed credentials with fields:", ", ".join(sorted(auth_secret)))
print("connecting as", auth_secret["client_email"])  # an identity, not a secret: printed
print("with key", auth_secret["private_key_id"])  # secret material: masked by hush run
