"""The one place requests are made: the standard library's ``urllib.request``, a timeout on
every request, no redirects followed (a bearer token is never sent to where a redirect
points), and every failure turned into a :class:`hush.HushError`."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ._secret import Secret
from .errors import HushConnectionError, HushError, InvalidError, api_error

USER_AGENT = "hush-sdk-python/0.1.0"

Query = Mapping[str, Union[str, int, bool, None]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)

#: OpenSSL's certificate verification codes, in short words.
_TLS_VERIFY: Dict[int, str] = {
    2: "tls: unknown issuer",  # unable to get issuer certificate
    10: "tls: certificate expired",
    9: "tls: certificate not valid yet",
    18: "tls: unknown issuer",  # self-signed certificate
    19: "tls: unknown issuer",  # self-signed certificate in chain
    20: "tls: unknown issuer",  # unable to get local issuer certificate
    21: "tls: unknown issuer",  # unable to verify the first certificate
    62: "tls: certificate not valid for this name",  # hostname mismatch
    64: "tls: certificate not valid for this name",  # IP address mismatch
}


def check_addr(addr: str) -> str:
    """``addr`` without a trailing ``/``, or :class:`InvalidError` (code ``bad_address``)."""
    base = addr.rstrip("/")
    if not (base.startswith("http://") or base.startswith("https://")):
        # Not echoed: a token passed in its place would be.
        raise InvalidError(
            "the server address does not start with http:// or https://: give "
            "http://HOST:PORT or https://HOST",
            code="bad_address",
        )
    return base


def _retry_after(headers: Optional[Message]) -> Optional[int]:
    if headers is None:
        return None
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _error_from_answer(status: int, body: bytes, headers: Optional[Message]) -> HushError:
    retry_after = _retry_after(headers)
    try:
        doc = json.loads(body)
        err = doc["error"]
        code = err["code"]
        message = err["message"]
        if not isinstance(code, str) or not isinstance(message, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return HushError(f"HTTP {status}", status=status, code="unknown", retry_after=retry_after)
    details = {k: v for k, v in err.items() if k not in ("code", "message")}
    return api_error(status, code, message, retry_after=retry_after, details=details)


def request(
    base: str,
    token: Secret,
    method: str,
    path: str,
    *,
    query: Optional[Query] = None,
    body: Optional[Mapping[str, Any]] = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: float,
) -> Tuple[int, Dict[str, str], Any]:
    """One request; the status, the headers and the decoded JSON answer (``None`` for an
    empty body). Raises the :class:`HushError` of a failed one."""
    url = base + path
    if query:
        pairs = []
        for k, v in query.items():
            if v is None:
                continue
            pairs.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
    data: Optional[bytes] = None
    hdrs = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)
    # EXPOSE: the bearer token goes in the Authorization header and nowhere else.
    hdrs["Authorization"] = "Bearer " + token.expose()
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with _OPENER.open(req, timeout=timeout) as res:
            status = res.status
            raw = res.read()
            res_headers = {k.lower(): v for k, v in res.headers.items()}
    except urllib.error.HTTPError as e:
        try:
            raw = e.read()
        except (OSError, http.client.HTTPException):
            raw = b""
        finally:
            e.close()
        raise _error_from_answer(e.code, raw, e.headers) from None
    except urllib.error.URLError as e:
        raise HushConnectionError(base, _cause(e.reason, timeout)) from None
    except (socket.timeout, TimeoutError):
        raise HushConnectionError(base, f"timeout after {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as e:
        raise HushConnectionError(base, _cause(e, timeout)) from None
    if not raw:
        return status, res_headers, None
    try:
        return status, res_headers, json.loads(raw)
    except ValueError as e:
        raise HushError(
            f"unexpected answer (not JSON: {e.msg} at position {e.pos})"
            if isinstance(e, json.JSONDecodeError)
            else "unexpected answer (not JSON)",
            status=status,
            code="unexpected_answer",
        ) from None


def _cause(reason: object, timeout: float) -> str:
    """The cause of a failed request, in the words every hush client uses for the common ones:
    ``connection refused``, ``tls: unknown issuer``, ``timeout after 30 s``."""
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"timeout after {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLCertVerificationError):
        code = getattr(reason, "verify_code", None)
        short = _TLS_VERIFY.get(code) if isinstance(code, int) else None
        if short is not None:
            return short
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = str(reason)
    return text or type(reason).__name__
