"""A Union/Flyte task: reads one secret as a value and one as a file (Flyte's
`get_secrets_file`), both through the hush SDK; under `hush run` the file is the one hush
delivered, in its private directory."""
import json
import os
import stat

from hush import secrets

secret_value = secrets.get("my_secret").expose()
path_to_secret_file = secrets.file("my_file_secret")
mode = stat.S_IMODE(os.stat(path_to_secret_file).st_mode)
with open(path_to_secret_file) as f:
    creds = json.load(f)
print("secret file:", path_to_secret_file, "mode", oct(mode))
print("secret file holds", len(creds), "fields; the env secret has", len(secret_value), "characters")
# The SDK's value never prints: a Secret shows as [redacted].
print("the SDK's Secret prints as", secrets.get("my_secret"))
# Do not return secrets from tasks: if one slips into the output, hush masks it.
print("oops, printing it:", secret_value)
with open("secrets-dir.txt", "w") as f:
    f.write(os.environ["HUSH_SECRETS_DIR"])
