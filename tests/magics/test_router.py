"""The %apolo router: help, argument errors as UsageError, one-line platform errors, settings
through %config and credentials from the environment — in a real InteractiveShell."""

from __future__ import annotations

import base64
import json

import pytest
from IPython.core.error import UsageError

from jupyter_apolo.client import ApoloError
from jupyter_apolo.magics.core import subcommands
from tests.magics.conftest import magics_of


def test_no_arguments_lists_every_subcommand(shell, capsys):
    assert shell("") is None
    out = capsys.readouterr().out
    for name in ("ps", "status", "logs", "kill", "share", "revoke", "acl", "ls", "cp", "mkdir", "rm", "mv", "whoami"):
        assert f"  {name} " in out


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_has_help(shell, capsys, name):
    assert shell(f"{name} --help") is None
    out = capsys.readouterr().out
    assert f"usage: %apolo {name}" in out


@pytest.mark.parametrize("line, needle", [
    ("frobnicate", "unknown subcommand 'frobnicate'"),
    ("ps --bogus", "unrecognized arguments: --bogus"),
    ("ps -s sleeping", "invalid choice: 'sleeping'"),
    ("share storage:x bob admin", "invalid action 'admin'"),
    ("share bob read", "give the resource URI"),
    ("share", "the following arguments are required"),
    ("mkdir", "the following arguments are required"),
    ("ls 'storage:unclosed", "check the quotes"),
    ("ls storage:a#b", "Fragment part is not allowed"),
    ("share foo:x bob read", "Invalid scheme 'foo:'"),
    ("mv storage:a", "the following arguments are required: DST"),
])
def test_argument_errors_are_usage_errors(shell, line, needle):
    with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        shell(line)


def test_usage_error_in_a_cell_has_no_traceback(shell, capsys):
    result = shell.cell("%apolo ps --bogus")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "unrecognized arguments: --bogus" in captured.out + captured.err


def test_platform_error_prints_one_line(shell, capsys):
    result = shell.cell("r = %apolo share storage:x nobody read")
    assert result.success  # no exception reached the cell
    err = capsys.readouterr().err
    assert err.strip() == '%apolo share: user "nobody" was not found'
    assert shell.ip.user_ns["r"] is None


def test_raise_errors_setting(shell):
    shell.ip.run_line_magic("config", "ApoloMagics.raise_errors = True")
    with pytest.raises(ApoloError, match='user "nobody" was not found'):
        shell("share storage:x nobody read")


def test_whoami_with_credentials_from_config(shell):
    me = shell("whoami")
    assert (me.username, me.cluster, me.org, me.project, me.source) == (
        "alice", "default", "local", "alice", "explicit")
    assert "alice" in repr(me) and "<table" in me._repr_html_()


def test_project_override_through_config(shell, platform):
    platform.add_project_user("teamproj", "alice", "writer")
    shell.ip.run_line_magic("config", "ApoloMagics.project = 'teamproj'")
    assert shell("whoami").project == "teamproj"
    shell("mkdir -p storage:shared-notes")
    shell.ip.run_line_magic("config", "ApoloMagics.project = ''")
    assert "shared-notes" in shell("ls storage:/teamproj").names


def test_credentials_from_passed_config_env(shell, platform, monkeypatch):
    blob = json.dumps({"token": platform.token("bob"), "cluster": "default", "url": platform.url,
                       "org_name": "local", "project_name": "bob"})
    monkeypatch.setenv("APOLO_PASSED_CONFIG", base64.b64encode(blob.encode()).decode())
    shell.ip.run_line_magic("config", "ApoloMagics.token = ''")
    shell.ip.run_line_magic("config", "ApoloMagics.url = ''")
    me = shell("whoami")
    assert (me.username, me.project, me.source) == ("bob", "bob", "passed-config")


def test_no_credentials_says_what_to_run(shell, monkeypatch, tmp_path, capsys):
    for var in ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("APOLO_CONFIG", str(tmp_path / "no-apolo"))
    monkeypatch.setenv("JUPYTER_APOLO_EMBEDDED", str(tmp_path / "no-embedded.json"))
    shell.ip.run_line_magic("config", "ApoloMagics.token = ''")
    shell.ip.run_line_magic("config", "ApoloMagics.url = ''")
    assert shell("ps") is None
    err = capsys.readouterr().err.strip()
    assert err.startswith("%apolo ps: No Apolo credentials found") and "apolo login" in err
    assert len(err.splitlines()) == 1


def test_config_listing_never_shows_the_token(shell, platform, capsys):
    shell.ip.run_line_magic("config", "ApoloMagics")
    out = capsys.readouterr().out
    assert "ApoloMagics.ps_columns" in out
    assert platform.token("alice") not in out


def test_cell_magic_runs_one_command_per_line(shell):
    files = shell.cell("%%apolo\n# make and list\nmkdir -p storage:cellmagic/a\nls storage:cellmagic\n").result
    assert files.names == ["a"]


def test_ps_columns_setting(shell, capsys):
    shell.ip.run_line_magic("config", "ApoloMagics.ps_columns = ['id', 'status']")
    assert [h for h, _ in shell("ps -a").columns] == ["ID", "STATUS"]
    magics_of(shell.ip).ps_columns = ["id", "nope"]
    assert shell("ps") is None
    assert "unknown ps column(s) nope" in capsys.readouterr().err


def test_unknown_ps_column_is_named(shell, capsys):
    shell("ps --columns id,bogus")
    assert "unknown ps column(s) bogus" in capsys.readouterr().err
