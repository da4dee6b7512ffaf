"""A planted value and a planted token go through every call and every failure; neither may
appear in any repr, str, exception message, JSON serialisation or pickle."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

import hush
from hush import Client, Secret
from hush.secrets import Sources

from .conftest import PLANTED, Server

TOKEN_PLANT = "hush_PLANTEDTOKEN_" + "Q" * 25


def texts(obj: Any) -> str:
    """Every way an object is commonly printed or serialised."""
    out = [repr(obj), str(obj), f"{obj}", f"{obj!r}"]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out.append(json.dumps(dataclasses.asdict(obj), default=str))
        out.append(repr(copy.deepcopy(obj)))
    if isinstance(obj, BaseException):
        out.append(repr(obj.args))
        out.append(repr(vars(obj)))
    return "\n".join(out)


def assert_clean(*objs: Any) -> None:
    for o in objs:
        t = texts(o)
        assert PLANTED not in t, t
        assert TOKEN_PLANT not in t, t


def test_answers_never_show_a_value_or_a_token(server: Server, admin: Client, key: str) -> None:
    created = admin.secrets.create(key=key, value=PLANTED, description="planted")
    fetched = admin.secrets.fetch(key)
    assert fetched.value.expose() == PLANTED
    resolved = admin.resolve([key])
    new_token = admin.tokens.create(role="read")
    assert_clean(
        created,
        fetched,
        fetched.value,
        resolved,
        new_token,
        new_token.token,
        admin.secrets.list(),
        admin.secrets.versions(key),
        admin.audit.list(key=key),
        admin,
        admin.secrets,
        server.client(new_token.token.expose()),
    )
    assert new_token.token.expose() not in texts(new_token) + texts(server.client(new_token.token.expose()))
    # json refuses the wrapper itself rather than writing the value.
    with pytest.raises(TypeError) as e:
        json.dumps(fetched.value)
    assert PLANTED not in str(e.value)
    for o in (fetched, fetched.value, new_token, admin):
        with pytest.raises(TypeError):
            pickle.dumps(o)


def test_errors_never_show_a_value_or_a_token(server: Server, admin: Client, key: str, tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def catch(f: Any, *a: Any, **kw: Any) -> None:
        with pytest.raises(hush.HushError) as e:
            f(*a, **kw)
        errors.append(e.value)

    admin.secrets.create(key=key, value=PLANTED)
    # The server's refusals of requests that carry the value.
    catch(admin.secrets.create, key=key, value=PLANTED)
    catch(admin.secrets.create, key="bad key", value=PLANTED)
    catch(admin.secrets.create, {"key": key + "x", "value": PLANTED, "scope": PLANTED + "s"})
    catch(admin._call, "POST", "/v1/secrets", body={"key": key + "y", "value": 5, "description": PLANTED})
    catch(admin._call, "POST", "/v1/secrets", body={"key": key + "z", "value": PLANTED, "expires_at": PLANTED})
    catch(admin.secrets.update, key, value=PLANTED, expected_version=99)
    catch(admin.secrets.update, key, value=PLANTED, if_match=PLANTED)
    # A bad token, and no server at all.
    catch(server.client(TOKEN_PLANT).secrets.list)
    catch(Client("http://127.0.0.1:1", TOKEN_PLANT).secrets.list)
    catch(Client, PLANTED, TOKEN_PLANT)
    # The workload call: a map, a .secrets file and a server that each hold the value.
    catch(Sources({"HUSH_SECRETS_MAP": '{"k": "' + PLANTED + '"}'}, tmp_path).get, "k")
    catch(Sources({"HUSH_SECRETS_MAP": '{"k": {"env": "' + PLANTED + '"'}, tmp_path).get, "k")
    (tmp_path / ".secrets").write_text('ok=1\nk="' + PLANTED + "\n")
    catch(Sources({}, tmp_path).get, "k")
    catch(Sources({"HUSH_ADDR": server.base, "HUSH_TOKEN": TOKEN_PLANT}, tmp_path / "none").get, "k")
    catch(Sources({"HUSH_ADDR": "http://127.0.0.1:1", "HUSH_TOKEN": TOKEN_PLANT}, tmp_path / "none").get, "k")
    catch(Sources({"HUSH_SECRET_k": b"\xff" + PLANTED.encode()}, tmp_path).get("k").expose)
    assert len(errors) == 16
    for e in errors:
        assert_clean(e)
        if e.__cause__ is not None:
            assert_clean(e.__cause__)


def test_sources_never_show_the_environment(tmp_path: Path) -> None:
    s = Sources({"HUSH_SECRET_k": PLANTED, "HUSH_TOKEN": TOKEN_PLANT}, tmp_path)
    assert s.get("k").expose() == PLANTED
    assert_clean(s, s.get("k"))
    assert "2 variables" in repr(s)
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_the_secret_wrapper() -> None:
    s = Secret(PLANTED)
    assert repr(s) == "Secret([redacted])"
    assert str(s) == "[redacted]" and f"{s:>12}" == "  [redacted]"
    assert json.dumps({"v": s}, default=str) == '{"v": "[redacted]"}'
    assert copy.copy(s) is s and copy.deepcopy(s) is s
    with pytest.raises(TypeError):
        hash(s)
    with pytest.raises(TypeError):
        vars(s)
    assert_clean(s, [s], {"k": s})


def _frames_text(e: BaseException, seen: set[int] | None = None) -> str:
    """The local variables of every frame of ``e``'s traceback outside the tests, and of the
    exceptions chained to it: what an error tracker that records locals would record."""
    seen = seen if seen is not None else set()
    if id(e) in seen:
        return ""
    seen.add(id(e))
    out = [texts(e)]
    tb = e.__traceback__
    while tb is not None:
        if "/tests/" not in tb.tb_frame.f_code.co_filename:
            out.append(repr(tb.tb_frame.f_locals))
        tb = tb.tb_next
    for chained in (e.__cause__, e.__context__):
        if chained is not None:
            out.append(repr(vars(chained)) if hasattr(chained, "__dict__") else "")
            out.append(repr(getattr(chained, "args", ())))
            out.append(_frames_text(chained, seen))
    return "\n".join(out)


def test_tracebacks_hold_no_token_and_no_value_read(server: Server, tmp_path: Path) -> None:
    """The SDK's own frames (which held the token, an answer's body, a file's text) are not on
    the traceback of what it raises, and no chained exception carries them."""
    found: list[BaseException] = []

    def catch(f: Any, *a: Any) -> None:
        try:
            f(*a)
        except hush.HushError as e:
            found.append(e)
        else:
            raise AssertionError(f"{f} did not fail")

    catch(server.client(TOKEN_PLANT).secrets.list)
    catch(Client("http://127.0.0.1:1", TOKEN_PLANT).secrets.fetch, "k")
    catch(Sources({"HUSH_ADDR": server.base, "HUSH_TOKEN": TOKEN_PLANT}, tmp_path / "none").get, "k")
    catch(Sources({"HUSH_ADDR": "no-scheme", "HUSH_TOKEN": TOKEN_PLANT}, tmp_path / "none").get, "k")
    catch(Sources({"HUSH_SECRETS_MAP": '{"k": {"env": "' + PLANTED + '"'}, tmp_path).get, "k")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / ".secrets").write_text("a=" + PLANTED + '\nk="' + PLANTED + "\n")
    catch(Sources({}, tmp_path / "broken").get, "k")
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / ".secrets").write_bytes(b"k=" + PLANTED.encode() + b"\xff\n")
    catch(Sources({}, tmp_path / "binary").file, "k")
    secret = Sources({"HUSH_SECRET_k": b"\xff" + PLANTED.encode()}, tmp_path).get("k")
    catch(secret.expose)
    assert len(found) == 8
    for e in found:
        text = _frames_text(e)
        assert TOKEN_PLANT not in text, f"{e!r}:\n{text}"
        assert PLANTED not in text, f"{e!r}:\n{text}"
    assert found[-1].__context__ is None
