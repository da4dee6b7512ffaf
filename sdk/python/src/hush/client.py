"""The management client: the whole hush API, one method per call.

.. code-block:: python

    from hush import Client, ExistsError

    client = Client("http://127.0.0.1:8270", "hush_…")
    client.secrets.create({"key": "STRIPE_API_KEY", "value": "sk_live_…", "envs": ["prd"]})
    secret = client.secrets.fetch("STRIPE_API_KEY")
    secret.value.expose()  # the value; print(secret) shows value=Secret([redacted])

Calls are synchronous, over the standard library's ``urllib`` with a timeout on every request.
List calls follow ``next_cursor`` to the last page and return every item. Errors are the
classes of :mod:`hush.errors`, chosen by the API's ``code``.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar, Union

from . import _http
from ._secret import Secret
from .errors import HushError, InvalidError, boundary, quoted
from .models import (
    AppInfo,
    AuditHead,
    AuditPruned,
    AuditRecord,
    AuditVerdict,
    NewToken,
    Resolved,
    SecretDecl,
    SecretMeta,
    SecretValue,
    TokenInfo,
    VersionInfo,
)

T = TypeVar("T")

#: Requests' timeout in seconds unless the client is given another.
DEFAULT_TIMEOUT = 30.0
#: The page size asked for when following a list's cursors.
PAGE_LIMIT = 1000

_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,128}")

Value = Union[str, bytes, bytearray, Secret]


def _segment(s: str) -> str:
    """A key, app name or token id as a URL path segment: ``A-Z a-z 0-9 _ . -``, not ``.``
    or ``..`` (which URL parsing would resolve); anything else is refused before it is sent."""
    if not isinstance(s, str) or s in (".", "..") or not _SEGMENT.fullmatch(s):
        shown = quoted(s[:64]) if isinstance(s, str) else type(s).__name__
        raise InvalidError(
            f"{shown} is not a valid key or token id: use 1-128 of A-Z a-z 0-9 _ . -"
        )
    return s


def _put_value(body: Dict[str, Any], value: Value) -> None:
    """``value`` into a write body: as ``value`` when it is UTF-8 text, else as
    ``value_base64`` (the API's two spellings)."""
    if isinstance(value, Secret):
        # EXPOSE: the value is being written to the server, on purpose.
        raw = value.expose_bytes()
    elif isinstance(value, str):
        body["value"] = value
        return
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise InvalidError(
            f"a value must be str, bytes or hush.Secret, not {type(value).__name__}"
        )
    try:
        body["value"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        body["value_base64"] = base64.b64encode(raw).decode("ascii")


def _write_body(fields: Optional[Mapping[str, Any]], kw: Mapping[str, Any]) -> Dict[str, Any]:
    """The JSON body of a write from a mapping (as the Ductape guide passes it) and/or keyword
    arguments. ``None`` for a metadata field is sent as ``null``, which clears it; a field left
    out is left as it is. Unknown fields are sent as given: the server refuses them by name."""
    merged: Dict[str, Any] = dict(fields or {})
    merged.update(kw)
    body: Dict[str, Any] = {}
    for name, v in merged.items():
        if name == "value":
            if v is not None:
                _put_value(body, v)
        elif name in ("scope", "envs") and v is not None:
            if isinstance(v, str):
                raise InvalidError(f"`{name}` is a list of names, not a string: give a list")
            body[name] = list(v)
        else:
            body[name] = v
    return body


def _if_match(if_match: Union[str, int, None]) -> Optional[Dict[str, str]]:
    if if_match is None:
        return None
    if isinstance(if_match, bool):
        raise InvalidError("if_match is an ETag (meta.etag) or a revision number, not a bool")
    if isinstance(if_match, int):
        return {"If-Match": f'"{if_match}"'}
    return {"If-Match": if_match}


class Client:
    """A client for one hush server and one token.

    ``addr`` is ``http://HOST:PORT`` or ``https://HOST``; ``timeout`` (seconds) bounds each
    request's connect and each read; ``page_size`` is the ``limit`` asked for on each page of a
    list call (1 to 1000; every page is followed either way). The token is kept for the ``Authorization`` header and
    never printed: ``repr(client)`` says ``token=[redacted]``.
    """

    def __init__(
        self,
        addr: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        page_size: int = PAGE_LIMIT,
    ) -> None:
        self.addr: str = _http.check_addr(addr)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
            1 <= page_size <= PAGE_LIMIT
        ):
            raise InvalidError(f"page_size must be 1 to {PAGE_LIMIT}, not {page_size!r}")
        self.page_size: int = page_size
        if not isinstance(token, str) or not token:
            raise InvalidError("the token is empty: give the token `hush tokens create` printed")
        self._token = Secret(token)
        self.timeout: float = timeout
        #: Secrets: create, list, fetch, update, revoke, delete, versions, rollback, …
        self.secrets: SecretsApi = SecretsApi(self)
        #: Registered apps (manifests).
        self.apps: AppsApi = AppsApi(self)
        #: Tokens (admin).
        self.tokens: TokensApi = TokensApi(self)
        #: The audit log (admin).
        self.audit: AuditApi = AuditApi(self)

    @classmethod
    @boundary
    def from_env(cls, *, timeout: float = DEFAULT_TIMEOUT) -> Client:
        """A client for ``HUSH_ADDR`` with ``HUSH_TOKEN``."""
        addr = os.environ.get("HUSH_ADDR", "")
        token = os.environ.get("HUSH_TOKEN", "")
        missing = [n for n, v in (("HUSH_ADDR", addr), ("HUSH_TOKEN", token)) if not v]
        if missing:
            raise InvalidError(
                f"{' and '.join(missing)} unset: set HUSH_ADDR to the server "
                "(http://HOST:PORT) and HUSH_TOKEN to a token",
                code="config",
            )
        return cls(addr, token, timeout=timeout)

    def __repr__(self) -> str:
        return f"Client(addr={self.addr!r}, token=[redacted])"

    def __reduce__(self) -> Any:
        raise TypeError("a hush Client cannot be pickled (it holds a token)")

    # -- transport --------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Optional[_http.Query] = None,
        body: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Any:
        _, _, doc = _http.request(
            self.addr,
            self._token,
            method,
            path,
            query=query,
            body=body,
            headers=headers,
            timeout=self.timeout,
        )
        return doc

    def _all_pages(
        self, path: str, build: Callable[[Any], T], query: Optional[_http.Query] = None
    ) -> List[T]:
        out: List[T] = []
        cursor: Optional[str] = None
        while True:
            q: Dict[str, Any] = dict(query or {})
            q["limit"] = self.page_size
            if cursor is not None:
                q["cursor"] = cursor
            page = self._call("GET", path, query=q)
            if not isinstance(page, Mapping) or not isinstance(page.get("items"), list):
                raise HushError(
                    f"unexpected answer from GET {path}: not a page", code="unexpected_answer"
                )
            out.extend(build(item) for item in page["items"])
            nxt = page.get("next_cursor")
            if nxt is None:
                return out
            cursor = str(nxt)

    # -- resolve ----------------------------------------------------------------------------

    @boundary
    def resolve(
        self, keys: Sequence[str], *, app: Optional[str] = None, env: Optional[str] = None
    ) -> Resolved:
        """For a workload: the values of ``keys`` (or why each cannot be had), in one call,
        as ``app`` in ``env`` when given."""
        return self._resolve(keys, app, env, False)

    @boundary
    def check(
        self, keys: Sequence[str], *, app: Optional[str] = None, env: Optional[str] = None
    ) -> Resolved:
        """Like :meth:`resolve` but reads nothing (``dry_run``): each key's metadata, with an
        empty value, or why it cannot be had. What ``hush check`` asks."""
        return self._resolve(keys, app, env, True)

    def _resolve(
        self, keys: Sequence[str], app: Optional[str], env: Optional[str], dry_run: bool
    ) -> Resolved:
        if isinstance(keys, str):
            keys = [keys]
        body: Dict[str, Any] = {"keys": list(keys)}
        if app is not None:
            body["app"] = app
        if env is not None:
            body["env"] = env
        if dry_run:
            body["dry_run"] = True
        return Resolved.from_json(self._call("POST", "/v1/resolve", body=body), dry_run=dry_run)


class SecretsApi:
    """``client.secrets``: the secrets of the token's workspace."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def __repr__(self) -> str:
        return f"SecretsApi({self._c!r})"

    @boundary
    def create(self, fields: Optional[Mapping[str, Any]] = None, /, **kw: Any) -> SecretMeta:
        """Creates a secret: ``key``, ``value`` (str, bytes or :class:`hush.Secret`) and the
        optional ``description``, ``token_type`` (``api``/``access``), ``scope``, ``envs``,
        ``expires_at`` (unix seconds, or an RFC 3339 string such as
        ``"2027-01-31T00:00:00Z"``), as a mapping or as keywords. Every write also takes
        ``format="json"`` (refuse a value that is not valid JSON) and ``allow_past=True``
        (accept an ``expires_at`` in the past, which is refused otherwise).
        :class:`hush.ExistsError` when the key is taken. ``env="prd"`` makes the value prd's
        own (the secret then has no shared value yet)."""
        env = kw.pop("env", None)
        body = _write_body(fields, kw)
        return SecretMeta.from_json(
            self._c._call("POST", "/v1/secrets", query=_env(env), body=body)
        )

    @boundary
    def put(
        self,
        key: str,
        value: Value,
        fields: Optional[Mapping[str, Any]] = None,
        /,
        *,
        expected_version: Optional[int] = None,
        if_match: Union[str, int, None] = None,
        env: Optional[str] = None,
        **kw: Any,
    ) -> SecretMeta:
        """Creates the secret or replaces its value (and the metadata given). With
        ``expected_version`` or ``if_match`` it only replaces (404 when missing). With
        ``env``, the value is that environment's own; the shared one and other environments'
        are left alone."""
        body = _write_body(fields, kw)
        _put_value(body, value)
        if expected_version is not None:
            body["expected_version"] = expected_version
        return SecretMeta.from_json(
            self._c._call(
                "PUT",
                f"/v1/secrets/{_segment(key)}",
                query=_env(env),
                body=body,
                headers=_if_match(if_match),
            )
        )

    @boundary
    def update(
        self,
        key: str,
        fields: Optional[Mapping[str, Any]] = None,
        /,
        *,
        expected_version: Optional[int] = None,
        if_match: Union[str, int, None] = None,
        env: Optional[str] = None,
        **kw: Any,
    ) -> SecretMeta:
        """Changes the value and/or metadata given (``None`` clears a field; one left out
        stays). ``expected_version``: only if that is still the current value version, else
        :class:`hush.StaleVersionError`. ``if_match`` (``meta.etag``, or a revision number):
        only if nothing changed since, else :class:`hush.PreconditionFailedError`. With ``env``,
        a value given is that environment's own and ``expected_version`` is its version."""
        body = _write_body(fields, kw)
        if expected_version is not None:
            body["expected_version"] = expected_version
        return SecretMeta.from_json(
            self._c._call(
                "PATCH",
                f"/v1/secrets/{_segment(key)}",
                query=_env(env),
                body=body,
                headers=_if_match(if_match),
            )
        )

    @boundary
    def fetch(
        self, key: str, version: Optional[int] = None, *, env: Optional[str] = None
    ) -> SecretValue:
        """The metadata and the decrypted value (of ``version``, or the current one). With
        ``env``, the value that environment reads: its own, else the shared one
        (``.value_env`` says which). The read is audited."""
        q: Dict[str, Any] = dict(_env(env) or {})
        if version is not None:
            q["version"] = version
        return SecretValue.from_json(
            self._c._call("GET", f"/v1/secrets/{_segment(key)}", query=q)
        )

    @boundary
    def list(
        self,
        *,
        env: Optional[str] = None,
        app: Optional[str] = None,
        prefix: Optional[str] = None,
        status: Optional[str] = None,
    ) -> List[SecretMeta]:
        """Every secret's metadata (no values), following pages; filtered by the environment,
        the app that may read it, a key prefix, a status (``active``, ``revoked``,
        ``expired``)."""
        q = {"env": env, "app": app, "prefix": prefix, "status": status}
        return self._c._all_pages("/v1/secrets", SecretMeta.from_json, q)

    @boundary
    def fetch_all(self, **filters: Optional[str]) -> List[SecretMeta]:
        """:meth:`list` under the Ductape guide's name (``fetchAll``)."""
        return self.list(**filters)

    @boundary
    def show(self, key: str) -> SecretMeta:
        """One secret's metadata without reading (or auditing a read of) its value."""
        for meta in self.list(prefix=_segment(key)):
            if meta.key == key:
                return meta
        from .errors import NotFoundError

        raise NotFoundError(f"secret {quoted(key)} not found", status=404)

    @boundary
    def delete(
        self,
        key: str,
        *,
        force: bool = False,
        expected_version: Optional[int] = None,
        if_match: Union[str, int, None] = None,
        env: Optional[str] = None,
    ) -> bool:
        """Deletes a secret and returns ``True``. :class:`hush.InUseError` while a registered
        app names it, unless ``force``. With ``env``, deletes only that environment's own
        value (every version of it); the secret stays."""
        q: Dict[str, Any] = dict(_env(env) or {})
        if force:
            q["force"] = True
        if expected_version is not None:
            q["expected_version"] = expected_version
        self._c._call(
            "DELETE", f"/v1/secrets/{_segment(key)}", query=q, headers=_if_match(if_match)
        )
        return True

    @boundary
    def revoke(self, key: str) -> SecretMeta:
        """Disables a secret without deleting it: reads answer :class:`hush.RevokedError`."""
        return SecretMeta.from_json(self._c._call("POST", f"/v1/secrets/{_segment(key)}/revoke"))

    @boundary
    def restore(self, key: str) -> SecretMeta:
        """Undoes :meth:`revoke`."""
        return SecretMeta.from_json(
            self._c._call("POST", f"/v1/secrets/{_segment(key)}/restore")
        )

    @boundary
    def versions(self, key: str, *, env: Optional[str] = None) -> List[VersionInfo]:
        """The secret's versions, oldest first (no values), following pages; with ``env``,
        only that environment's own value's."""
        return self._c._all_pages(
            f"/v1/secrets/{_segment(key)}/versions", VersionInfo.from_json, _env(env)
        )

    @boundary
    def rollback(self, key: str, to: int, *, env: Optional[str] = None) -> SecretMeta:
        """Makes version ``to``'s value current again, as a new version (of ``env``'s own
        value when given)."""
        return SecretMeta.from_json(
            self._c._call(
                "POST",
                f"/v1/secrets/{_segment(key)}/rollback",
                query=_env(env),
                body={"to": to},
            )
        )


def _env(env: Optional[str]) -> Optional[Dict[str, Any]]:
    """The ``?env=`` of a call on one environment's own value."""
    return {"env": env} if env is not None else None


def _manifest(manifest: Mapping[str, Any]) -> Dict[str, Any]:
    body = dict(manifest)
    secrets = body.get("secrets")
    if isinstance(secrets, list):
        body["secrets"] = [d.to_json() if isinstance(d, SecretDecl) else d for d in secrets]
    return body


class AppsApi:
    """``client.apps``: registered apps' manifests (the secrets they name are in use)."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def __repr__(self) -> str:
        return f"AppsApi({self._c!r})"

    @boundary
    def register(self, manifest: Mapping[str, Any]) -> AppInfo:
        """Registers an app's manifest, or replaces it: ``{"app", "env", "secrets": [{"name",
        "key", "required", "fallback", "as"}]}`` (write or admin)."""
        return AppInfo.from_json(self._c._call("POST", "/v1/apps", body=_manifest(manifest)))

    @boundary
    def list(self) -> List[AppInfo]:
        """The registered apps, following pages."""
        return self._c._all_pages("/v1/apps", AppInfo.from_json)

    @boundary
    def get(self, name: str) -> AppInfo:
        """One registered app."""
        return AppInfo.from_json(self._c._call("GET", f"/v1/apps/{_segment(name)}"))

    @boundary
    def delete(self, name: str) -> bool:
        """Unregisters an app and returns ``True``."""
        self._c._call("DELETE", f"/v1/apps/{_segment(name)}")
        return True


class TokensApi:
    """``client.tokens``: the workspace's tokens (admin)."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def __repr__(self) -> str:
        return f"TokensApi({self._c!r})"

    @boundary
    def create(
        self,
        *,
        role: Optional[str] = None,
        name: Optional[str] = None,
        app: Optional[str] = None,
        env: Optional[str] = None,
        expires_at: Union[int, str, None] = None,
        workspace: Optional[str] = None,
    ) -> NewToken:
        """Makes a token: ``role`` (``admin``, ``write``, ``read``), or ``app`` and ``env``
        for a machine token; ``expires_at`` in unix seconds or RFC 3339, in the future.
        ``workspace`` must be the admin token's own (tokens belong to one workspace: another
        workspace's tokens are made with an admin token of that workspace;
        :class:`hush.ForbiddenError` otherwise). The answer's ``token`` (a
        :class:`hush.Secret`) is the only time it is shown."""
        body = {
            k: v
            for k, v in (
                ("role", role),
                ("name", name),
                ("app", app),
                ("env", env),
                ("expires_at", expires_at),
                ("workspace", workspace),
            )
            if v is not None
        }
        return NewToken.from_json(self._c._call("POST", "/v1/tokens", body=body))

    @boundary
    def list(self) -> List[TokenInfo]:
        """Every token's record (never a token), following pages."""
        return self._c._all_pages("/v1/tokens", TokenInfo.from_json)

    @boundary
    def revoke(self, id: str) -> TokenInfo:
        """Revokes a token by id or name; the record, revoked."""
        return TokenInfo.from_json(self._c._call("POST", f"/v1/tokens/{_segment(id)}/revoke"))

    @boundary
    def delete(self, id: str) -> bool:
        """Revokes a token by id or name with ``DELETE`` (the record stays); ``True``."""
        self._c._call("DELETE", f"/v1/tokens/{_segment(id)}")
        return True


