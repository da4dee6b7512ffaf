"""Every call of the management client against a real ``hush server``."""

from __future__ import annotations

import time

import pytest

import hush
from hush import Client, NotFoundError, Secret, StaleVersionError
from hush.models import AppInfo, NewToken, SecretMeta, SecretValue, TokenInfo, VersionInfo

from .conftest import Server


def test_ductape_walkthrough(admin: Client) -> None:
    """The Ductape guide (seeds/003), call for call, in Python."""
    one_year = int(time.time()) + 365 * 24 * 60 * 60

    # Create a Secret
    secret = admin.secrets.create(
        {
            "key": "STRIPE_API_KEY",
            "value": "sk_live_51ABC123",
            "description": "Production Stripe API key for payment processing",
            "token_type": "api",
            "scope": ["stripe_payments", "checkout_service"],
            "envs": ["prd", "staging"],
            "expires_at": one_year,
        }
    )
    assert isinstance(secret, SecretMeta)
    assert secret.key == "STRIPE_API_KEY"
    assert secret.token_type == "api"
    assert secret.scope == ["stripe_payments", "checkout_service"]
    assert secret.envs == ["prd", "staging"]
    assert secret.expires_at == one_year
    assert secret.version == 1 and secret.status == "active"
    assert secret.id.startswith("sec_") and secret.workspace == "default"

    # List All Secrets (metadata only)
    admin.secrets.create(key="SENDGRID_KEY", value="SG.xyz", envs=["dev", "staging", "prd"])
    listed = admin.secrets.fetch_all()
    by_key = {s.key: s for s in listed}
    assert {"STRIPE_API_KEY", "SENDGRID_KEY"} <= set(by_key)
    assert by_key["SENDGRID_KEY"].description is None
    assert by_key["SENDGRID_KEY"].expires_at is None
    assert by_key["STRIPE_API_KEY"].used_by == []
    assert not any(isinstance(s, SecretValue) for s in listed)
    assert "sk_live_51ABC123" not in repr(listed)

    # Fetch a Single Secret, with its decrypted value
    fetched = admin.secrets.fetch("STRIPE_API_KEY")
    assert fetched.key == "STRIPE_API_KEY"
    assert fetched.value.expose() == "sk_live_51ABC123"
    assert fetched.value_version == 1
    assert fetched.description == "Production Stripe API key for payment processing"

    # Update a Secret: the value and the expiry
    later = int(time.time()) + 180 * 24 * 60 * 60
    updated = admin.secrets.update(
        "STRIPE_API_KEY",
        {
            "value": "sk_live_51NEW_KEY",
            "description": "Rotated Stripe API key - January 2025",
            "expires_at": later,
        },
    )
    assert updated.key == "STRIPE_API_KEY"
    assert updated.version == 2
    assert updated.expires_at == later
    # Update Metadata Only: the value and its version stay.
    meta_only = admin.secrets.update(
        "STRIPE_API_KEY",
        {
            "scope": ["stripe_payments", "subscription_service", "invoice_service"],
            "envs": ["dev", "staging", "prd"],
        },
    )
    assert meta_only.version == 2
    assert meta_only.scope == ["stripe_payments", "subscription_service", "invoice_service"]
    assert meta_only.description == "Rotated Stripe API key - January 2025"
    assert admin.secrets.fetch("STRIPE_API_KEY").value.expose() == "sk_live_51NEW_KEY"

    # Revoke a Secret: it stays, but cannot be used.
    revoked = admin.secrets.revoke("STRIPE_API_KEY")
    assert revoked
    assert revoked.status == "revoked"
    with pytest.raises(hush.RevokedError) as e:
        admin.secrets.fetch("STRIPE_API_KEY")
    assert e.value.status == 403 and e.value.code == "revoked"
    assert "STRIPE_API_KEY" in {s.key for s in admin.secrets.list(status="revoked")}

    # Delete a Secret
    assert admin.secrets.delete("SENDGRID_KEY") is True
    assert "SENDGRID_KEY" not in {s.key for s in admin.secrets.list()}

    # Error Handling: 409 for a key that exists, 403 for a token that may not create.
    with pytest.raises(hush.ExistsError) as ex:
        admin.secrets.create({"key": "STRIPE_API_KEY", "value": "secret_value"})
    assert ex.value.status == 409 and ex.value.code == "exists"
    assert isinstance(ex.value, hush.ConflictError) and isinstance(ex.value, hush.HushError)
    assert admin.secrets.restore("STRIPE_API_KEY").status == "active"
    assert admin.secrets.delete("STRIPE_API_KEY", force=True)


