"""``Sources`` in the process, the Rust SDK's unit tests (crates/hush-client/src/secrets.rs)
case for case: each source's rules, the map's refusals, keys, files and the `.secrets`
syntax."""

from __future__ import annotations

import gc
import stat
from pathlib import Path

import pytest

import hush
from hush import Secret
from hush.secrets import Sources, check_key


def src(cwd: Path, **env: str) -> Sources:
    return Sources(env, cwd)


def text(s: Sources, key: str) -> str:
    return s.get(key).expose()


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_prefixed_env_var_exact_key(tmp_path: Path) -> None:
    s = src(tmp_path, HUSH_SECRET_githubtoken="ghp_123", HUSH_SECRET_OTHER="x")
    assert text(s, "githubtoken") == "ghp_123"
    with pytest.raises(hush.SecretNotFoundError):
        s.get("GITHUBTOKEN")
    with pytest.raises(hush.SecretNotFoundError):
        s.get("other")


def test_custom_prefix_replaces_default(tmp_path: Path) -> None:
    s = src(tmp_path, HUSH_SECRET_PREFIX="ML_S_", ML_S_githubtoken="from-ml", HUSH_SECRET_db="d")
    assert text(s, "githubtoken") == "from-ml"
    with pytest.raises(hush.SecretNotFoundError):
        s.get("db")
    # An empty prefix variable is the default prefix.
    assert text(src(tmp_path, HUSH_SECRET_PREFIX="", HUSH_SECRET_db="d"), "db") == "d"


def test_secrets_file_dotenv_syntax(tmp_path: Path) -> None:
    (tmp_path / ".secrets").write_text(
        "# a comment\n"
        "plain=abc # trailing comment\n"
        "export exported=yes\n"
        "single='li$teral \\n'\n"
        'double="say \\"hi\\" $5\\nnext"\n'
        'multi="-----BEGIN KEY-----\nline2\nline3\n-----END KEY-----"\n'
        "after=ok\n"
        'literal="${after}-and-more"\n'
        "dup=first\n"
        "dup=second\n"
    )
    s = src(tmp_path)
    assert text(s, "plain") == "abc"
    assert text(s, "exported") == "yes"
    assert text(s, "single") == "li$teral \\n"
    assert text(s, "double") == 'say "hi" $5\nnext'
    assert text(s, "multi") == "-----BEGIN KEY-----\nline2\nline3\n-----END KEY-----"
    assert text(s, "after") == "ok"
    assert text(s, "literal") == "${after}-and-more"
    # The last line for a key wins, as hush run and the Rust and Node SDKs read it.
    assert text(s, "dup") == "second"
    with pytest.raises(hush.SecretNotFoundError) as e:
        s.get("absent")
    assert "no line for this key" in str(e.value)


