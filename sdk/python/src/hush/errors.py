"""Every error the package raises: one root, :class:`HushError`.

Two families hang from it:

* **API errors**, one class per ``code`` the hush API answers with (``hush_wire::ErrorCode``),
  raised by :class:`hush.Client`. Each carries the HTTP ``status``, the ``code``, the server's
  ``message``, ``retry_after`` (seconds, from ``Retry-After`` on 429 and 503) and ``details``
  (any other field of the error body). Classes are grouped as the Rust SDK groups them:
  :class:`RevokedError` is a :class:`ForbiddenError` (both 403); :class:`ExistsError`,
  :class:`StaleVersionError`, :class:`InUseError` and :class:`AuditBrokenError` are
  :class:`ConflictError` (409); :class:`BadRequestError`, :class:`TooLargeError` and
  :class:`UnsupportedMediaTypeError` are :class:`InvalidError` (400, 413, 415 beside 422);
  :class:`DecryptFailedError` is an :class:`InternalError` (500);
  :class:`AuditSinkUnavailableError` is an :class:`UnavailableError` (503). A code this version
  does not know (a newer server's) is raised as :class:`HushError` itself, its ``status`` and
  ``code`` kept. A request that never got an answer is :class:`HushConnectionError`.
* **Workload errors**, the ``secrets::Error`` kinds of the Rust SDK, raised by
  :func:`hush.secrets.get` and :func:`hush.secrets.file`; all are :class:`SecretsError`.

No message, ``repr`` or attribute of any of them holds a secret's value or a token.
"""

from __future__ import annotations

import builtins
import functools
import json
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, ParamSpec, Type, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


def quoted(text: str) -> str:
    """``text`` in double quotes with escapes, as the Rust SDK's ``{:?}`` prints a key."""
    return json.dumps(text, ensure_ascii=False)


class HushError(Exception):
    """The root of every error the package raises.

    ``status`` is the HTTP status (``None`` when no server answered, or for a workload error),
    ``code`` a stable machine code, ``message`` what was wrong and what to do.
    """

    code_name: Optional[str] = None

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        retry_after: Optional[int] = None,
        details: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message: str = message
        self.status: Optional[int] = status
        self.code: str = code if code is not None else (self.code_name or "unknown")
        self.retry_after: Optional[int] = retry_after
        self.details: Dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


