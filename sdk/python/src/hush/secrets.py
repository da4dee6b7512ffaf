"""Secrets for code inside a workload: :func:`get` and :func:`file` give the same answer inside
``hush run``, in local development and against a hush server, so workload code never changes.

.. code-block:: python

    from hush import secrets

    token = secrets.get("githubtoken")             # a hush.Secret
    header = "Bearer " + token.expose()
    key_path = secrets.file("gcp-key")             # a pathlib.Path to a 0600 file

This is the Rust SDK's ``hush_client::secrets``, behaviour for behaviour.

Where a value comes from — the first source that has the key wins:

1. **Inside ``hush run``** ``HUSH_SECRETS_MAP`` is a JSON object naming, for each declared
   key, how ``hush run`` delivered it: ``{"githubtoken": {"env": "GITHUB_TOKEN"}, "gcp-key":
   {"file": "GCP_KEY_FILE"}}``. With ``env`` the value is in that variable; with ``file`` the
   variable holds the path of a file containing it. While the map is set **only** the map is
   consulted: a key not in it is :class:`~hush.NotDeclaredError` (add it to ``hush.toml``).
2. **An environment variable** ``<prefix><key>``, e.g. ``HUSH_SECRET_githubtoken``; the prefix
   is ``HUSH_SECRET_PREFIX`` when set and not empty, else ``HUSH_SECRET_``. The key is matched
   exactly as written.
3. **A ``.secrets`` file** in the current directory, or the file ``HUSH_SECRETS_FILE`` names
   (relative to the current directory), in dotenv syntax, parsed by python-dotenv (imported
   only when such a file is read) with no substitution: values are literal, a ``$`` is never
   expanded, as ``hush run`` and the Rust and Node SDKs read it. A key is any hush key,
   hyphens included; a key given twice has the value of its last line. A line that does not
   parse, or whose key is not a hush key, refuses the file whatever key is asked, with a
   :class:`~hush.SecretsFileError` naming the line (never its text). The README lists where
   python-dotenv and the Rust crate dotenvor differ.
4. **A hush server** when ``HUSH_ADDR`` and ``HUSH_TOKEN`` are both set: one
   ``POST /v1/resolve`` as ``HUSH_APP`` in ``HUSH_ENV`` when set. A refusal (``missing``,
   ``revoked``, ``expired``, ``out_of_scope``) is :class:`~hush.RefusedError`.
5. Otherwise :class:`~hush.SecretNotFoundError`, saying where it looked and what to do.

Against a server, each value it gives is kept in an offline fallback snapshot (sealed, 0600,
in ``$HUSH_HOME/state/fallback/sdk-python/``), answered from when the server cannot be
reached, times out or answers 5xx — never on 401/403/404/410 — and said on stderr with its age.
``Sources(..., fallback_max_age="24h", fallback=True)`` (or ``HUSH_FALLBACK_MAX_AGE``,
``HUSH_NO_FALLBACK``) choose. It needs the ``cryptography`` package (the ``fallback`` extra);
without it no snapshot is kept or used.

The module functions read the environment and the current directory **once**, on first use;
build a :class:`Sources` to choose them. Files and the server are read on every call; values
are not cached.

:func:`file` returns the delivered path when ``hush run`` delivered the key as a file;
otherwise it writes the value, once per key, to a private directory (0700) it makes in
``HUSH_SECRETS_DIR`` when set, else in ``/dev/shm`` when usable, else in the temporary
directory; the file is named after the key, mode 0600. The directory is removed by
:func:`cleanup` (or :meth:`Sources.cleanup`), when its :class:`Sources` is collected, and at the
latest when the interpreter exits.

A key is 1 to 128 characters of ``A-Z a-z 0-9 _ . -``, not starting with ``.`` or ``-``.
No error message contains a value.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from . import _fallback
from ._secret import Secret
from .errors import (
    BadMapError,
    boundary,
    ConfigError,
    HushError,
    InvalidKeyError,
    NotDeclaredError,
    RefusedError,
    SecretNotFoundError,
    SecretsFileError,
    SecretsIOError,
    ServerError,
    UndeliveredError,
)

#: Set by ``hush run``: the JSON map of declared keys to how each was delivered.
MAP_VAR = "HUSH_SECRETS_MAP"
#: Overrides :data:`DEFAULT_PREFIX` for the prefixed environment variable source.
PREFIX_VAR = "HUSH_SECRET_PREFIX"
#: The prefix of the environment variable source when :data:`PREFIX_VAR` is unset or empty.
DEFAULT_PREFIX = "HUSH_SECRET_"
#: The dotenv file to read instead of ``./.secrets``.
SECRETS_FILE_VAR = "HUSH_SECRETS_FILE"
#: The file name of the dotenv source in the current directory.
DEFAULT_SECRETS_FILE = ".secrets"
#: Where :func:`file` makes its private directory.
SECRETS_DIR_VAR = "HUSH_SECRETS_DIR"
#: The server address (``http://HOST:PORT``, ``https://HOST``).
ADDR_VAR = "HUSH_ADDR"
#: The token for the server.
TOKEN_VAR = "HUSH_TOKEN"
#: The app named in the server request.
APP_VAR = "HUSH_APP"
#: The environment named in the server request.
ENV_VAR = "HUSH_ENV"
#: Turns the offline fallback snapshot off (any value but empty, ``0``, ``false``, ``no``).
NO_FALLBACK_VAR = _fallback.NO_FALLBACK_VAR
#: The oldest fallback snapshot to use (``90s``, ``30m``, ``24h``, ``7d``); default 24 h.
FALLBACK_MAX_AGE_VAR = _fallback.FALLBACK_MAX_AGE_VAR

_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def check_key(key: str) -> None:
    """:class:`~hush.InvalidKeyError` unless ``key`` is a valid secret key."""
    if not isinstance(key, str):
        raise InvalidKeyError(repr(type(key).__name__))
    if not _KEY.fullmatch(key) or key[0] in ".-":
        raise InvalidKeyError(key)


class _Value:
    """A value found in a source."""

    __slots__ = ("secret",)

    def __init__(self, secret: Secret) -> None:
        self.secret = secret


class _File:
    """A file ``hush run`` delivered."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path