def test_put_show_versions_rollback(admin: Client, key: str) -> None:
    created = admin.secrets.put(key, "v1", description="first")
    assert created.version == 1 and created.description == "first"
    replaced = admin.secrets.put(key, b"v2")
    assert replaced.version == 2
    admin.secrets.update(key, value=Secret("v3"))

    shown = admin.secrets.show(key)
    assert shown.key == key and shown.version == 3
    assert not isinstance(shown, SecretValue)

    versions = admin.secrets.versions(key)
    assert [v.version for v in versions] == [1, 2, 3]
    assert all(isinstance(v, VersionInfo) for v in versions)
    assert [v.current for v in versions] == [False, False, True]

    assert admin.secrets.fetch(key, version=1).value.expose() == "v1"
    rolled = admin.secrets.rollback(key, 1)
    assert rolled.version == 4
    assert admin.secrets.fetch(key).value.expose() == "v1"
    assert admin.secrets.fetch(key).value_version == 4

    with pytest.raises(hush.NotFoundError):
        admin.secrets.show(key + "_absent")


def test_bytes_that_are_not_utf8_round_trip(admin: Client, key: str) -> None:
    raw = b"\xff\x00\xfe binary"
    admin.secrets.create(key=key, value=raw)
    got = admin.secrets.fetch(key).value
    assert got.expose_bytes() == raw
    with pytest.raises(hush.NotUtf8Error):
        got.expose()


def test_none_clears_a_field_and_absence_keeps_it(admin: Client, key: str) -> None:
    admin.secrets.create(
        key=key, value="x", description="d", token_type="access", expires_at=4102444800
    )
    m = admin.secrets.update(key, {"description": None, "expires_at": None})
    assert m.description is None and m.expires_at is None
    assert m.token_type == "access"
    m = admin.secrets.update(key, token_type=None, scope=["a"])
    assert m.token_type is None and m.scope == ["a"]
    with pytest.raises(hush.InvalidError, match="list of names"):
        admin.secrets.update(key, scope="a")


def test_conditional_writes(admin: Client, key: str) -> None:
    first = admin.secrets.create(key=key, value="one")
    assert first.etag == f'"{first.revision}"'
    second = admin.secrets.update(key, value="two", expected_version=1)
    assert second.version == 2
    with pytest.raises(hush.StaleVersionError) as stale:
        admin.secrets.update(key, value="three", expected_version=1)
    assert stale.value.status == 409

    # If-Match: the ETag of the revision read, or its number.
    third = admin.secrets.update(key, description="d", if_match=second.etag)
    with pytest.raises(hush.PreconditionFailedError) as pre:
        admin.secrets.update(key, value="four", if_match=second.etag)
    assert pre.value.status == 412 and pre.value.code == "precondition_failed"
    fourth = admin.secrets.put(key, "four", if_match=third.revision)
    assert fourth.version == 3
    assert admin.secrets.update(key, description="e", if_match="*").description == "e"

    with pytest.raises(hush.StaleVersionError):
        admin.secrets.delete(key, expected_version=1)
    with pytest.raises(hush.PreconditionFailedError):
        admin.secrets.delete(key, if_match=first.etag)
    assert admin.secrets.delete(key, expected_version=3)


def test_resolve_and_check(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="resolved-value", envs=["prd"])
    admin.secrets.create(key=key + "_r", value="x")
    admin.secrets.revoke(key + "_r")

    r = admin.resolve([key, key + "_r", key + "_missing"], env="prd")
    assert r.secrets[key].value.expose() == "resolved-value"
    assert r.errors[key + "_r"].code == "revoked"
    assert r.errors[key + "_missing"].code == "missing"
    assert r.errors[key + "_missing"].message

    # The call wrote one audit row naming each key, found by any of them.
    (row,) = [r for r in admin.audit.list(key=key + "_missing") if r.action == "secret.read"]
    assert row.key is None and row.outcome == "partial"
    assert [(i.key, i.outcome) for i in row.items] == [
        (key, "ok"),
        (key + "_r", "revoked"),
        (key + "_missing", "not_found"),
    ]
    assert row.items[0].version == 1
    assert row.seq in [r.seq for r in admin.audit.list(key=key)]

    other_env = admin.resolve([key], env="dev")
    assert other_env.errors[key].code == "out_of_scope"

    dry = admin.check([key], env="prd")
    assert dry.secrets[key].key == key
    assert dry.secrets[key].value.expose() == ""


