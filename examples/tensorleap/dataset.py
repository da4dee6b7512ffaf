"""Tensorleap's dataset script: the secret arrives as AUTH_SECRET and is parsed as JSON."""
import json
import os

auth_secret_string = os.environ["AUTH_SECRET"]
auth_secret = json.loads(auth_secret_string)
print("parsed credentials with fields:", ", ".join(sorted(auth_secret)))
print("connecting as", auth_secret["client_email"])  # an identity, not a secret: printed
print("with key", auth_secret["private_key_id"])  # secret material: masked by hush run