def boundary(f: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wraps a public call so that a :class:`HushError` leaves it with no trace of the frames
    below: its traceback starts at the call, and its implicit ``__context__`` (an
    ``HTTPError``, a ``UnicodeDecodeError`` holding the bytes it could not decode, …) is
    dropped. The frames inside held the token, the answer's body, a ``.secrets`` file's text;
    tools that record a traceback's local variables (error trackers, ``pytest -l``) would
    otherwise record them. ``__cause__`` is kept where it was set on purpose."""

    @functools.wraps(f)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return f(*args, **kwargs)
        except HushError as e:
            err = e
        # Raised outside the `except`: no implicit context is attached to it again.
        err.__context__ = None
        raise err.with_traceback(None)

    return call


# --- API errors: one class per hush_wire::ErrorCode -----------------------------------------


class InvalidError(HushError):
    """422 ``invalid_field``: a field breaks a rule (the message names it). Also the base of
    the other "the request was wrong" errors (400, 413, 415), and what the client raises itself,
    with ``status`` ``None``, for a key, name or address it will not put in a request."""

    code_name = "invalid_field"


class BadRequestError(InvalidError):
    """400 ``bad_request``: the request could not be read (syntax, query, header)."""

    code_name = "bad_request"


class TooLargeError(InvalidError):
    """413 ``too_large``: the body is over 2 MiB (values are at most 1 MiB)."""

    code_name = "too_large"


class UnsupportedMediaTypeError(InvalidError):
    """415 ``unsupported_media_type``: not a JSON body, or an encoded one."""

    code_name = "unsupported_media_type"


class UnauthorizedError(HushError):
    """401 ``unauthorized``: no, unknown, revoked or expired token."""

    code_name = "unauthorized"


class ForbiddenError(HushError):
    """403 ``forbidden``: the token may not do this (role, scope, environment). Also the base
    of :class:`RevokedError`."""

    code_name = "forbidden"


class RevokedError(ForbiddenError):
    """403 ``revoked``: the secret is revoked (``secrets.restore`` serves it again)."""

    code_name = "revoked"


class NotFoundError(HushError):
    """404 ``not_found``: no such secret, version, token, app or route."""

    code_name = "not_found"


class MethodNotAllowedError(HushError):
    """405 ``method_not_allowed``: the route does not take this method."""

    code_name = "method_not_allowed"


class ConflictError(HushError):
    """409 ``conflict``: concurrent writers kept colliding; retry. Also the base of every other
    409."""

    code_name = "conflict"


class ExistsError(ConflictError):
    """409 ``exists``: the key is taken (``secrets.put`` replaces a value)."""

    code_name = "exists"


class StaleVersionError(ConflictError):
    """409 ``stale_version``: ``expected_version`` is not the current version."""

    code_name = "stale_version"


class InUseError(ConflictError):
    """409 ``in_use``: registered apps name the secret (delete with ``force=True``)."""

    code_name = "in_use"


class AuditBrokenError(ConflictError):
    """409 ``audit_broken``: the audit chain's newest row does not match its MAC."""

    code_name = "audit_broken"


class PreconditionFailedError(HushError):
    """412 ``precondition_failed``: the secret changed since the ``ETag`` given as
    ``if_match`` was read."""

    code_name = "precondition_failed"


class ExpiredError(HushError):
    """410 ``expired``: the secret is past its ``expires_at``."""

    code_name = "expired"


class RateLimitedError(HushError):
    """429 ``rate_limited``: too many failed authentications from this address;
    ``retry_after`` says how many seconds to wait."""

    code_name = "rate_limited"


class InternalError(HushError):
    """500 ``internal``: the cause is in the server's log."""

    code_name = "internal"


class DecryptFailedError(InternalError):
    """500 ``decrypt_failed``: the stored value does not decrypt (a damaged row)."""

    code_name = "decrypt_failed"


class UnavailableError(HushError):
    """503 ``unavailable``: the store does not answer; ``retry_after`` says when to retry."""

    code_name = "unavailable"


class AuditSinkUnavailableError(UnavailableError):
    """503 ``audit_sink_unavailable``: the server's audit file cannot be written, so nothing
    audited is answered; ``retry_after`` says when to retry."""

    code_name = "audit_sink_unavailable"


class HushConnectionError(HushError, builtins.ConnectionError):
    """The request got no answer: refused, reset, TLS, timed out. The message names the
    address and the cause. Also a built-in :class:`ConnectionError`."""

    code_name = "connection"

    def __init__(self, addr: str, cause: str) -> None:
        HushError.__init__(self, f"cannot reach the hush server at {addr}: {cause}")
        self.addr: str = addr
        self.cause: str = cause

    def __str__(self) -> str:
        return self.message


#: Each API code, by its wire spelling, to its class.
API_ERRORS: Dict[str, Type[HushError]] = {
    str(c.code_name): c
    for c in (
        BadRequestError,
        InvalidError,
        UnauthorizedError,
        ForbiddenError,
        RevokedError,
        NotFoundError,
        MethodNotAllowedError,
        ExistsError,
        InUseError,
        StaleVersionError,
        ConflictError,
        AuditBrokenError,
        PreconditionFailedError,
        ExpiredError,
        TooLargeError,
        UnsupportedMediaTypeError,
        RateLimitedError,
        InternalError,
        DecryptFailedError,
        UnavailableError,
        AuditSinkUnavailableError,
    )
}


def api_error(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: Optional[int] = None,
    details: Optional[Mapping[str, Any]] = None,
) -> HushError:
    """The error for an API answer: the class of ``code``, or :class:`HushError` for a code
    this version does not know."""
    cls = API_ERRORS.get(code, HushError)
    return cls(message, status=status, code=code, retry_after=retry_after, details=details)


# --- Workload errors: the kinds of the Rust SDK's secrets::Error ----------------------------


class SecretsError(HushError):
    """The base of what :func:`hush.secrets.get` and :func:`hush.secrets.file` raise."""


class InvalidKeyError(SecretsError):
    """The key is not 1-128 of ``A-Z a-z 0-9 _ . -`` or starts with ``.`` or ``-``."""

    code_name = "invalid_key"

    def __init__(self, key: str) -> None:
        self.key: str = key[:64]
        super().__init__(
            f"{quoted(self.key)} is not a valid secret key: use 1-128 of A-Z a-z 0-9 _ . - "
            "(not starting with . or -)"
        )


class NotDeclaredError(SecretsError):
    """Inside ``hush run``, and the key is not declared for this workload."""

    code_name = "not_declared"

    def __init__(self, key: str) -> None:
        self.key: str = key
        super().__init__(
            f"secret {quoted(key)} is not declared for this workload: add it to hush.toml "
            "(inside `hush run` only declared secrets are available)"
        )


class BadMapError(SecretsError):
    """``HUSH_SECRETS_MAP`` is set but is not a valid map (its text is never shown)."""

    code_name = "bad_map"

    def __init__(self, reason: str) -> None:
        self.reason: str = reason
        super().__init__(
            f"HUSH_SECRETS_MAP is not a valid secrets map ({reason}): it is set by `hush run`; "
            "unset it outside `hush run`"
        )


class UndeliveredError(SecretsError):
    """``HUSH_SECRETS_MAP`` names an environment variable for the key that is not set."""

    code_name = "undelivered"

    def __init__(self, key: str, var: str) -> None:
        self.key: str = key
        self.var: str = var
        super().__init__(
            f"secret {quoted(key)} should be delivered in environment variable {var} "
            f"(says HUSH_SECRETS_MAP), but {var} is not set"
        )


class ConfigError(SecretsError):
    """An environment variable that configures the sources is not usable."""

    code_name = "config"


class SecretsIOError(SecretsError):
    """A file could not be read or written, or the private directory could not be made."""

    code_name = "io"

    def __init__(self, action: str, path: Path, cause: BaseException) -> None:
        self.action: str = action
        self.path: Path = path
        self.cause: str = _os_cause(cause)
        super().__init__(f"cannot {action} {path}: {self.cause}")


def _os_cause(e: BaseException) -> str:
    # An OSError's str repeats the file name; the message names it once, in its own words.
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)


