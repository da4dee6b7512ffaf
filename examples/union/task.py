"""A Union/Flyte task: reads one secret from the environment and one from the file whose path
hush gives it (Flyte's `get_secrets_file`)."""
import json
import os
import stat

secret_value = os.environ["MY_SECRET"]
path_to_secret_file = os.environ["MY_FILE_SECRET"]
mode = stat.S_IMODE(os.stat(path_to_secret_file).st_mode)
with open(path_to_secret_file) as f:
    creds = json.load(f)
print("secret file:", path_to_secret_file, "mode", oct(mode))
print("secret file holds", len(creds), "fields; the env secret has", len(secret_value), "characters")
# Do not return secrets from tasks: if one slips into the output, hush masks it.
print("oops, printing it:", secret_value)
with open("secrets-dir.txt", "w") as f:
    f.write(os.environ["HUSH_SECRETS_DIR"])
