"""A real ``hush server`` on 127.0.0.1 for the tests, and the real ``hush`` binary.

The binary is ``HUSH_BIN``, else ``<repo>/target/debug/hush``. Each server gets a private
``HUSH_HOME`` (a fresh SQLite store), a free port (``--listen 127.0.0.1:0``) and prints its
first admin token on stdout, as ``crates/hush/tests/cli/server.rs`` starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional

import pytest

from hush import Client

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "sdk" / "python" / "src"
HUSH_BIN = Path(os.environ.get("HUSH_BIN") or REPO / "target" / "debug" / "hush")

#: A value planted in tests that must never show up in a repr, a message or an output.
PLANTED = "sk_live_PLANTED_5f3a9c1e7b"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a ``hush`` child: none of hush's variables from the machine running
    the tests, a private home, no saved login."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUSH_")}
    env.update(
        HUSH_HOME=str(home),
        HUSH_CONFIG="/nonexistent/hush-test-config.json",
        USER="tester",
    )
    env.update(extra)
    return env


class Server:
    """A running ``hush server``; :meth:`stop` kills it."""

    def __init__(self, home: Path, extra_env: Optional[dict[str, str]] = None) -> None:
        if not HUSH_BIN.is_file():
            pytest.fail(f"no hush binary at {HUSH_BIN}: build it (cargo build -p hush) or set HUSH_BIN")
        self.home = home
        env = clean_env(home, HUSH_SQLITE_BUSY_TIMEOUT_MS="300", **(extra_env or {}))
        self.proc = subprocess.Popen(
            [str(HUSH_BIN), "server", "--listen", "127.0.0.1:0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.admin = self.proc.stdout.readline().decode().strip()
        self.base = ""
        log: list[str] = []
        for _ in range(20):
            line = self.proc.stderr.readline().decode()
            if not line:
                break
            log.append(line)
            if line.strip().startswith("hush listening on "):
                self.base = line.strip()[len("hush listening on ") :]
                break
        if not self.base.startswith("http://127.0.0.1:") or not self.admin:
            self.stop()
            pytest.fail("the server did not start:\n" + "".join(log))
        # Keep draining both pipes so the server never blocks on a full one.
        for pipe in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=_drain, args=(pipe,), daemon=True).start()

    @property
    def db(self) -> Path:
        return self.home / "hush.db"

    def client(self, token: Optional[str] = None, **kw: Any) -> Client:
        return Client(self.base, token or self.admin, **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def _drain(pipe: IO[bytes]) -> None:
    for _ in pipe:
        pass


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="hush-py-home-") as home:
        s = Server(Path(home))
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture()
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, for what would disturb the shared one (throttling the
    address, locking or editing the store)."""
    s = Server(tmp_path / "home")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture()
def admin(server: Server) -> Client:
    return server.client()


_counter = iter(range(1, 1_000_000))
_counter_lock = threading.Lock()


@pytest.fixture()
def key(request: pytest.FixtureRequest) -> str:
    """A key no other test uses on the shared server."""
    with _counter_lock:
        n = next(_counter)
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:80]
    return f"{name}_{n}_{int(time.time() * 1000) % 100000}"


def python_cmd(code: str, *, isolated: bool = False) -> list[str]:
    """A Python child running ``code``; ``isolated`` leaves out site-packages (``-S``), so the
    child has the standard library and ``PYTHONPATH`` (this package's ``src``) only."""
    return [sys.executable, *(["-S"] if isolated else []), "-c", code]
