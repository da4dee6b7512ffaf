"""Every error type, each provoked for real against a ``hush server`` where the server can be
made to answer it; the few a healthy server cannot be driven to (``conflict`` after 16 lost
races, ``internal``) are checked through the mapping the client applies to every answer."""

from __future__ import annotations

import http.server
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import hush
from hush import Client, errors
from hush.errors import API_ERRORS, HushError

from .conftest import Server


def test_unauthorized(server: Server) -> None:
    with pytest.raises(hush.UnauthorizedError) as e:
        server.client("hush_" + "A" * 43).secrets.list()
    assert (e.value.status, e.value.code) == (401, "unauthorized")
    assert "token" in e.value.message


def test_forbidden_a_read_token_writing(admin: Client, server: Server, key: str) -> None:
    reader = server.client(admin.tokens.create(role="read").token.expose())
    with pytest.raises(hush.ForbiddenError) as e:
        reader.secrets.create(key=key, value="v")
    assert (e.value.status, e.value.code) == (403, "forbidden")
    assert not isinstance(e.value, hush.RevokedError)


def test_revoked(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="v")
    admin.secrets.revoke(key)
    with pytest.raises(hush.RevokedError) as e:
        admin.secrets.fetch(key)
    assert (e.value.status, e.value.code) == (403, "revoked")
    assert isinstance(e.value, hush.ForbiddenError)
    assert "restore" in e.value.message


def test_not_found(admin: Client, key: str) -> None:
    with pytest.raises(hush.NotFoundError) as e:
        admin.secrets.fetch(key)
    assert (e.value.status, e.value.code) == (404, "not_found")
    with pytest.raises(hush.NotFoundError):
        admin.secrets.rollback(key, 1)


def test_expired(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="v", expires_at=int(time.time()) - 60, allow_past=True)
    with pytest.raises(hush.ExpiredError) as e:
        admin.secrets.fetch(key)
    assert (e.value.status, e.value.code) == (410, "expired")


def test_exists(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="v")
    with pytest.raises(hush.ExistsError) as e:
        admin.secrets.create(key=key, value="w")
    assert (e.value.status, e.value.code) == (409, "exists")
    assert isinstance(e.value, hush.ConflictError)


def test_stale_version(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="v")
    admin.secrets.update(key, value="w")
    with pytest.raises(hush.StaleVersionError) as e:
        admin.secrets.update(key, value="x", expected_version=1)
    assert (e.value.status, e.value.code) == (409, "stale_version")
    assert isinstance(e.value, hush.ConflictError)


def test_in_use(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="v")
    admin.apps.register({"app": "uses-" + key[-20:].replace("_", "-"), "secrets": [{"name": "V", "key": key}]})
    with pytest.raises(hush.InUseError) as e:
        admin.secrets.delete(key)
    assert (e.value.status, e.value.code) == (409, "in_use")
    assert "force" in e.value.message
    assert admin.secrets.delete(key, force=True)


def test_precondition_failed(admin: Client, key: str) -> None:
    m = admin.secrets.create(key=key, value="v")
    admin.secrets.update(key, description="moved")
    with pytest.raises(hush.PreconditionFailedError) as e:
        admin.secrets.update(key, value="w", if_match=m.etag)
    assert (e.value.status, e.value.code) == (412, "precondition_failed")


def test_bad_request(admin: Client, key: str) -> None:
    admin.secrets.create(key=key, value="v")
    with pytest.raises(hush.BadRequestError) as e:
        admin.secrets.update(key, value="w", if_match="not-an-etag")
    assert (e.value.status, e.value.code) == (400, "bad_request")
    assert isinstance(e.value, hush.InvalidError)


def test_invalid_field(admin: Client) -> None:
    with pytest.raises(hush.InvalidError) as e:
        admin.secrets.create(key="bad key", value="v")
    assert (e.value.status, e.value.code) == (422, "invalid_field")
    assert type(e.value) is hush.InvalidError
    with pytest.raises(hush.InvalidError) as e2:
        admin.secrets.create({"key": "k", "value": "v", "vaule": "typo"})
    assert "unknown field" in e2.value.message


def test_too_large(admin: Client, key: str) -> None:
    with pytest.raises(hush.TooLargeError) as e:
        admin.secrets.create(key=key, value="x" * (2 * 1024 * 1024 + 10))
    assert (e.value.status, e.value.code) == (413, "too_large")
    assert isinstance(e.value, hush.InvalidError)


def test_unsupported_media_type(admin: Client) -> None:
    # The client always sends JSON: the header is changed under it to get the server's 415.
    with pytest.raises(hush.UnsupportedMediaTypeError) as e:
        admin._call("POST", "/v1/secrets", body={"key": "k", "value": "v"}, headers={"Content-Type": "text/plain"})
    assert (e.value.status, e.value.code) == (415, "unsupported_media_type")


def test_method_not_allowed(admin: Client) -> None:
    with pytest.raises(hush.MethodNotAllowedError) as e:
        admin._call("PATCH", "/v1/secrets")
    assert (e.value.status, e.value.code) == (405, "method_not_allowed")


def test_rate_limited(own_server: Server) -> None:
    bad = own_server.client("hush_" + "B" * 43)
    for _ in range(20):
        with pytest.raises(hush.UnauthorizedError):
            bad.secrets.list()
    with pytest.raises(hush.RateLimitedError) as e:
        bad.secrets.list()
    assert (e.value.status, e.value.code) == (429, "rate_limited")
    assert e.value.retry_after is not None and 0 < e.value.retry_after <= 60
    # A valid token is never answered 429.
    assert own_server.client().secrets.list() == []


