"""``secrets.get`` and ``secrets.file`` in their three places, in real processes: under a real
``hush run``, in local development (the prefix variable, ``.secrets``, ``HUSH_SECRETS_FILE``),
and against a real ``hush server`` (``HUSH_ADDR`` + ``HUSH_TOKEN``)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Optional

import pytest

from hush import Client

from .conftest import HUSH_BIN, PLANTED, SRC, Server, clean_env, python_cmd

# The child prints what it found as JSON, never a value: hush run would mask it anyway, and a
# digest proves the bytes are exact.
PROBE = textwrap.dedent(
    """
    import hashlib, json, os, stat, sys
    from hush import secrets, HushError

    def digest(b):
        return hashlib.sha256(b).hexdigest()

    out = {}
    for key in sys.argv[1:]:
        try:
            v = secrets.get(key)
            out[key] = {"sha": digest(v.expose_bytes()), "repr": repr(v), "str": str(v)}
            p = secrets.file(key)
            out[key]["file"] = str(p)
            out[key]["file_sha"] = digest(p.read_bytes())
            out[key]["file_mode"] = oct(stat.S_IMODE(p.stat().st_mode))
            out[key]["dir_mode"] = oct(stat.S_IMODE(p.parent.stat().st_mode))
            out[key]["same_path"] = secrets.file(key) == p
        except HushError as e:
            out[key] = {"error": type(e).__name__, "message": str(e), "repr": repr(e)}
    out["dotenv_imported"] = "dotenv" in sys.modules
    out["env"] = {k: os.environ[k] for k in ("HUSH_SECRETS_DIR", "GH_FILE") if k in os.environ}
    out["token_in_env"] = "HUSH_TOKEN" in os.environ
    secrets.cleanup()
    print("RESULT " + json.dumps(out))
    """
)


def sha(v: str | bytes) -> str:
    return hashlib.sha256(v.encode() if isinstance(v, str) else v).hexdigest()


def run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def result(p: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            parsed: dict[str, object] = json.loads(line[len("RESULT ") :])
            return parsed
    raise AssertionError(f"no RESULT line:\n{p.stdout}\n{p.stderr}")


def entry(r: dict[str, object], key: str) -> dict[str, object]:
    e = r[key]
    assert isinstance(e, dict)
    return e


def probe(
    tmp: Path,
    keys: list[str],
    *,
    hush_args: Optional[list[str]] = None,
    isolated: bool = False,
    env: Optional[dict[str, str]] = None,
    **more: str,
) -> dict[str, object]:
    """Runs the probe for ``keys`` in ``tmp``: under ``hush run HUSH_ARGS --`` when given,
    else directly; ``isolated`` runs the child without site-packages (``python -S``)."""
    full_env = clean_env(tmp / "home", PYTHONPATH=str(SRC), **(env or {}), **more)
    argv = [*python_cmd(PROBE, isolated=isolated), *keys]
    if hush_args is not None:
        argv = [str(HUSH_BIN), "run", *hush_args, "--", *argv]
    return result(run(argv, full_env, tmp))


# --- 1. inside hush run ---------------------------------------------------------------------


def test_hush_run_env_delivery_needs_only_the_standard_library(tmp_path: Path) -> None:
    value = "ghp_" + "x" * 30 + "\nsecond line"
    r = probe(
        tmp_path,
        ["githubtoken"],
        hush_args=["--secret", "githubtoken"],
        isolated=True,
        HUSH_SECRET_githubtoken=value,
    )
    got = entry(r, "githubtoken")
    assert got["sha"] == sha(value)
    assert got["repr"] == "Secret([redacted])" and got["str"] == "[redacted]"
    # file() of an env-delivered value: written once into hush run's own directory.
    assert got["file_sha"] == sha(value)
    assert got["file_mode"] == "0o600" and got["dir_mode"] == "0o700"
    assert got["same_path"] is True
    secrets_dir = r["env"]["HUSH_SECRETS_DIR"]  # type: ignore[index]
    assert str(got["file"]).startswith(secrets_dir + "/")
    assert not Path(secrets_dir).exists(), "hush run removes its directory"
    assert r["dotenv_imported"] is False


def test_hush_run_file_delivery_returns_the_delivered_path(tmp_path: Path) -> None:
    value = '{"type": "service_account", "private_key": "-----BEGIN-----"}\n'
    r = probe(
        tmp_path,
        ["gcp-json"],
        hush_args=["--file", "gcp-json=GH_FILE"],
        isolated=True,
        env={"HUSH_SECRET_gcp-json": value},
    )
    got = entry(r, "gcp-json")
    assert got["sha"] == sha(value) and got["file_sha"] == sha(value)
    assert got["file"] == r["env"]["GH_FILE"]  # type: ignore[index]
    assert got["file_mode"] == "0o600"


def test_hush_run_refuses_undeclared_keys(tmp_path: Path) -> None:
    # The undeclared key is in every other source: a .secrets file and the prefix variable.
    (tmp_path / ".secrets").write_text("undeclared=from-file\n")
    r = probe(
        tmp_path,
        ["githubtoken", "undeclared"],
        hush_args=["--secret", "githubtoken"],
        HUSH_SECRET_githubtoken="ghp_declared_value_123",
        HUSH_SECRET_undeclared="from-prefix",
    )
    assert entry(r, "githubtoken")["sha"] == sha("ghp_declared_value_123")
    refused = entry(r, "undeclared")
    assert refused["error"] == "NotDeclaredError"
    assert "hush.toml" in str(refused["message"])
    # The file was never read.
    assert r["dotenv_imported"] is False


def test_hush_run_with_a_manifest_and_the_server(server: Server, admin: Client, key: str, tmp_path: Path) -> None:
    admin.secrets.create(key=key, value=PLANTED)
    (tmp_path / "hush.toml").write_text(
        f'app = "probe"\n\n[secrets.PROBE_VALUE]\nkey = "{key}"\n\n'
        f'[secrets.PROBE_FILE]\nkey = "{key}_f"\nas = "file"\n'
    )
    admin.secrets.create(key=key + "_f", value="file-delivered-value")
    full_env = clean_env(tmp_path / "home", PYTHONPATH=str(SRC), HUSH_ADDR=server.base, HUSH_TOKEN=server.admin)
    p = run(
        [str(HUSH_BIN), "run", "--", *python_cmd(PROBE, isolated=True), key, key + "_f", key + "_x"],
        full_env,
        tmp_path,
    )
    r = result(p)
    assert entry(r, key)["sha"] == sha(PLANTED)
    assert entry(r, key + "_f")["sha"] == sha("file-delivered-value")
    assert entry(r, key + "_x")["error"] == "NotDeclaredError"
    assert r["token_in_env"] is False
    assert PLANTED not in p.stdout + p.stderr


# --- 2. local development -------------------------------------------------------------------


def test_local_prefix_variable(tmp_path: Path) -> None:
    r = probe(tmp_path, ["githubtoken", "GITHUBTOKEN"], isolated=True, HUSH_SECRET_githubtoken="ghp_local")
    assert entry(r, "githubtoken")["sha"] == sha("ghp_local")
    # file(): a private 0700 directory under HUSH_SECRETS_DIR (here: none, so /dev/shm or tmp).
    assert entry(r, "githubtoken")["file_mode"] == "0o600"
    assert entry(r, "githubtoken")["dir_mode"] == "0o700"
    assert not Path(str(entry(r, "githubtoken")["file"])).exists(), "cleanup() removed it"
    # The key is matched exactly as written.
    assert entry(r, "GITHUBTOKEN")["error"] == "SecretNotFoundError"
    assert r["dotenv_imported"] is False


def test_local_custom_prefix(tmp_path: Path) -> None:
    r = probe(
        tmp_path,
        ["githubtoken", "db"],
        isolated=True,
        HUSH_SECRET_PREFIX="ML_S_",
        ML_S_githubtoken="from-ml",
        HUSH_SECRET_db="from-default",
    )
    assert entry(r, "githubtoken")["sha"] == sha("from-ml")
    assert entry(r, "db")["error"] == "SecretNotFoundError"


def test_local_secrets_file(tmp_path: Path) -> None:
    (tmp_path / ".secrets").write_text('githubtoken="ghp_from_file"\nexport other=o\n')
    base = tmp_path / "private"
    base.mkdir()
    r = probe(tmp_path, ["githubtoken", "other"], HUSH_SECRETS_DIR=str(base))
    got = entry(r, "githubtoken")
    assert got["sha"] == sha("ghp_from_file")
    assert Path(str(got["file"])).parent.parent == base
    assert entry(r, "other")["sha"] == sha("o")
    assert r["dotenv_imported"] is True
    assert list(base.iterdir()) == [], "cleanup() removed the private directory"


def test_local_secrets_file_named_by_env_relative_to_cwd(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "dev.env").write_text("k=from-dev\n")
    (tmp_path / ".secrets").write_text("k=from-default\n")
    r = probe(tmp_path, ["k"], HUSH_SECRETS_FILE="conf/dev.env")
    assert entry(r, "k")["sha"] == sha("from-dev")


def test_local_not_found_says_where_it_looked(tmp_path: Path) -> None:
    r = probe(tmp_path, ["githubtoken"], isolated=True)
    msg = str(entry(r, "githubtoken")["message"])
    assert "HUSH_SECRET_githubtoken" in msg
    assert str(tmp_path / ".secrets") in msg and "no such file" in msg
    assert "HUSH_ADDR and HUSH_TOKEN are unset" in msg
    assert "hush run" in msg


# --- 3. against a server --------------------------------------------------------------------


def test_server_one_resolve_as_the_app(server: Server, admin: Client, key: str, tmp_path: Path) -> None:
    admin.secrets.create(key=key, value=PLANTED, scope=["billing"], envs=["prd"])
    machine = admin.tokens.create(app="billing", env="prd", name=f"m-{key}"[:60])
    r = probe(
        tmp_path,
        [key],
        isolated=True,
        HUSH_ADDR=server.base,
        HUSH_TOKEN=machine.token.expose(),
        HUSH_APP="billing",
        HUSH_ENV="prd",
    )
    got = entry(r, key)
    assert got["sha"] == sha(PLANTED)
    assert got["file_sha"] == sha(PLANTED)
    # get and file: one resolve each, as the machine token (file() wrote the value once).
    reads = [a for a in admin.audit.list(key=key) if a.action == "secret.read"]
    assert [a.actor_id for a in reads] == [machine.id, machine.id]


def test_server_refusals(server: Server, admin: Client, key: str, tmp_path: Path) -> None:
    admin.secrets.create(key=key + "_revoked", value="v")
    admin.secrets.revoke(key + "_revoked")
    admin.secrets.create(key=key + "_other_app", value="v", scope=["someone-else"])
    admin.secrets.create(key=key + "_expired", value="v", expires_at=1, allow_past=True)
    keys = [key + s for s in ("_revoked", "_other_app", "_expired", "_missing")]
    r = probe(tmp_path, keys, isolated=True, HUSH_ADDR=server.base, HUSH_TOKEN=server.admin, HUSH_APP="billing")
    reasons = {}
    for k in keys:
        e = entry(r, k)
        assert e["error"] == "RefusedError", e
        reasons[k] = str(e["message"])
    assert "(revoked)" in reasons[key + "_revoked"]
    assert "(out_of_scope)" in reasons[key + "_other_app"]
    assert "(expired)" in reasons[key + "_expired"]
    assert "(missing)" in reasons[key + "_missing"]


def test_server_failures_are_typed(server: Server, tmp_path: Path) -> None:
    r = probe(tmp_path, ["k"], isolated=True, HUSH_ADDR=server.base, HUSH_TOKEN="hush_wrong_" + "C" * 30)
    e = entry(r, "k")
    assert e["error"] == "ServerError"
    assert "HUSH_ADDR" in str(e["message"]) and "token" in str(e["message"])
    assert "hush_wrong_" not in str(e["message"]) + str(e["repr"])

    r = probe(tmp_path, ["k"], isolated=True, HUSH_ADDR="http://127.0.0.1:1", HUSH_TOKEN="t")
    e = entry(r, "k")
    assert e["error"] == "ServerError" and "cannot reach" in str(e["message"])

    r = probe(tmp_path, ["k"], isolated=True, HUSH_ADDR="127.0.0.1:1", HUSH_TOKEN="t")
    assert "does not start with http" in str(entry(r, "k")["message"])


def test_sources_order_map_then_prefix_then_file_then_server(
    server: Server, admin: Client, key: str, tmp_path: Path
) -> None:
    admin.secrets.create(key=key, value="from-server")
    (tmp_path / ".secrets").write_text(f"{key}=from-file\n")
    common = {"HUSH_ADDR": server.base, "HUSH_TOKEN": server.admin}
    assert entry(probe(tmp_path, [key], env=common), key)["sha"] == sha("from-file")
    with_prefix = {**common, f"HUSH_SECRET_{key}": "p"}
    assert entry(probe(tmp_path, [key], env=with_prefix), key)["sha"] == sha("p")
    os.unlink(tmp_path / ".secrets")
    assert entry(probe(tmp_path, [key], isolated=True, env=common), key)["sha"] == sha("from-server")