class AuditApi:
    """``client.audit``: the audit log (admin)."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def __repr__(self) -> str:
        return f"AuditApi({self._c!r})"

    @boundary
    def list(
        self,
        *,
        key: Optional[str] = None,
        actor: Optional[str] = None,
        since: Optional[int] = None,
        until: Optional[int] = None,
    ) -> List[AuditRecord]:
        """Audit rows in sequence order, following pages; filtered by key, actor (token id or
        name), and time (unix seconds)."""
        q = {"key": key, "actor": actor, "since": since, "until": until}
        return self._c._all_pages("/v1/audit", AuditRecord.from_json, q)

    @boundary
    def verify(self, head: Optional[AuditHead] = None) -> AuditVerdict:
        """Checks every row's MAC and link; with ``head`` (from :meth:`head`, kept elsewhere),
        also that it is still in the chain unchanged, so rows cut off the end are found."""
        q: Optional[_http.Query] = (
            {"head_seq": head.seq, "head_mac": head.mac} if head is not None else None
        )
        verdict = AuditVerdict.from_json(self._c._call("GET", "/v1/audit/verify", query=q))
        if head is not None and verdict.intact and not verdict.head_checked:
            # A server from before heads ignores the parameters: never report a check that did
            # not happen.
            raise HushError(
                "the server did not check the head (it predates audit heads): upgrade it",
                status=200,
                code="unexpected_answer",
            )
        return verdict

    @boundary
    def head(self) -> AuditHead:
        """The newest row's sequence number and MAC, to keep where the store's writers cannot
        reach."""
        return AuditHead.from_json(self._c._call("GET", "/v1/audit/head"))

    @boundary
    def prune(self, *, before: str) -> AuditPruned:
        """Audit retention (an admin of workspace ``default``): removes the rows written before
        ``before`` (RFC 3339, unix seconds, or a duration before the server's now such as
        ``"90d"``) and keeps a checkpoint from which :meth:`verify` proves the rest."""
        body = {"before": before}
        return AuditPruned.from_json(self._c._call("POST", "/v1/audit/prune", body=body))