def test_unavailable(own_server: Server) -> None:
    c = own_server.client()
    c.secrets.create(key="k", value="v")
    # Another writer holds SQLite's lock past the server's busy timeout (300 ms here).
    db = sqlite3.connect(own_server.db, timeout=5, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        with pytest.raises(hush.UnavailableError) as e:
            c.secrets.create(key="k2", value="v")
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert (e.value.status, e.value.code) == (503, "unavailable")
    assert e.value.retry_after == 5
    assert c.secrets.create(key="k2", value="v").key == "k2"


def test_decrypt_failed(own_server: Server) -> None:
    c = own_server.client()
    c.secrets.create(key="k", value="tampered-with")
    db = sqlite3.connect(own_server.db, timeout=5, isolation_level=None)
    try:
        (ct,) = db.execute("SELECT ciphertext FROM secret_values").fetchone()
        flipped = bytes([ct[0]]) + bytes([ct[1] ^ 1]) + ct[2:-1] + bytes([ct[-1] ^ 1])
        db.execute("UPDATE secret_values SET ciphertext = ?", (flipped,))
    finally:
        db.close()
    with pytest.raises(hush.DecryptFailedError) as e:
        c.secrets.fetch("k")
    assert (e.value.status, e.value.code) == (500, "decrypt_failed")
    assert isinstance(e.value, hush.InternalError)
    r = c.resolve(["k"])
    assert r.errors["k"].code == "decrypt_failed"


def test_audit_broken(own_server: Server) -> None:
    c = own_server.client()
    c.secrets.create(key="k", value="v")
    db = sqlite3.connect(own_server.db, timeout=5, isolation_level=None)
    try:
        db.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = (SELECT max(seq) FROM audit_log)")
    finally:
        db.close()
    with pytest.raises(hush.AuditBrokenError) as e:
        c.audit.head()
    assert (e.value.status, e.value.code) == (409, "audit_broken")
    assert isinstance(e.value, hush.ConflictError)
    assert c.audit.verify().intact is False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_connection_refused() -> None:
    port = _free_port()
    c = Client(f"http://127.0.0.1:{port}", "hush_secret_token_value")
    with pytest.raises(hush.HushConnectionError) as e:
        c.secrets.list()
    assert isinstance(e.value, ConnectionError) and isinstance(e.value, HushError)
    assert f"127.0.0.1:{port}" in str(e.value)
    assert str(e.value).endswith(": connection refused")
    assert e.value.status is None
    assert "hush_secret_token_value" not in str(e.value) + repr(e.value)


def test_timeout() -> None:
    # A listener that never answers.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        c = Client(f"http://127.0.0.1:{port}", "t", timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(hush.HushConnectionError) as e:
            c.secrets.list()
        assert time.monotonic() - t0 < 5
        assert str(e.value).endswith(": timeout after 0.3 s")


class _Odd(http.server.BaseHTTPRequestHandler):
    """Answers what no hush server of this version sends: a code from the future, and a proxy's
    error page."""

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/v1/secrets/future"):
            body = b'{"error": {"code": "from_the_future", "message": "a newer server", "hint": 3}}'
            self.send_response(418)
        else:
            body = b"<html>bad gateway</html>"
            self.send_response(502)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def odd_server() -> Iterator[str]:
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Odd)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_unknown_code_and_non_json_answers(odd_server: str) -> None:
    c = Client(odd_server, "t")
    with pytest.raises(HushError) as e:
        c.secrets.fetch("future")
    assert type(e.value) is HushError
    assert (e.value.status, e.value.code, e.value.message) == (418, "from_the_future", "a newer server")
    assert e.value.details == {"hint": 3}
    with pytest.raises(HushError) as e2:
        c.secrets.fetch("other")
    assert type(e2.value) is HushError
    assert (e2.value.status, e2.value.code, e2.value.message) == (502, "unknown", "HTTP 502")


def test_every_wire_code_has_its_class() -> None:
    # The codes of hush_wire::ErrorCode (crates/hush-wire/src/codes.rs).
    wire = {
        "bad_request": hush.BadRequestError,
        "invalid_field": hush.InvalidError,
        "unauthorized": hush.UnauthorizedError,
        "forbidden": hush.ForbiddenError,
        "revoked": hush.RevokedError,
        "not_found": hush.NotFoundError,
        "method_not_allowed": hush.MethodNotAllowedError,
        "exists": hush.ExistsError,
        "in_use": hush.InUseError,
        "stale_version": hush.StaleVersionError,
        "conflict": hush.ConflictError,
        "audit_broken": hush.AuditBrokenError,
        "precondition_failed": hush.PreconditionFailedError,
        "expired": hush.ExpiredError,
        "too_large": hush.TooLargeError,
        "unsupported_media_type": hush.UnsupportedMediaTypeError,
        "rate_limited": hush.RateLimitedError,
        "internal": hush.InternalError,
        "decrypt_failed": hush.DecryptFailedError,
        "unavailable": hush.UnavailableError,
        "audit_sink_unavailable": hush.AuditSinkUnavailableError,
    }
    assert API_ERRORS == wire
    for code, cls in wire.items():
        err = errors.api_error(409, code, "m", retry_after=2)
        assert type(err) is cls and err.code == code and err.retry_after == 2
        assert repr(err) == f"{cls.__name__}(status=409, code={code!r}, message='m')"
    assert type(errors.api_error(409, "brand_new", "m")) is HushError
