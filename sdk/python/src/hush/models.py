"""The API's answers as frozen dataclasses, field for field the JSON of ``hush_wire`` (the
Rust types the server answers with). A value or a token is a :class:`hush.Secret`, so no
``repr`` of an answer shows one; fields a newer server adds are ignored."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, TypeVar

from ._secret import Secret
from .errors import HushError

T = TypeVar("T")

_DEFAULTS: Dict[str, Any] = {
    # Fields a server that predates them leaves out (hush_wire's `#[serde(default)]`).
    "revision": 0,
    "used_by": None,
    # Values per environment (issue 16).
    "env_versions": {},
    "value_env": None,
    "env": None,
    "legacy_rows": 0,
    # Expiry warnings (issue 17).
    "notify_before": None,
    "warnings": [],
    "head_seq": 0,
    "head_mac": "",
    "head_checked": False,
    # Audit retention and request ids (issue 18).
    "request_id": None,
    "detail": None,
    "checkpoint": None,
    # One audit row per request (issue 19).
    "items": [],
}


def _unexpected(what: str) -> HushError:
    return HushError(f"unexpected answer: {what}", code="unexpected_answer")


def _build(cls: Type[T], doc: Any, **conv: Callable[[Any], Any]) -> T:
    """``cls`` from the JSON object ``doc``: each field from the key of its name, through
    ``conv[name]`` when given."""
    if not isinstance(doc, Mapping):
        raise _unexpected(f"expected an object for {cls.__name__}")
    kwargs: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        wire = f.metadata.get("wire", f.name)
        if wire in doc:
            raw = doc[wire]
        elif f.name in _DEFAULTS:
            raw = _DEFAULTS[f.name]
        else:
            raise _unexpected(f"{cls.__name__} has no field {wire!r}")
        kwargs[f.name] = conv[f.name](raw) if f.name in conv and raw is not None else raw
    return cls(**kwargs)


def _list_of(cls: Type[T], **conv: Callable[[Any], Any]) -> Callable[[Any], List[T]]:
    def build(raw: Any) -> List[T]:
        if not isinstance(raw, list):
            raise _unexpected(f"expected a list of {cls.__name__}")
        return [_build(cls, item, **conv) for item in raw]

    return build


@dataclass(frozen=True)
class UsedBy:
    """A registered app whose manifest names a secret."""

    app: str
    #: RFC 3339: when the app last resolved the secret; ``None`` if never.
    last_read_at: Optional[str]
    #: The environment that last read was made in (the machine token's, or the one the read
    #: named), whether it got that environment's own value or the shared one; ``None`` when
    #: the read named no environment, or never read.
    env: Optional[str]


@dataclass(frozen=True)
class SecretMeta:
    """A secret's metadata; never a value."""

    #: Stable id (``sec_…``).
    id: str
    workspace: str
    key: str
    description: Optional[str]
    #: ``api``, ``access`` or ``None``.
    token_type: Optional[str]
    #: Apps allowed to read it; empty means every app.
    scope: List[str]
    #: Environments it is available in; empty means every environment.
    envs: List[str]
    #: Unix seconds, or ``None`` for never.
    expires_at: Optional[int]
    #: Seconds before ``expires_at`` during which it is ``expiring``; ``None``: the default
    #: (14 days).
    notify_before: Optional[int]
    #: ``active``, ``expiring`` (served, within ``notify_before`` of its expiry), ``revoked``
    #: or ``expired``.
    status: str
    #: The current version of the value shared by every environment (0: none).
    version: int
    #: The environments with a value of their own, each with its current version.
    env_versions: Dict[str, int]
    #: Moves with every write; :attr:`etag` is it as an ``ETag`` for ``if_match``.
    revision: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str
    #: The registered apps that name it (on list, show and fetch answers; ``None`` on writes).
    used_by: Optional[List[UsedBy]]

    @property
    def etag(self) -> str:
        """The ``ETag`` of this revision, for ``if_match``."""
        return f'"{self.revision}"'

    @classmethod
    def from_json(cls, doc: Any) -> SecretMeta:
        return _build(cls, doc, used_by=_list_of(UsedBy), env_versions=dict)


def _value(doc: Mapping[str, Any]) -> Secret:
    text = doc.get("value")
    if isinstance(text, str):
        return Secret(text)
    b64 = doc.get("value_base64")
    if isinstance(b64, str):
        try:
            return Secret(base64.b64decode(b64, validate=True))
        except (binascii.Error, ValueError):
            raise HushError(
                "the server sent a value that does not decode", code="decode"
            ) from None
    raise HushError("the server sent a value that does not decode", code="decode")