_Found = Union[_Value, _File]


class _Env(Dict[str, bytes]):
    """The environment the sources read: prints as its size only."""

    def __repr__(self) -> str:
        return f"[{len(self)} variables, redacted]"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("hush's environment snapshot cannot be pickled")


def _remove_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


class Sources:
    """The sources :func:`get` and :func:`file` read, from an environment and a current
    directory. Its private directory of written files is removed by :meth:`cleanup`, when it
    is collected, or when the interpreter exits."""

    def __init__(
        self,
        env: Optional[Mapping[str, Union[str, bytes]]] = None,
        cwd: Union[str, "os.PathLike[str]", None] = None,
        *,
        fallback: Optional[bool] = None,
        fallback_max_age: Union[str, float, None] = None,
    ) -> None:
        """Sources from ``env`` (default: the process environment, read now) and ``cwd``
        (default: the current directory); relative paths in the environment are from
        ``cwd``.

        Against a server, ``fallback`` (default: on, unless ``HUSH_NO_FALLBACK`` is set) keeps
        and uses an offline fallback snapshot, no older than ``fallback_max_age`` (``90s``,
        ``30m``, ``24h``, ``7d`` or seconds; default ``HUSH_FALLBACK_MAX_AGE``, else 24 h)."""
        self._env = _Env(
            _process_env()
            if env is None
            else {
                k: (v if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape"))
                for k, v in env.items()
            }
        )
        if cwd is None:
            try:
                cwd = os.getcwd()
            except OSError:
                cwd = "."
        self.cwd: Path = Path(cwd)
        self._client: Any = None
        self._lock = threading.Lock()
        self._dir: Optional[Path] = None
        self._finalizer: Optional[weakref.finalize[[str], Sources]] = None
        self._paths: Dict[str, Path] = {}
        self._fallback_on = fallback
        self._max_age: Optional[float] = (
            None
            if fallback_max_age is None
            else _fallback.parse_max_age(fallback_max_age, "fallback_max_age")
        )
        self._snapshot: Optional[_fallback.Snapshot] = None

    def __repr__(self) -> str:
        return f"Sources(cwd={str(self.cwd)!r}, env=[{len(self._env)} variables, redacted])"

    def __reduce__(self) -> Any:
        raise TypeError("hush Sources cannot be pickled (they hold the environment)")

    # -- the two calls ------------------------------------------------------------------------

    @boundary
    def get(self, key: str) -> Secret:
        """The value of ``key`` from the first source that has it. A value delivered as a file
        is read from it."""
        check_key(key)
        found = self._find(key)
        if isinstance(found, _Value):
            return found.secret
        return Secret(_read_file(found.path))

    @boundary
    def file(self, key: str) -> Path:
        """A path to a file holding exactly the value of ``key``: the file ``hush run``
        delivered, or one written once into this object's private directory."""
        check_key(key)
        with self._lock:
            known = self._paths.get(key)
        if known is not None:
            return known
        found = self._find(key)
        if isinstance(found, _File):
            return found.path
        return self._write_private(key, found.secret)

    @boundary
    def cleanup(self) -> None:
        """Removes the private directory and the files :meth:`file` wrote (a later call writes
        them again, in a new directory)."""
        with self._lock:
            self._paths.clear()
            d, fin = self._dir, self._finalizer
            self._dir = None
            self._finalizer = None
        if fin is not None:
            fin.detach()
        if d is not None and d.exists():
            try:
                shutil.rmtree(d)
            except OSError as e:
                raise SecretsIOError("remove", d, e) from None

    # -- environment --------------------------------------------------------------------------

    def _var(self, name: str) -> Optional[bytes]:
        return self._env.get(name)

    def _var_str(self, name: str) -> Optional[str]:
        """An environment variable as text, ``None`` when unset or empty."""
        raw = self._env.get(name)
        if not raw:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"environment variable {name} is not UTF-8 text") from None

    # -- the sources --------------------------------------------------------------------------

    def _find(self, key: str) -> _Found:
        # 1. Inside `hush run`: the map and nothing else.
        raw_map = self._var(MAP_VAR)
        if raw_map is not None:
            return self._lookup_map(key, raw_map)

        # 2. The prefixed environment variable.
        prefix = self._var_str(PREFIX_VAR) or DEFAULT_PREFIX
        env_name = f"{prefix}{key}"
        v = self._var(env_name)
        if v is not None:
            return _Value(Secret(v))

        # 3. The dotenv file.
        secrets_path = self.cwd / (self._var_str(SECRETS_FILE_VAR) or DEFAULT_SECRETS_FILE)
        got, file_state = _lookup_dotenv(secrets_path, key)
        if got is not None:
            return _Value(got)

        # 4. The server.
        # (The token is read where the client is made, and held nowhere else.)
        addr = self._var_str(ADDR_VAR)
        has_token = self._var_str(TOKEN_VAR) is not None
        if addr is not None and has_token:
            return self._ask_server(key, addr)

        # 5. Nowhere.
        if addr is None and not has_token:
            unset = f"{ADDR_VAR} and {TOKEN_VAR} are unset"
        elif addr is None:
            unset = f"{ADDR_VAR} is unset"
        else:
            unset = f"{TOKEN_VAR} is unset"
        f = str(secrets_path)
        raise SecretNotFoundError(
            key,
            f"looked in environment variable {env_name} (unset), in {f} ({file_state}), "
            f"and at no hush server ({unset}); set {env_name}, add a line `{key}=…` to {f}, "
            f"set {ADDR_VAR} and {TOKEN_VAR} to ask a hush server, or start the program with "
            "`hush run`",
        )

    def _lookup_map(self, key: str, raw: bytes) -> _Found:
        # Only the position of a JSON error is reported: the map's text is never echoed.
        shape = 'not a JSON object of {"env": NAME} or {"file": NAME} entries'
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as e:
            raise BadMapError(f"{shape}: {e.msg} at line {e.lineno} column {e.colno}") from None
        except UnicodeDecodeError:
            raise BadMapError(f"{shape}: not UTF-8") from None
        if not isinstance(doc, dict):
            raise BadMapError(f"{shape}: the top level is a {_json_type(doc)}")
        for k, entry in doc.items():
            # Every entry is checked, as serde reads the whole map before one is looked up.
            if not isinstance(entry, dict):
                raise BadMapError(f"{shape}: the entry for {json.dumps(k)} is a {_json_type(entry)}")
            for field in ("env", "file"):
                if entry.get(field) is not None and not isinstance(entry[field], str):
                    raise BadMapError(
                        f"{shape}: {json.dumps(field)} of the entry for {json.dumps(k)} is a "
                        f"{_json_type(entry[field])}"
                    )
        if key not in doc:
            raise NotDeclaredError(key)
        entry = doc[key]
        env_var, file_var = entry.get("env"), entry.get("file")
        if (env_var is None) == (file_var is None):
            raise BadMapError(
                f'the entry for {json.dumps(key)} must have exactly one of "env" and "file"'
            )
        if file_var is not None:
            path = self._var_str(file_var)
            if path is None:
                raise UndeliveredError(key, file_var)
            return _File(self.cwd / path)
        value = self._var(env_var)
        if value is None:
            raise UndeliveredError(key, env_var)
        return _Value(Secret(value))

    def _snapshot_for(self, addr: str) -> Optional[_fallback.Snapshot]:
        """The fallback snapshot for this server, app, environment and token; ``None`` when
        turned off or when the ``cryptography`` package is not installed."""
        if self._snapshot is not None:
            return self._snapshot
        on = self._fallback_on
        if on is None:
            off = (self._var_str(_fallback.NO_FALLBACK_VAR) or "").strip().lower()
            on = off in ("", "0", "false", "no")
        if not on or not _fallback.available():
            return None
        max_age = self._max_age
        if max_age is None:
            text = self._var_str(_fallback.FALLBACK_MAX_AGE_VAR)
            max_age = (
                _fallback.DEFAULT_MAX_AGE
                if text is None
                else _fallback.parse_max_age(text, _fallback.FALLBACK_MAX_AGE_VAR)
            )
        self._snapshot = _fallback.Snapshot(
            _fallback.state_dir(self._env),
            addr,
            Secret(self._var(TOKEN_VAR) or b""),
            self._var_str(APP_VAR),
            self._var_str(ENV_VAR),
            max_age,
        )
        return self._snapshot

    def _ask_server(self, key: str, addr: str) -> _Found:
        from .client import Client

        snapshot = self._snapshot_for(addr)
        try:
            if self._client is None:
                self._client = Client(addr, self._var_str(TOKEN_VAR) or "")
            client: Client = self._client
            resolved = client.resolve(
                [key], app=self._var_str(APP_VAR), env=self._var_str(ENV_VAR)
            )
        except ConfigError:
            raise
        except HushError as e:
            # The client's frames (which held the token) are dropped from its traceback.
            e.__context__ = None
            why = ""
            if snapshot is not None:
                if _fallback.is_unauthorized(e):
                    # The token is refused (revoked, expired): its snapshot goes too.
                    snapshot.remove()
                elif _fallback.may_fall_back(e):
                    value, why = snapshot.answer(key, e)
                    if value is not None:
                        _fallback.announce(why)
                        return _Value(value)
            raise ServerError(key, e.with_traceback(None), fallback=why) from e
        got = resolved.secrets.get(key)
        if got is not None:
            if snapshot is not None:
                snapshot.keep(key, got.value, got.expires_at)
            return _Value(got.value)
        refusal = resolved.errors.get(key)
        if refusal is not None:
            if snapshot is not None:
                snapshot.forget(key)
            raise RefusedError(key, refusal.code, refusal.message)
        raise ServerError(
            key,
            HushError(
                "the answer has neither a value nor an error for this key",
                status=200,
                code="unexpected_answer",
            ),
        )

    # -- values as files ----------------------------------------------------------------------

    def _write_private(self, key: str, value: Secret) -> Path:
        with self._lock:
            known = self._paths.get(key)
            if known is not None:
                return known
            if self._dir is None:
                self._dir = self._make_dir()
                self._finalizer = weakref.finalize(self, _remove_dir, str(self._dir))
            path = self._dir / key
            try:
                _write_0600(self._dir, key, value)
            except OSError as e:
                raise SecretsIOError("write", path, e) from None
            self._paths[key] = path
            return path

    def _make_dir(self) -> Path:
        """A new 0700 directory in ``HUSH_SECRETS_DIR``, else ``/dev/shm``, else the temp
        dir."""
        base = self._var_str(SECRETS_DIR_VAR)
        if base is not None:
            return _private_dir(self.cwd / base)
        shm = Path("/dev/shm")
        if shm.is_dir():
            try:
                return _private_dir(shm)
            except SecretsIOError:
                pass
        return _private_dir(Path(tempfile.gettempdir()))


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _process_env() -> Dict[str, bytes]:
    """The process environment as bytes; names that are not UTF-8 are left out."""
    environb = getattr(os, "environb", None)
    if environb is None:  # Windows: no bytes view.
        return {k: v.encode("utf-8", "surrogateescape") for k, v in os.environ.items()}
    out: Dict[str, bytes] = {}
    for k, v in environb.items():
        try:
            out[k.decode("utf-8")] = bytes(v)
        except UnicodeDecodeError:
            continue
    return out