def test_apps(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="v")
    app = f"app-{key}"[:60].replace("_", "-")
    info = admin.apps.register(
        {
            "app": app,
            "env": "prd",
            "secrets": [
                {"name": "TOKEN", "key": key},
                {"name": "KEY_FILE", "key": key, "as": "file", "required": False},
            ],
        }
    )
    assert isinstance(info, AppInfo)
    assert info.app == app and info.env == "prd"
    assert [d.name for d in info.secrets] == ["TOKEN", "KEY_FILE"]
    assert info.secrets[1].delivery == "file" and info.secrets[1].required is False
    assert [k.key for k in info.keys] == [key]

    assert app in {a.app for a in admin.apps.list()}
    assert admin.apps.get(app).registered_by
    # Registering again replaces.
    again = admin.apps.register({"app": app, "env": "prd", "secrets": [info.secrets[0]]})
    assert [d.name for d in again.secrets] == ["TOKEN"]

    used = admin.secrets.show(key).used_by
    assert used is not None and [u.app for u in used] == [app]
    assert used[0].last_read_at is None and used[0].env is None
    # A read for the app names the environment it was made in (here the shared value's).
    assert admin.resolve([key], app=app, env="prd").secrets[key].value.expose() == "v"
    used = admin.secrets.show(key).used_by
    assert used is not None and used[0].env == "prd" and used[0].last_read_at
    assert [(k.key, k.env) for k in admin.apps.get(app).keys] == [(key, "prd")]
    with pytest.raises(hush.InUseError) as e:
        admin.secrets.delete(key)
    assert e.value.status == 409 and app in e.value.message

    assert admin.apps.delete(app) is True
    with pytest.raises(hush.NotFoundError):
        admin.apps.get(app)
    assert admin.secrets.delete(key)


def test_tokens(server: Server, admin: Client, key: str) -> None:
    read = admin.tokens.create(role="read", name=f"reader-{key}"[:60])
    assert isinstance(read, NewToken)
    assert read.role == "read" and read.status == "active"
    assert read.token.expose().startswith("hush_")
    machine = admin.tokens.create(app="billing", env="prd", expires_at=4102444800)
    assert machine.role == "machine" and machine.app == "billing" and machine.env == "prd"

    ids = {t.id for t in admin.tokens.list()}
    assert {read.id, machine.id} <= ids
    assert all(isinstance(t, TokenInfo) and not isinstance(t, NewToken) for t in admin.tokens.list())

    reader = server.client(read.token.expose())
    admin.secrets.create(key=key, value="readable")
    assert reader.secrets.fetch(key).value.expose() == "readable"

    revoked = admin.tokens.revoke(read.id)
    assert revoked.status == "revoked" and revoked.revoked_at
    with pytest.raises(hush.UnauthorizedError) as e:
        reader.secrets.list()
    assert e.value.status == 401

    assert admin.tokens.delete(machine.name) is True
    assert {t.id: t.status for t in admin.tokens.list()}[machine.id] == "revoked"


def test_values_are_checked_at_the_door(admin: Client, key: str) -> None:
    """Issue 16: JSON that does not parse, RFC 3339 expiries, past expiries, and a token
    for a workspace."""
    with pytest.raises(hush.InvalidError) as e:
        admin.secrets.create(key=key, value='{"broken":', format="json")
    assert e.value.status == 422 and "not valid JSON" in str(e.value)
    with pytest.raises(hush.NotFoundError):
        admin.secrets.show(key)
    meta = admin.secrets.create(
        key=key, value='{"ok": 1}', format="json", expires_at="2100-01-01T00:00:00Z"
    )
    assert meta.expires_at == 4102444800
    with pytest.raises(hush.InvalidError) as e:
        admin.secrets.update(key, expires_at="2001-01-01T00:00:00Z")
    assert "allow_past" in str(e.value)
    old = admin.secrets.update(key, expires_at="2001-01-01T00:00:00Z", allow_past=True)
    assert old.status == "expired"

    mine = admin.tokens.create(role="read", workspace="default", expires_at="2100-01-01T00:00:00Z")
    assert mine.expires_at == 4102444800
    with pytest.raises(hush.ForbiddenError) as f:
        admin.tokens.create(role="read", workspace="elsewhere")
    assert "admin token of that workspace" in str(f.value)


def test_audit(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="audited")
    admin.secrets.fetch(key)
    rows = admin.audit.list(key=key)
    assert [r.action for r in rows] == ["secret.create", "secret.read"]
    assert all(r.outcome == "ok" and r.key == key for r in rows)
    assert rows[0].seq < rows[1].seq
    assert admin.audit.list(key=key, since=int(time.time()) + 3600) == []

    head = admin.audit.head()
    assert head.seq >= rows[1].seq and len(head.mac) == 64
    verdict = admin.audit.verify()
    assert verdict.intact and verdict.rows >= head.seq and verdict.first_bad_seq is None
    with_head = admin.audit.verify(head)
    assert with_head.intact and with_head.head_checked
    assert all(r.request_id for r in rows), "rows written over HTTP name their request"
    # Retention: nothing is older than 2001, so nothing goes; a future time is refused.
    none = admin.audit.prune(before="2001-01-01T00:00:00Z")
    assert none.removed == 0 and none.checkpoint is None
    assert none.head == admin.audit.head()
    with pytest.raises(hush.InvalidError):
        admin.audit.prune(before="2999-01-01T00:00:00Z")


