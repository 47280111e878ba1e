"""Every credential source, in priority order, each resolved and then used over real HTTP."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from jupyter_apolo.client import Apolo, ApoloConfig, ConfigError, resolve_config


def _passed(platform, user: str, **extra) -> str:
    data = {"token": platform.token(user), "cluster": "default", "url": platform.url, **extra}
    return base64.b64encode(json.dumps(data).encode()).decode()


def _whoami(cfg: ApoloConfig) -> tuple[str, str, str | None, str | None]:
    with Apolo(cfg) as api:
        perms = api.permissions.list("storage:")
        assert perms, "the user should at least manage their own project storage"
        return api.config.username, api.config.cluster, api.config.org, api.config.project


def test_explicit_config_wins_and_completes_scope_from_server(platform, tmp_path):
    env = {"APOLO_PASSED_CONFIG": _passed(platform, "bob"), "HOME": str(tmp_path)}
    cfg = resolve_config(url=platform.url + "/", token=platform.token("alice"), environ=env)
    assert (cfg.source, cfg.username, cfg.url) == ("explicit", "alice", platform.url)
    assert cfg.project is None  # filled in from /config when the client opens
    assert _whoami(cfg) == ("alice", "default", "local", "alice")


def test_explicit_needs_both_url_and_token(platform):
    with pytest.raises(ConfigError, match="token is missing"):
        resolve_config(url=platform.url, environ={})


def test_explicit_scope_overrides_any_source(platform, tmp_path):
    env = {"APOLO_PASSED_CONFIG": _passed(platform, "alice", org_name="local", project_name="alice"),
           "HOME": str(tmp_path)}
    assert resolve_config(project="other", environ=env).project == "other"


@pytest.mark.parametrize("var", ["APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG"])
def test_passed_config(platform, tmp_path, var):
    env = {var: _passed(platform, "bob", org_name="local", project_name="bob"), "HOME": str(tmp_path)}
    cfg = resolve_config(environ=env)
    assert (cfg.source, cfg.username, cfg.cluster, cfg.org, cfg.project) == (
        "passed-config", "bob", "default", "local", "bob")
    assert _whoami(cfg)[0] == "bob"


def test_passed_config_beats_cli_db_and_malformed_is_an_error(platform, cli, tmp_path):
    env = {"APOLO_PASSED_CONFIG": _passed(platform, "bob"), "APOLO_CONFIG": str(cli("alice").config_dir)}
    assert resolve_config(environ=env).username == "bob"
    with pytest.raises(ConfigError, match="NEURO_PASSED_CONFIG is malformed"):
        resolve_config(environ={"NEURO_PASSED_CONFIG": "bm90IGpzb24=", "HOME": str(tmp_path)})


def test_apolo_cli_db_read_only(platform, cli, tmp_path):
    config_dir = cli("alice").config_dir
    db = config_dir / "db"
    before = (db.read_bytes(), stat.S_IMODE(db.stat().st_mode), stat.S_IMODE(config_dir.stat().st_mode))
    cfg = resolve_config(environ={"APOLO_CONFIG": str(config_dir), "HOME": str(tmp_path)})
    assert (cfg.source, cfg.username, cfg.cluster, cfg.org, cfg.project) == (
        "apolo-cli", "alice", "default", "local", "alice")
    assert _whoami(cfg)[0] == "alice"
    assert (db.read_bytes(), stat.S_IMODE(db.stat().st_mode), stat.S_IMODE(config_dir.stat().st_mode)) == before
    # the CLI still accepts its db afterwards (its 0700/0600 checks untouched)
    assert "alice" in cli("alice")("config", "show").stdout


def test_apolo_cli_db_default_location_and_explicit_dir(platform, cli, tmp_path):
    home = tmp_path / "home"
    (home / ".apolo").mkdir(parents=True)
    (home / ".apolo" / "db").write_bytes((cli("alice").config_dir / "db").read_bytes())
    assert resolve_config(environ={"HOME": str(home)}).username == "alice"
    assert resolve_config(environ={"HOME": str(tmp_path)}, apolo_config_dir=cli("bob").config_dir).username == "bob"


def test_embedded_file(platform, tmp_path):
    path = tmp_path / "embedded.json"
    path.write_text(json.dumps({"url": platform.url, "token": platform.token("alice"), "cluster": "default",
                                "org": "local", "project": "alice"}))
    env = {"JUPYTER_APOLO_EMBEDDED": str(path), "HOME": str(tmp_path)}
    cfg = resolve_config(environ=env)
    assert (cfg.source, cfg.username, cfg.project) == ("embedded", "alice", "alice")
    assert _whoami(cfg)[0] == "alice"
    # default location under HOME
    default = tmp_path / ".local/share/jupyter-apolo/embedded.json"
    default.parent.mkdir(parents=True)
    default.write_text(path.read_text())
    assert resolve_config(environ={"HOME": str(tmp_path)}).source == "embedded"
    default.write_text("{not json")
    with pytest.raises(ConfigError, match="malformed"):
        resolve_config(environ={"HOME": str(tmp_path)})


def test_nothing_found_says_what_to_run(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_config(environ={"HOME": str(tmp_path)})
    msg = str(info.value)
    for command in ("apolo login", "apolo config login-with-token TOKEN URL", "jupyter apolo lab"):
        assert command in msg


def test_inside_a_job_without_passed_config_names_pass_config(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_config(environ={"HOME": str(tmp_path), "NEURO_JOB_ID": "job-0c7e2b9a"})
    msg = str(info.value)
    assert "job-0c7e2b9a" in msg and "pass_config: true" in msg and "apolo run --pass-config" in msg


def test_token_never_shown(platform):
    token = platform.token("alice")
    cfg = resolve_config(url=platform.url, token=token, environ={})
    assert token not in repr(cfg) and token not in str(cfg)
    with Apolo(cfg) as api:
        assert token not in repr(api) and token not in repr(api.config)


def test_non_jwt_token_is_a_config_error(platform):
    with pytest.raises(ConfigError, match="not a JWT"):
        resolve_config(url=platform.url, token="not-a-jwt", environ={})


def test_bad_token_is_authentication_error(platform):
    import jwt

    from jupyter_apolo.client import AuthenticationError

    forged = jwt.encode({"https://platform.neuromation.io/user": "alice", "iat": 1},
                        "wrong-secret-of-thirty-two-bytes!", algorithm="HS256")
    with pytest.raises(AuthenticationError):
        Apolo(resolve_config(url=platform.url, token=forged, environ={}))


def test_unreachable_platform(tmp_path):
    from jupyter_apolo.client import PlatformUnreachable
    from jupyter_apolo.localplatform.auth import mint
    from tests.support.net import free_port

    port = free_port()
    cfg = resolve_config(url=f"http://127.0.0.1:{port}/api/v1", token=mint(b"x" * 32, "alice"), environ={})
    with pytest.raises(PlatformUnreachable, match="Connection to the platform"):
        Apolo(cfg, retries=1)