def _private_dir(base: Path) -> Path:
    try:
        # mkdtemp makes the directory 0700 whatever the umask.
        made = Path(tempfile.mkdtemp(prefix="hush-secrets-", dir=str(base)))
        os.chmod(made, 0o700)
        return made
    except OSError as e:
        raise SecretsIOError("make a private directory in", base, e) from None


def _write_0600(directory: Path, name: str, value: Secret) -> None:
    """Writes under a temporary dot name and renames into place: mode 0600 from the instant
    the file exists, and a reader never sees part of a value."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=str(directory))
    try:
        # mkstemp makes the file 0600.
        with os.fdopen(fd, "wb") as f:
            # EXPOSE: writing the value to its private file, as asked.
            f.write(value.expose_bytes())
            f.flush()
            os.fsync(f.fileno())
        target = directory / name
        if target.exists():
            raise FileExistsError(17, "File exists")
        os.rename(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise SecretsIOError("read", path, e) from None


# -- the .secrets file -------------------------------------------------------------------------


def _lookup_dotenv(path: Path, key: str) -> Tuple[Optional[Secret], str]:
    """The value of ``key`` in the dotenv file at ``path`` (last line wins), or ``None`` and
    why not (for the not-found message)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, "no such file"
    except OSError as e:
        raise SecretsIOError("read", path, e) from None
    for k, v in read_dotenv_text(raw, path):
        if k == key:
            return Secret(v), ""
    return None, "no line for this key"