def test_list_calls_follow_every_page(server: Server, key: str) -> None:
    small = server.client(page_size=2)
    for i in range(5):
        small.secrets.create(key=f"{key}_{i}", value="v")
        small.secrets.update(f"{key}_0", value=f"v{i}")
    assert [s.key for s in small.secrets.list(prefix=key + "_")] == [f"{key}_{i}" for i in range(5)]
    assert len(small.secrets.versions(f"{key}_0")) == 6
    assert len(small.audit.list(key=f"{key}_0")) == 6
    assert len(small.tokens.list()) == len(server.client().tokens.list())
    with pytest.raises(hush.InvalidError):
        server.client(page_size=0)


def test_client_refuses_what_it_will_not_send(server: Server) -> None:
    with pytest.raises(hush.InvalidError) as e:
        Client("127.0.0.1:8270", "t")
    assert e.value.code == "bad_address" and e.value.status is None
    with pytest.raises(hush.InvalidError):
        Client(server.base, "")
    c = server.client()
    for bad in ["", ".", "..", "a/b", "../etc", "a b", "k?x", "x" * 129]:
        with pytest.raises(hush.InvalidError):
            c.secrets.fetch(bad)
    with pytest.raises(hush.InvalidError):
        c.secrets.update("k", if_match=True)


def test_the_ductape_example_script(own_server: Server) -> None:
    """examples/ductape.py, the README's walkthrough, runs as written against a server."""
    import subprocess
    import sys

    from .conftest import SRC, clean_env

    script = SRC.parent / "examples" / "ductape.py"
    env = clean_env(
        own_server.home, PYTHONPATH=str(SRC), HUSH_ADDR=own_server.base, HUSH_TOKEN=own_server.admin
    )
    p = subprocess.run(
        [sys.executable, "-S", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    for line in (
        "Secret created: STRIPE_API_KEY",
        "STRIPE_API_KEY: Production Stripe API key for payment processing",
        "  Scope: stripe_payments, checkout_service",
        "Value: [redacted]",
        "(value of 19 characters fetched)",
        "Secret updated: STRIPE_API_KEY (version 2)",
        "Metadata updated: scope stripe_payments, subscription_service, invoice_service",
        "Secret with this key already exists",
        "Secret has been revoked",
        "Reading a revoked secret is forbidden (403 revoked)",
        "Secret successfully deleted",
        "It is gone",
    ):
        assert line in p.stdout.splitlines(), f"{line!r} not in:\n{p.stdout}"
    assert "sk_live" not in p.stdout + p.stderr


def test_values_per_environment(admin: Client, key: str) -> None:
    """Issue 16: one key, a shared value and each environment's own, set, read, versioned,
    rolled back and deleted one environment at a time."""
    admin.secrets.put(key, "shared-v")
    meta = admin.secrets.put(key, "prd-v", env="prd")
    assert meta.env_versions == {"prd": 1}
    admin.secrets.put(key, "dev-v", env="dev")
    prd = admin.secrets.fetch(key, env="prd")
    assert (prd.value.expose(), prd.value_env, prd.value_version) == ("prd-v", "prd", 1)
    stg = admin.secrets.fetch(key, env="stg")
    assert (stg.value.expose(), stg.value_env) == ("shared-v", None)
    admin.secrets.update(key, value="prd-v2", env="prd", expected_version=1)
    with pytest.raises(StaleVersionError):
        admin.secrets.update(key, value="x", env="prd", expected_version=1)
    versions = admin.secrets.versions(key, env="prd")
    assert [(v.env, v.version) for v in versions] == [("prd", 1), ("prd", 2)]
    back = admin.secrets.rollback(key, 1, env="prd")
    assert back.env_versions["prd"] == 3
    assert admin.secrets.fetch(key, env="prd").value.expose() == "prd-v"
    assert admin.secrets.delete(key, env="prd") is True
    assert admin.secrets.fetch(key, env="prd").value.expose() == "shared-v"
    assert admin.secrets.fetch(key, env="dev").value.expose() == "dev-v"
    with pytest.raises(NotFoundError):
        admin.secrets.delete(key, env="prd")
    rows = [r for r in admin.audit.list(key=key) if r.action == "secret.read"]
    assert {r.env for r in rows} >= {"prd", "dev", None}
