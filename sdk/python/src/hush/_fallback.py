"""The offline fallback snapshot of the server source, as ``hush run`` keeps one.

After each value a hush server gives, :class:`Snapshot` keeps it in a file sealed with
AES-256-GCM under a key HKDF-SHA256 derives from the token (a fresh random salt per write);
when the server later cannot be reached, times out or answers 5xx, the value is answered from
the file (said on stderr, with its age). An answer of 401, 403, 404 or 410 never falls back, and
a 401 removes the token's snapshot.

One file per server, app, environment and token, in ``$HUSH_HOME/state/fallback/sdk-python/``
(directory 0700, file 0600, written to a temporary file then renamed); its name is SHA-256 of
all of those, so it names none of them, and another token finds no file at all.

The sealing needs the ``cryptography`` package (``pip install 'hush-sdk[fallback]'``): the
standard library has no AEAD. Without it, no snapshot is kept or used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ._secret import Secret
from .errors import ConfigError, HushConnectionError, HushError, UnauthorizedError

#: Turns the fallback snapshot off when set to anything but empty, ``0`` or ``false``.
NO_FALLBACK_VAR = "HUSH_NO_FALLBACK"
#: The oldest snapshot to use (``90s``, ``30m``, ``24h``, ``7d``); default 24 hours.
FALLBACK_MAX_AGE_VAR = "HUSH_FALLBACK_MAX_AGE"
#: The default bound on a snapshot's age, in seconds.
DEFAULT_MAX_AGE = 24 * 3600

# The sealed format is hush_crypto::seal_fallback's (the CLI's, the Rust SDK's, the Node SDK's):
# a 32-byte random salt, then hush's AES-256-GCM format (format byte 1, key version 0 as a
# big-endian u32, a 12-byte nonce, the ciphertext and its tag), its associated data the label,
# a 0 byte, that 5-byte header, then the salt and the identity each behind its length (u32);
# the key is HKDF-SHA256 of the token with the salt, its info a label then the identity.
SALT_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
_HEADER = b"\x01\x00\x00\x00\x00"
_NAME_LABEL = b"hush fallback name sdk v1"
_INFO = b"hush fallback v1\x00"
_AAD_LABEL = b"hush/v1/fallback-snapshot\x00"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:\d+[smhdw])+")


def available() -> bool:
    """Whether the ``cryptography`` package (the ``fallback`` extra) is installed."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: F401
    except ImportError:
        return False
    return True


def parse_max_age(value: Union[str, int, float], what: str) -> float:
    """Seconds from ``90s``, ``30m``, ``24h``, ``1d12h`` or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a duration (e.g. 90s, 30m, 24h, 7d), not a boolean")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{what} must not be negative (give e.g. 90s, 30m, 24h or 7d)")
        return float(value)
    t = value.strip()
    if t.isascii() and t.isdigit():
        return float(int(t))
    if not _DURATION.fullmatch(t):
        raise ConfigError(f"{what} {value!r} is not a duration: give e.g. 90s, 30m, 24h or 7d")
    return float(sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", t)))


def age_text(secs: float) -> str:
    """``2 h 5 min``, ``3 s``, ``1 d 4 h``: an age for people, as ``hush run`` says it."""
    s = max(int(secs), 0)
    d, h, m = s // 86400, (s % 86400) // 3600, (s % 3600) // 60
    if d == 0 and h == 0 and m == 0:
        return f"{s} s"
    if d == 0 and h == 0:
        return f"{m} min"
    if d == 0:
        return f"{h} h" if m == 0 else f"{h} h {m} min"
    return f"{d} d" if h == 0 else f"{d} d {h} h"


def may_fall_back(e: HushError) -> bool:
    """The server could not be reached, timed out or answered 5xx: never 401/403/404/410."""
    if isinstance(e, HushConnectionError):
        return True
    return e.status is not None and e.status >= 500


def _fields(*parts: bytes) -> bytes:
    """Length-prefixed fields, so no two different lists give the same bytes."""
    return b"".join(struct.pack(">Q", len(p)) + p for p in parts)


def state_dir(env: Mapping[str, bytes]) -> Path:
    """``$HUSH_HOME/state/fallback/sdk-python``; ``HUSH_HOME`` defaults to
    ``$XDG_DATA_HOME/hush``, else ``~/.local/share/hush``, as the CLI's."""

    def var(name: str) -> Optional[str]:
        raw = env.get(name)
        return os.fsdecode(raw) if raw else None

    home = var("HUSH_HOME")
    if home is None:
        xdg = var("XDG_DATA_HOME")
        if xdg is not None and os.path.isabs(xdg):
            base = Path(xdg)
        else:
            user = var("HOME")
            base = (Path(user) if user else Path.home()) / ".local" / "share"
        home = str(base / "hush")
    return Path(home) / "state" / "fallback" / "sdk-python"