def read_dotenv_text(raw: bytes, path: Path) -> "list[Tuple[str, str]]":
    """Every entry of a ``.secrets`` text in file order, a key given twice having the value of
    its last line, as python-dotenv parses it with no substitution (``path`` is for error
    messages only).

    The whole text is parsed before any entry is returned: a file with a statement that does
    not parse, or a key that is not a hush key, is refused whichever key is asked, as ``hush
    run`` refuses it, with the line's number and never its text. python-dotenv is imported
    here, only when a file is read.
    """
    from dotenv.parser import parse_stream

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SecretsFileError(path, raw[: e.start].count(b"\n") + 1, "not UTF-8 text") from None
    if text.startswith("\ufeff"):
        text = text[1:]

    values: Dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        # python-dotenv starts a statement at the blank lines before it: count from its text.
        start = binding.original.string
        line = binding.original.line + start[: len(start) - len(start.lstrip())].count("\n")
        if binding.error:
            # The statement may hold a value: it is never shown.
            raise SecretsFileError(
                path,
                line,
                "not a `KEY=value` line (or a quote opens here and is never closed)",
            )
        if binding.key is None:
            continue  # a comment or a blank line
        if binding.value is None:
            raise SecretsFileError(path, line, "a key with no `=` and no value")
        if not _KEY.fullmatch(binding.key) or binding.key[0] in ".-":
            raise SecretsFileError(
                path,
                line,
                "the key is not a hush key: 1-128 of A-Z a-z 0-9 _ . -, not starting with . or -",
            )
        # A later line replaces an earlier one, keeping its place (as a dict does).
        values[binding.key] = binding.value
    return list(values.items())