@dataclass(frozen=True)
class ReadWarning:
    """Something to act on although the read succeeded (never a value)."""

    key: str
    #: ``expiring``: the secret expires within its warning window.
    code: str
    #: For people: ``STRIPE_KEY expires in 3 days (2026-12-03T10:00:00Z)``.
    message: str
    #: Unix seconds: the expiry it warns of.
    expires_at: Optional[int] = None

    @classmethod
    def from_json(cls, doc: Any) -> ReadWarning:
        if not isinstance(doc, Mapping):
            raise _unexpected("expected an object for ReadWarning")
        return cls(
            key=str(doc.get("key", "")),
            code=str(doc.get("code", "")),
            message=str(doc.get("message", "")),
            expires_at=doc.get("expires_at"),
        )


def _warnings(raw: Any) -> List[ReadWarning]:
    if not isinstance(raw, list):
        raise _unexpected("expected a list of ReadWarning")
    return [ReadWarning.from_json(w) for w in raw]


@dataclass(frozen=True)
class SecretValue(SecretMeta):
    """A secret's metadata and its decrypted value (a :class:`hush.Secret`: read it with
    ``.value.expose()``)."""

    #: The environment whose own value this is; ``None`` for the shared value.
    value_env: Optional[str]
    #: The version whose value this is.
    value_version: int
    value: Secret
    #: What the reader should know (an expiry within its window); empty when nothing.
    warnings: List[ReadWarning] = dataclasses.field(default_factory=list)

    @classmethod
    def from_json(cls, doc: Any) -> SecretValue:
        if not isinstance(doc, Mapping):
            raise _unexpected("expected an object for SecretValue")
        fields = dict(doc)
        fields["value"] = _value(doc)
        fields.pop("value_base64", None)
        return _build(
            cls, fields, used_by=_list_of(UsedBy), env_versions=dict, warnings=_warnings
        )


@dataclass(frozen=True)
class VersionInfo:
    """One version in a secret's history; no value."""

    #: The environment whose own value it is a version of; ``None`` for the shared value.
    env: Optional[str]
    version: int
    created_at: str
    created_by: str
    current: bool

    @classmethod
    def from_json(cls, doc: Any) -> VersionInfo:
        return _build(cls, doc)


@dataclass(frozen=True)
class Refusal:
    """Why one key of a resolve call could not be had."""

    #: ``missing``, ``revoked``, ``expired``, ``out_of_scope``, ``decrypt_failed``.
    code: str
    message: str


@dataclass(frozen=True)
class Resolved:
    """``POST /v1/resolve``'s answer: a value per key that could be had, a refusal per key
    that could not."""

    secrets: Dict[str, SecretValue]
    errors: Dict[str, Refusal]
    #: Warnings about the secrets served (an expiry within its window), in key order.
    warnings: List[ReadWarning] = dataclasses.field(default_factory=list)

    @classmethod
    def from_json(cls, doc: Any, *, dry_run: bool = False) -> Resolved:
        if not isinstance(doc, Mapping):
            raise _unexpected("expected an object for Resolved")
        raw_secrets = doc.get("secrets") or {}
        raw_errors = doc.get("errors") or {}
        if not isinstance(raw_secrets, Mapping) or not isinstance(raw_errors, Mapping):
            raise _unexpected("expected objects for secrets and errors")
        secrets: Dict[str, SecretValue] = {}
        for k, v in raw_secrets.items():
            if dry_run and isinstance(v, Mapping) and "value" not in v:
                # A dry run reads nothing: the metadata comes with an empty value.
                v = {**v, "value": ""}
            secrets[k] = SecretValue.from_json(v)
        errors = {k: _build(Refusal, v) for k, v in raw_errors.items()}
        warnings = _warnings(doc.get("warnings") or [])
        return cls(secrets=secrets, errors=errors, warnings=warnings)


@dataclass(frozen=True)
class SecretDecl:
    """One secret an app's manifest declares."""

    #: The environment variable the workload sees.
    name: str
    key: str
    required: bool
    #: Keys tried in order when ``key`` is missing, revoked or expired.
    fallback: List[str]
    #: ``env`` or ``file`` (``as`` on the wire).
    delivery: str = dataclasses.field(metadata={"wire": "as"})

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "required": self.required,
            "fallback": list(self.fallback),
            "as": self.delivery,
        }


def _decl(raw: Any) -> SecretDecl:
    if isinstance(raw, Mapping):
        raw = {"required": True, "fallback": [], "as": "env", **raw}
    return _build(SecretDecl, raw)


@dataclass(frozen=True)
class AppKey:
    """One key a registered app names, with when it last read it and in which environment."""

    key: str
    last_read_at: Optional[str]
    #: The environment of that last read; ``None`` when it named none, or never read.
    env: Optional[str]