class SecretsFileError(SecretsError):
    """The ``.secrets`` file has a line that does not parse, or a key that is not a hush key
    (the line's text is never shown: it may hold a value)."""

    code_name = "secrets_file"

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path: Path = path
        #: The 1-based line.
        self.line: int = line
        #: What is wrong with it.
        self.reason: str = reason
        super().__init__(
            f"{path}: line {line}: {reason}; nothing in it was used (the line is not shown, "
            "as it may hold a value)"
        )


class RefusedError(SecretsError):
    """The hush server answered that this key cannot be had. ``reason`` is the wire's code:
    ``missing``, ``revoked``, ``expired``, ``out_of_scope``, ``decrypt_failed`` (or a newer
    server's)."""

    code_name = "refused"

    def __init__(self, key: str, reason: str, server_message: str) -> None:
        self.key: str = key
        self.reason: str = reason
        self.server_message: str = server_message
        super().__init__(
            f"the hush server will not give secret {quoted(key)} ({reason}): {server_message}"
        )


class ServerError(SecretsError):
    """Asking the hush server failed (unreachable, bad token, …), or its answer had no entry
    for the key. ``error`` is the client's error (also the ``__cause__``)."""

    code_name = "server"

    def __init__(self, key: str, error: HushError, *, fallback: str = "") -> None:
        self.key: str = key
        self.error: HushError = error
        #: Why the offline fallback snapshot could not answer instead; empty when there is
        #: none (or it was not tried).
        self.fallback: str = fallback
        super().__init__(
            f"asking the hush server at HUSH_ADDR for secret {quoted(key)} failed: {error}"
            + (f"; {fallback}" if fallback else ""),
            status=error.status,
        )


class SecretNotFoundError(SecretsError):
    """No source has the key; ``looked`` says where it looked and what to do."""

    code_name = "secret_not_found"

    def __init__(self, key: str, looked: str) -> None:
        self.key: str = key
        self.looked: str = looked
        super().__init__(f"secret {quoted(key)} not found: {looked}")


class NotUtf8Error(SecretsError):
    """:meth:`hush.Secret.expose` on a value that is not UTF-8."""

    code_name = "not_utf8"

    def __init__(self) -> None:
        super().__init__("the secret's value is not UTF-8 text: read it with expose_bytes")


__all__ = [
    "API_ERRORS",
    "AuditBrokenError",
    "AuditSinkUnavailableError",
    "BadMapError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "DecryptFailedError",
    "ExistsError",
    "ExpiredError",
    "ForbiddenError",
    "HushConnectionError",
    "HushError",
    "InUseError",
    "InternalError",
    "InvalidError",
    "InvalidKeyError",
    "MethodNotAllowedError",
    "NotDeclaredError",
    "NotFoundError",
    "NotUtf8Error",
    "PreconditionFailedError",
    "RateLimitedError",
    "RefusedError",
    "RevokedError",
    "SecretNotFoundError",
    "SecretsError",
    "SecretsFileError",
    "SecretsIOError",
    "ServerError",
    "StaleVersionError",
    "TooLargeError",
    "UnauthorizedError",
    "UnavailableError",
    "UndeliveredError",
    "UnsupportedMediaTypeError",
    "api_error",
]