# -- the process-wide sources ------------------------------------------------------------------

_GLOBAL: Optional[Sources] = None
_GLOBAL_LOCK = threading.Lock()


def _global() -> Sources:
    global _GLOBAL
    with _GLOBAL_LOCK:
        if _GLOBAL is None:
            _GLOBAL = Sources()
        return _GLOBAL


def get(key: str) -> Secret:
    """The value of ``key`` for this process (see the module's docs for where it comes
    from)."""
    return _global().get(key)


def file(key: str) -> Path:
    """A path to a file holding the value of ``key`` for this process: the file ``hush run``
    delivered, or one written once into a private directory that stays until :func:`cleanup`
    (or the interpreter's exit)."""
    return _global().file(key)


def cleanup() -> None:
    """Removes the private directory and the files :func:`file` wrote in this process."""
    with _GLOBAL_LOCK:
        s = _GLOBAL
    if s is not None:
        s.cleanup()


__all__ = [
    "ADDR_VAR",
    "APP_VAR",
    "DEFAULT_PREFIX",
    "DEFAULT_SECRETS_FILE",
    "FALLBACK_MAX_AGE_VAR",
    "NO_FALLBACK_VAR",
    "ENV_VAR",
    "MAP_VAR",
    "PREFIX_VAR",
    "SECRETS_DIR_VAR",
    "SECRETS_FILE_VAR",
    "Secret",
    "Sources",
    "TOKEN_VAR",
    "check_key",
    "cleanup",
    "file",
    "get",
]