class Snapshot:
    """The snapshot of one server, app, environment and token."""

    def __init__(
        self,
        directory: Path,
        addr: str,
        token: Secret,
        app: Optional[str],
        env: Optional[str],
        max_age: float,
    ) -> None:
        self.addr = addr
        self.max_age = max_age
        self._token = token
        self._identity = _fields(addr.encode(), (app or "").encode(), (env or "").encode())
        # EXPOSE: the token goes into the file's name through SHA-256, and nowhere else.
        name = hashlib.sha256(
            _fields(_NAME_LABEL, self._identity, token.expose_bytes())
        ).hexdigest()
        self.path = directory / name

    def __repr__(self) -> str:
        return f"Snapshot(path={str(self.path)!r})"

    # -- sealing ------------------------------------------------------------------------------

    def _key(self, salt: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hk = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO + self._identity)
        # EXPOSE: the token is the key material of the snapshot's key.
        return hk.derive(self._token.expose_bytes())

    def _aad(self, salt: bytes) -> bytes:
        parts = (salt, self._identity)
        return _AAD_LABEL + _HEADER + b"".join(struct.pack(">I", len(p)) + p for p in parts)

    def _seal(self, plain: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt = os.urandom(SALT_LEN)
        nonce = os.urandom(NONCE_LEN)
        ct = AESGCM(self._key(salt)).encrypt(nonce, plain, self._aad(salt))
        return salt + _HEADER + nonce + ct

    def _open(self, sealed: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        h = len(_HEADER)
        if len(sealed) < SALT_LEN + h + NONCE_LEN + TAG_LEN:
            raise ValueError("too short")
        salt, rest = sealed[:SALT_LEN], sealed[SALT_LEN:]
        if rest[:h] != _HEADER:
            raise ValueError("not a sealed snapshot")
        nonce, ct = rest[h : h + NONCE_LEN], rest[h + NONCE_LEN :]
        return AESGCM(self._key(salt)).decrypt(nonce, ct, self._aad(salt))

    # -- reading and writing ------------------------------------------------------------------

    def _load(self) -> Optional[Dict[str, Any]]:
        """The entries, ``None`` when there is no snapshot; ``ValueError`` when it does not
        open."""
        try:
            sealed = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(self._open(sealed))
        except Exception:
            raise ValueError(
                f"the fallback snapshot {self.path} does not open (damaged or changed): delete it"
            ) from None
        values = doc.get("values") if isinstance(doc, dict) else None
        if not isinstance(values, dict):
            raise ValueError(f"the fallback snapshot {self.path} does not open: delete it")
        return values

    def _store(self, values: Dict[str, Any]) -> None:
        if not values:
            self.remove()
            return
        plain = json.dumps({"addr": self.addr, "values": values}).encode()
        sealed = self._seal(plain)
        d = self.path.parent
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        # sdk-python/, fallback/ and state/ (the CLI's too) are private.
        for p in (d, d.parent, d.parent.parent):
            os.chmod(p, 0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=str(d))
        try:
            # mkstemp makes the file 0600.
            with os.fdopen(fd, "wb") as f:
                f.write(sealed)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _update(self, key: str, entry: Optional[Dict[str, Any]]) -> None:
        try:
            values = self._load() or {}
        except ValueError:
            values = {}  # a damaged snapshot is replaced
        if entry is None:
            if key not in values:
                return
            values.pop(key)
        else:
            values[key] = entry
        self._store(values)

    def keep(self, key: str, value: Secret, expires_at: Optional[int]) -> None:
        """Keeps a value the server gave. A failure only warns: the value is served anyway."""
        # EXPOSE: the value is encoded into the plaintext that is sealed next.
        entry = {
            "value_base64": base64.b64encode(value.expose_bytes()).decode(),
            "expires_at": expires_at,
            "resolved_at": int(time.time()),
        }
        try:
            self._update(key, entry)
        except OSError as e:
            _say(f"warning: cannot keep the fallback snapshot {self.path}: {e.strerror or e}")

    def forget(self, key: str) -> None:
        """The server refused ``key`` (missing, revoked, expired): it leaves the snapshot."""
        try:
            self._update(key, None)
        except OSError as e:
            _say(f"warning: cannot update the fallback snapshot {self.path}: {e.strerror or e}")

    def remove(self) -> None:
        """The token is refused: its snapshot goes."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            _say(f"warning: cannot remove the fallback snapshot {self.path}: {e.strerror or e}")

    def answer(self, key: str, error: HushError) -> Tuple[Optional[Secret], str]:
        """After the server failed with ``error`` (one that may fall back): the snapshot's
        value of ``key`` and the notice said on stderr, or ``None`` and why it cannot be used
        (empty when there is simply no snapshot)."""
        try:
            values = self._load()
        except ValueError as e:
            return None, str(e)
        if values is None or key not in values:
            return None, ""
        entry = values[key]
        try:
            raw = base64.b64decode(entry["value_base64"], validate=True)
            resolved_at = int(entry["resolved_at"])
            expires_at = entry.get("expires_at")
        except (KeyError, TypeError, ValueError):
            return None, f"the fallback snapshot {self.path} does not open: delete it"
        now = time.time()
        if expires_at is not None and int(expires_at) <= now:
            return None, "its value in the fallback snapshot has expired since"
        secs = now - resolved_at
        if secs > self.max_age:
            return None, (
                f"the fallback snapshot is too old to use: it is from {age_text(secs)} ago, and "
                f"the fallback max age is {age_text(self.max_age)}"
            )
        if isinstance(error, HushConnectionError):
            cause = f"cannot be reached ({error.cause})"
        else:
            cause = f"answered {error.status} ({error.message})"
        notice = (
            f"the server at {self.addr} {cause}; using the fallback snapshot of "
            f"{json.dumps(key)} from {age_text(secs)} ago"
        )
        return Secret(raw), notice


def _say(line: str) -> None:
    try:
        sys.stderr.write(f"hush: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def announce(notice: str) -> None:
    """Says the snapshot is used, on stderr."""
    _say(notice)


def is_unauthorized(e: HushError) -> bool:
    return isinstance(e, UnauthorizedError) or e.status == 401
