"""The offline fallback snapshot of the server source, against a real ``hush server`` that the
test stops: served from the snapshot, refused past its age and with another token, sealed on
disk, and never used after a 401."""

from __future__ import annotations

import base64
import http.server
import json
import stat
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import hush
from hush.secrets import Sources
from hush import _fallback

from .conftest import PLANTED, Server


def env_for(server: Server, home: Path, token: str, **extra: str) -> Dict[str, str]:
    return {
        "HUSH_ADDR": server.base,
        "HUSH_TOKEN": token,
        "HUSH_HOME": str(home),
        "HUSH_APP": "billing",
        **extra,
    }


class _StandIn(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status the test sets."""

    status = 503

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": {"code": "stand_in", "message": f"stand-in says {self.status}"}}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def stand_in(base: str) -> Iterator[type[_StandIn]]:
    """A stand-in at a stopped server's address."""
    port = int(base.rsplit(":", 1)[1])
    handler = type("H", (_StandIn,), {})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield handler
    finally:
        srv.shutdown()
        srv.server_close()


def snapshots(home: Path) -> List[Path]:
    d = home / "state" / "fallback" / "sdk-python"
    return sorted(p for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []


def test_served_from_the_snapshot_when_the_server_is_stopped(
    own_server: Server, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = own_server.client()
    value = PLANTED + "-fallback"
    admin.secrets.create(key=key, value=value)
    home = tmp_path / "client"
    env = env_for(own_server, home, own_server.admin)
    assert Sources(env, tmp_path).get(key).expose() == value
    assert capsys.readouterr().err == ""

    # Sealed, private, and named after nothing it holds.
    [snap] = snapshots(home)
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600
    assert stat.S_IMODE(snap.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "state").stat().st_mode) == 0o700
    raw = snap.read_bytes()
    for needle in (value, base64.b64encode(value.encode()).decode(), key, own_server.admin, "billing"):
        assert needle.encode() not in raw
        assert needle not in snap.name

    own_server.stop()
    got = Sources(env, tmp_path).get(key)
    assert got.expose() == value
    err = capsys.readouterr().err
    assert f"the server at {own_server.base} cannot be reached" in err
    assert "using the fallback snapshot of" in err and " ago" in err
    assert value not in err

    # A file asked for is written from the snapshot too.
    p = Sources(env, tmp_path).file(key)
    assert p.read_text() == value

    # Turned off: the server's error, no snapshot.
    for off in (Sources(env, tmp_path, fallback=False), Sources({**env, "HUSH_NO_FALLBACK": "1"}, tmp_path)):
        with pytest.raises(hush.ServerError) as e:
            off.get(key)
        assert isinstance(e.value.error, hush.HushConnectionError)

    # Another token finds no snapshot at all.
    other = env_for(own_server, home, "hush_" + "Q" * 40)
    with pytest.raises(hush.ServerError) as e:
        Sources(other, tmp_path).get(key)
    assert isinstance(e.value.error, hush.HushConnectionError)
    assert e.value.fallback == ""
    # Another app neither.
    with pytest.raises(hush.ServerError):
        Sources({**env, "HUSH_APP": "other"}, tmp_path).get(key)

    # A key the snapshot does not hold is the server's error.
    with pytest.raises(hush.ServerError):
        Sources(env, tmp_path).get(key + "_never")

    # Past its max age: refused, saying why.
    time.sleep(1.1)
    for old in (
        Sources(env, tmp_path, fallback_max_age=0),
        Sources({**env, "HUSH_FALLBACK_MAX_AGE": "1s"}, tmp_path),
    ):
        with pytest.raises(hush.ServerError) as e:
            old.get(key)
        assert "too old to use" in str(e.value) and " s ago" in str(e.value)
        assert value not in str(e.value)
    capsys.readouterr()

    # A 503 at the address falls back; a 404 never does.
    for handler in stand_in(own_server.base):
        assert Sources(env, tmp_path, fallback_max_age="1h").get(key).expose() == value
        assert "answered 503 (stand-in says 503)" in capsys.readouterr().err
        handler.status = 404
        with pytest.raises(hush.ServerError) as e:
            Sources(env, tmp_path, fallback_max_age="1h").get(key)
        assert e.value.status == 404 and e.value.fallback == ""
        assert "fallback snapshot" not in capsys.readouterr().err

    # A changed byte: it does not open, and says so.
    snap.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(hush.ServerError) as e:
        Sources(env, tmp_path).get(key)
    assert "does not open" in str(e.value)


def test_a_401_never_falls_back_and_removes_the_snapshot(
    own_server: Server, key: str, tmp_path: Path
) -> None:
    admin = own_server.client()
    admin.secrets.create(key=key, value=PLANTED)
    made = admin.tokens.create(role="read", name="fallback-reader")
    home = tmp_path / "client"
    env = env_for(own_server, home, made.token.expose())
    assert Sources(env, tmp_path).get(key).expose() == PLANTED
    assert len(snapshots(home)) == 1

    admin.tokens.revoke(made.id)
    with pytest.raises(hush.ServerError) as e:
        Sources(env, tmp_path).get(key)
    assert e.value.status == 401
    assert snapshots(home) == []

    # With the server gone, there is nothing left to fall back on.
    own_server.stop()
    with pytest.raises(hush.ServerError) as e:
        Sources(env, tmp_path).get(key)
    assert isinstance(e.value.error, hush.HushConnectionError)


def test_a_refused_key_leaves_the_snapshot(own_server: Server, key: str, tmp_path: Path) -> None:
    admin = own_server.client()
    admin.secrets.create(key=key, value=PLANTED)
    home = tmp_path / "client"
    env = env_for(own_server, home, own_server.admin)
    assert Sources(env, tmp_path).get(key).expose() == PLANTED
    admin.secrets.revoke(key)
    with pytest.raises(hush.RefusedError):
        Sources(env, tmp_path).get(key)
    own_server.stop()
    with pytest.raises(hush.ServerError):
        Sources(env, tmp_path).get(key)


def test_only_transport_errors_and_5xx_fall_back() -> None:
    assert _fallback.may_fall_back(hush.HushConnectionError("http://x", "connection refused"))
    assert _fallback.may_fall_back(hush.InternalError("boom", status=500))
    assert _fallback.may_fall_back(hush.UnavailableError("down", status=503))
    for status, cls in (
        (401, hush.UnauthorizedError),
        (403, hush.ForbiddenError),
        (404, hush.NotFoundError),
        (410, hush.ExpiredError),
        (429, hush.RateLimitedError),
    ):
        assert not _fallback.may_fall_back(cls("no", status=status))


#: A snapshot this SDK sealed: the Rust SDK's test (crates/hush-client/src/fallback.rs) and the
#: Node SDK's open it too, so the three agree on the format, the identity and the file name.
VECTOR = (
    "7846d15a7a6108f5fc092f1b0d72ec8cae36bfc5e11583ae252f5d28ae05f313010000000069afc04726e8fc4b"
    "2085015c2836437801254fcd98f074c8571816158c1761b4d86d2bf760591f8107a97c2ddfd4d4d8c78bfae488"
    "0cf39286a4006d41f7d428c93c9038c26404abafd2b6c2eb4d7eb85bb0490bb823d3e3074f2b728b0621307552"
    "24ff51b9e2ecadc45394ad62ffe2c6774146dc0016939cd91726fea1169de691c078753f6b1a0f3af50773876ed2"
    "f4e9a28ef775bc56"
)


def test_the_shared_vector_opens(tmp_path: Path) -> None:
    snap = _fallback.Snapshot(
        tmp_path, "http://127.0.0.1:9", hush.Secret(b"hush_vector_token"), "billing", None, float("inf")
    )
    assert snap.path.name == "62b7d3de0cf6ce7dcb73db1484a864188a75f58db4b3a28b311a177bf05e31de"
    snap.path.write_bytes(bytes.fromhex(VECTOR))
    value, notice = snap.answer("vk", hush.HushConnectionError("http://127.0.0.1:9", "connection refused"))
    assert value is not None and value.expose() == "vector-value", notice
    other = _fallback.Snapshot(
        tmp_path, "http://127.0.0.1:9", hush.Secret(b"hush_other_token"), "billing", None, float("inf")
    )
    other.path.write_bytes(bytes.fromhex(VECTOR))
    value, why = other.answer("vk", hush.HushConnectionError("http://127.0.0.1:9", "connection refused"))
    assert value is None and "does not open" in why


def test_max_age_and_age_text() -> None:
    assert _fallback.parse_max_age("24h", "x") == 86400
    assert _fallback.parse_max_age("1d12h", "x") == 129600
    assert _fallback.parse_max_age(90, "x") == 90
    assert _fallback.parse_max_age("3600", "x") == 3600
    for bad in ("", "24x", "soon", "-1h"):
        with pytest.raises(hush.ConfigError):
            _fallback.parse_max_age(bad, "x")
    with pytest.raises(hush.ConfigError):
        Sources({}, ".", fallback_max_age="forever")
    assert _fallback.age_text(7500) == "2 h 5 min"
    assert _fallback.age_text(3) == "3 s"