@dataclass(frozen=True)
class AppInfo:
    """A registered app."""

    app: str
    env: Optional[str]
    secrets: List[SecretDecl]
    keys: List[AppKey]
    created_at: str
    updated_at: str
    registered_by: str

    @classmethod
    def from_json(cls, doc: Any) -> AppInfo:
        def decls(raw: Any) -> List[SecretDecl]:
            if not isinstance(raw, list):
                raise _unexpected("expected a list of SecretDecl")
            return [_decl(d) for d in raw]

        return _build(cls, doc, secrets=decls, keys=_list_of(AppKey))


@dataclass(frozen=True)
class TokenInfo:
    """A token's record; never the token."""

    id: str
    name: str
    #: ``admin``, ``write``, ``read`` or ``machine``.
    role: str
    app: Optional[str]
    env: Optional[str]
    expires_at: Optional[int]
    status: str
    created_at: str
    created_by: str
    revoked_at: Optional[str]

    @classmethod
    def from_json(cls, doc: Any) -> TokenInfo:
        return _build(cls, doc)


@dataclass(frozen=True)
class NewToken(TokenInfo):
    """A new token's record and the token, shown this once (a :class:`hush.Secret`)."""

    token: Secret

    @classmethod
    def from_json(cls, doc: Any) -> NewToken:
        return _build(cls, doc, token=Secret)


@dataclass(frozen=True)
class AuditItem:
    """One key of an audit row that names several (a resolve of more than one key)."""

    key: str
    #: The value version given out (or read before a refusal).
    version: Optional[int]
    #: The environment whose own value it was; ``None`` for the shared value.
    env: Optional[str]
    #: ``ok``, or why it was refused (``not_found``, ``revoked``, ...).
    outcome: str
    #: ``fallback for A``, ``served by B; skipped A (revoked)``.
    detail: Optional[str]

    @classmethod
    def from_json(cls, doc: Any) -> AuditItem:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("key"), str):
            raise _unexpected("expected an audit item with a key")
        return cls(
            key=doc["key"],
            version=doc.get("version"),
            env=doc.get("env"),
            outcome=str(doc.get("outcome", "")),
            detail=doc.get("detail"),
        )


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit log."""

    seq: int
    time: str
    actor_id: str
    actor_name: str
    action: str
    workspace: Optional[str]
    key: Optional[str]
    version: Optional[int]
    #: The environment whose own value was read or written; ``None`` for the shared value.
    env: Optional[str]
    outcome: str
    remote: Optional[str]
    prev_hash: str
    hash: str
    #: The id of the HTTP request that wrote the row (``X-Request-Id``); ``None`` for rows the
    #: CLI wrote on the embedded store and rows from before request ids were recorded.
    request_id: Optional[str]
    #: What else the row records, in words (for ``audit.prune``: the rows removed and the time).
    detail: Optional[str]
    #: For a row naming several keys (one resolve): one item per key tried, and ``key``,
    #: ``version`` and ``env`` are ``None``; ``outcome`` is ``ok``, ``partial`` or ``refused``.
    #: Empty for a row about one key.
    items: List[AuditItem] = field(default_factory=list)

    @classmethod
    def from_json(cls, doc: Any) -> AuditRecord:
        return _build(cls, doc, items=lambda raw: [AuditItem.from_json(i) for i in raw])


@dataclass(frozen=True)
class AuditVerdict:
    """The answer of ``audit.verify``."""

    intact: bool
    rows: int
    first_bad_seq: Optional[int]
    reason: Optional[str]
    legacy_rows: int
    head_seq: int
    head_mac: str
    head_checked: bool
    #: Where the walk started when older rows were pruned (the last removed row); ``None``
    #: while the chain starts at row 1.
    checkpoint: Optional[AuditHead]

    @classmethod
    def from_json(cls, doc: Any) -> AuditVerdict:
        return _build(cls, doc, checkpoint=AuditHead.from_json)


@dataclass(frozen=True)
class AuditHead:
    """A head of the audit chain, to keep elsewhere and give back to ``audit.verify``."""

    seq: int
    mac: str

    @classmethod
    def from_json(cls, doc: Any) -> AuditHead:
        return _build(cls, doc)


@dataclass(frozen=True)
class AuditPruned:
    """The answer of ``audit.prune``."""

    #: How many rows were removed (0: none was older; nothing changed).
    removed: int
    #: Where the chain now starts (the last removed row); ``None`` while it starts at row 1.
    checkpoint: Optional[AuditHead]
    #: The newest row after the prune: a head to record.
    head: AuditHead

    @classmethod
    def from_json(cls, doc: Any) -> AuditPruned:
        return _build(cls, doc, checkpoint=AuditHead.from_json, head=AuditHead.from_json)