def test_secrets_file_hyphenated_keys_and_literal_dollars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 16): ``$NAME`` and ``${NAME}`` were substituted."""
    monkeypatch.setenv("HUSH_PY_TEST_SUBST", "from-env")
    (tmp_path / ".secrets").write_text(
        "gcs-key=k1\npw=abc$HUSH_PY_TEST_SUBSTxyz\nq=x${HUSH_PY_TEST_SUBST}y\n"
        "d=${HUSH_PY_TEST_UNSET:-fallback}\n"
    )
    s = src(tmp_path)
    assert text(s, "gcs-key") == "k1"
    assert text(s, "pw") == "abc$HUSH_PY_TEST_SUBSTxyz"
    assert text(s, "q") == "x${HUSH_PY_TEST_SUBST}y"
    assert text(s, "d") == "${HUSH_PY_TEST_UNSET:-fallback}"


def test_secrets_file_errors_name_the_line(tmp_path: Path) -> None:
    for body, line in (
        ('ok=1\n\nbad="sk_live_unclosed\n', 3),
        ("ok=1\n-sk_live=1\n", 2),
        ("ok=1\n  =sk_live\n", 2),
    ):
        (tmp_path / ".secrets").write_text(body)
        with pytest.raises(hush.SecretsFileError) as e:
            src(tmp_path).get("ok")
        assert e.value.line == line, body
        assert f"line {line}: " in str(e.value)
        assert "sk_live" not in str(e.value) + repr(e.value)


def test_secrets_file_bom_and_key_without_value(tmp_path: Path) -> None:
    (tmp_path / ".secrets").write_bytes(b"\xef\xbb\xbffirst=1\n")
    assert text(src(tmp_path), "first") == "1"
    (tmp_path / ".secrets").write_text("ok=1\nJUSTAKEY\n")
    with pytest.raises(hush.SecretsFileError) as e:
        src(tmp_path).get("ok")
    assert e.value.line == 2


def test_secrets_file_from_env_var_relative_to_cwd(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "dev.env").write_text("k=from-dev\n")
    (tmp_path / ".secrets").write_text("k=from-default\n")
    assert text(src(tmp_path, HUSH_SECRETS_FILE="conf/dev.env"), "k") == "from-dev"


def test_secrets_file_parse_error_does_not_show_the_line(tmp_path: Path) -> None:
    (tmp_path / ".secrets").write_text('ok=1\nbad="sk_live_unclosed\n')
    s = src(tmp_path)
    for key in ("bad", "ok"):  # refused whichever key is asked
        with pytest.raises(hush.SecretsFileError) as e:
            s.get(key)
        assert e.value.line == 2
        assert "sk_live" not in str(e.value) + repr(e.value)


def test_secrets_file_that_is_not_utf8_or_unreadable(tmp_path: Path) -> None:
    (tmp_path / ".secrets").write_bytes(b"a=1\nk=\xff\xfe\n")
    with pytest.raises(hush.SecretsFileError) as e:
        src(tmp_path).get("k")
    assert e.value.line == 2
    assert "UTF-8" in str(e.value)
    (tmp_path / ".secrets").unlink()
    (tmp_path / ".secrets").mkdir()
    with pytest.raises(hush.SecretsIOError) as e2:
        src(tmp_path).get("k")
    assert e2.value.action == "read"


def test_order_map_then_prefix_then_file(tmp_path: Path) -> None:
    (tmp_path / ".secrets").write_text("k=from-file\nonly_file=f\n")
    with_map = src(
        tmp_path,
        HUSH_SECRETS_MAP='{"k": {"env": "K_VAR"}}',
        K_VAR="from-map",
        HUSH_SECRET_k="from-prefix",
    )
    assert text(with_map, "k") == "from-map"
    no_map = src(tmp_path, HUSH_SECRET_k="from-prefix")
    assert text(no_map, "k") == "from-prefix"
    assert text(no_map, "only_file") == "f"
    assert text(src(tmp_path), "k") == "from-file"


def test_inside_hush_run_only_the_map_counts(tmp_path: Path) -> None:
    (tmp_path / ".secrets").write_text("undeclared=from-file\n")
    s = src(
        tmp_path,
        HUSH_SECRETS_MAP="{}",
        HUSH_SECRET_undeclared="from-prefix",
        HUSH_ADDR="http://127.0.0.1:1",
        HUSH_TOKEN="t",
    )
    with pytest.raises(hush.NotDeclaredError) as e:
        s.get("undeclared")
    assert "hush.toml" in str(e.value)
    with pytest.raises(hush.NotDeclaredError):
        s.file("undeclared")


def test_map_errors(tmp_path: Path) -> None:
    with pytest.raises(hush.UndeliveredError) as e:
        src(tmp_path, HUSH_SECRETS_MAP='{"k": {"env": "NOT_SET"}}').get("k")
    assert e.value.var == "NOT_SET"
    with pytest.raises(hush.UndeliveredError):
        src(tmp_path, HUSH_SECRETS_MAP='{"k": {"file": "EMPTY"}}', EMPTY="").get("k")
    for bad in (
        '{"k": "sk_live_oops"}',
        '{"k": {"env": "A", "file": "B"}}',
        '{"k": {}}',
        '{"k": {"env": 5}}',
        '["sk_live_oops"]',
        '{"k": {"env": "sk_live_oops"',
    ):
        with pytest.raises(hush.BadMapError) as b:
            src(tmp_path, HUSH_SECRETS_MAP=bad).get("k")
        assert "sk_live" not in str(b.value) + repr(b.value), bad
        assert "unset it outside `hush run`" in str(b.value)


def test_map_file_delivery(tmp_path: Path) -> None:
    delivered = tmp_path / "delivered-key"
    delivered.write_bytes(b'{"private_key": "..."}\n')
    s = src(tmp_path, HUSH_SECRETS_MAP='{"gcp-key": {"file": "GCP_KEY_FILE"}}', GCP_KEY_FILE=str(delivered))
    assert s.file("gcp-key") == delivered
    assert s.get("gcp-key").expose_bytes() == b'{"private_key": "..."}\n'
    assert s._dir is None, "nothing was written: the delivered file is the answer"
    # A relative delivered path is taken from the sources' directory.
    rel = src(tmp_path, HUSH_SECRETS_MAP='{"g": {"file": "F"}}', F="delivered-key")
    assert rel.file("g") == delivered


def test_file_of_an_env_value_is_private_and_exact(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    s = src(
        tmp_path,
        HUSH_SECRETS_MAP='{"gh.token": {"env": "GITHUB_TOKEN"}}',
        GITHUB_TOKEN="ghp_line1\nline2",
        HUSH_SECRETS_DIR=str(base),
    )
    p = s.file("gh.token")
    assert p.name == "gh.token"
    d = p.parent
    assert d.parent == base and d.name.startswith("hush-secrets-")
    assert p.read_bytes() == b"ghp_line1\nline2"
    assert mode(p) == 0o600 and mode(d) == 0o700
    assert [c.name for c in d.iterdir()] == ["gh.token"], "no temporary file left"
    assert s.file("gh.token") == p
    s.cleanup()
    assert not d.exists()
    p2 = s.file("gh.token")
    assert p2.read_bytes() == b"ghp_line1\nline2"
    d2 = p2.parent
    # Collecting the sources removes the directory too.
    del s
    gc.collect()
    assert not d2.exists()


def test_file_default_location(tmp_path: Path) -> None:
    import tempfile

    s = src(tmp_path, HUSH_SECRET_k="v")
    p = s.file("k")
    d = p.parent
    assert str(d).startswith("/dev/shm/") or str(d).startswith(tempfile.gettempdir())
    assert p.read_bytes() == b"v" and mode(p) == 0o600 and mode(d) == 0o700
    s.cleanup()
    assert not d.exists()


def test_file_in_a_directory_that_cannot_be_made(tmp_path: Path) -> None:
    s = src(tmp_path, HUSH_SECRET_k="v", HUSH_SECRETS_DIR=str(tmp_path / "no" / "such"))
    with pytest.raises(hush.SecretsIOError) as e:
        s.file("k")
    assert e.value.action == "make a private directory in"


def test_bad_keys_are_refused(tmp_path: Path) -> None:
    s = src(tmp_path, HUSH_SECRET_="x")
    for key in ["", ".hidden", "-x", "a/b", "../etc", "..", "a b", "k=v", "ké", "a" * 129]:
        with pytest.raises(hush.InvalidKeyError):
            s.get(key)
        with pytest.raises(hush.InvalidKeyError):
            s.file(key)
    for key in ["a", "A.b-c_9", "x.", "gcp-key", "a" * 128]:
        check_key(key)
    with pytest.raises(hush.InvalidKeyError) as e:
        s.get("z" * 500)
    assert len(e.value.key) == 64


def test_not_found_says_where_it_looked(tmp_path: Path) -> None:
    msg = str(pytest.raises(hush.SecretNotFoundError, src(tmp_path).get, "githubtoken").value)
    assert "HUSH_SECRET_githubtoken" in msg
    assert str(tmp_path / ".secrets") in msg
    assert "HUSH_ADDR and HUSH_TOKEN are unset" in msg
    assert "hush run" in msg
    msg = str(pytest.raises(hush.SecretNotFoundError, src(tmp_path, HUSH_ADDR="http://x").get, "k").value)
    assert "HUSH_TOKEN is unset" in msg
    msg = str(pytest.raises(hush.SecretNotFoundError, src(tmp_path, HUSH_TOKEN="t").get, "k").value)
    assert "HUSH_ADDR is unset" in msg


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    s = Sources({"HUSH_SECRET_PREFIX": b"\xff"}, tmp_path)
    with pytest.raises(hush.ConfigError) as e:
        s.get("k")
    assert "HUSH_SECRET_PREFIX is not UTF-8" in str(e.value)
    # A value is bytes, and may be anything.
    b = Sources({"HUSH_SECRET_k": b"\xff\x00"}, tmp_path).get("k")
    assert b.expose_bytes() == b"\xff\x00"
    with pytest.raises(hush.NotUtf8Error):
        b.expose()


def test_server_is_asked_when_configured(tmp_path: Path) -> None:
    s = src(tmp_path, HUSH_ADDR="http://127.0.0.1:1", HUSH_TOKEN="hush_t")
    with pytest.raises(hush.ServerError) as e:
        s.get("k")
    assert isinstance(e.value.error, hush.HushConnectionError)
    assert e.value.__cause__ is e.value.error


def test_module_functions_read_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hush.secrets as mod

    monkeypatch.setattr(mod, "_GLOBAL", None)
    monkeypatch.setenv("HUSH_SECRET_modkey", "module-value")
    monkeypatch.delenv("HUSH_SECRETS_MAP", raising=False)
    monkeypatch.chdir(tmp_path)
    assert mod.get("modkey").expose() == "module-value"
    p = mod.file("modkey")
    assert p.read_text() == "module-value"
    # Read once, on first use.
    monkeypatch.setenv("HUSH_SECRET_modkey", "changed")
    assert mod.get("modkey").expose() == "module-value"
    mod.cleanup()
    assert not p.exists()
    mod.cleanup()


def test_secret_wrapper() -> None:
    s = Secret("sk_live_51ABC")
    assert s.expose() == "sk_live_51ABC"
    assert s.expose_bytes() == b"sk_live_51ABC"
    assert s == Secret(b"sk_live_51ABC") and s != Secret("other")
