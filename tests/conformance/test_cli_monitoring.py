"""The monitoring websockets with the official apolo CLI (reference §2.6): attached ``apolo run``
prints the job's output and returns its exit code, ``apolo exec`` with and without a terminal,
``apolo port-forward`` and ``apolo top`` on a running job; unsupported operations say so."""

from __future__ import annotations

import os
import re
import socket
import subprocess

import httpx
import pytest

from tests.support.platform import BIN, strip_ansi, wait_for

from .test_cli_jobs import run_detached, wait_status

SERVE = ("import argparse, http.server; a = argparse.ArgumentParser(); a.add_argument(\"--port\", type=int); "
         "http.server.ThreadingHTTPServer((\"127.0.0.1\", a.parse_args().port), "
         "http.server.SimpleHTTPRequestHandler).serve_forever()")


@pytest.fixture(scope="module")
def server_job(platform, cli):
    """alice's running job serving its sandbox over HTTP on its declared port 80."""
    job = run_detached(cli("alice"), "--http-port", "80", "--no-http-auth", "python:3", "--",
                       "python", "-c", SERVE, "--port", "80")
    wait_status(platform, job, "running")
    yield job
    platform.http("alice").delete(f"/jobs/{job}")


def test_attached_run_prints_output_and_returns_the_exit_code(cli):
    out = cli("alice")("run", "-s", "cpu-small", "python:3", "--", "python", "-u", "-c",
                       "import sys, time; print('hello from the job'); time.sleep(2); print('bye'); sys.exit(3)",
                       check=False, timeout=120)
    assert out.returncode == 3, (out.stdout, out.stderr)
    text = strip_ansi(out.stdout)
    assert "hello from the job" in text and "bye" in text
    # what came after the attach websocket opened was streamed by it (the CLI marks the switch)
    assert "Job's output, may overlap with logs" in text


def test_attached_run_of_a_quick_job(cli):
    out = cli("alice")("run", "-s", "cpu-small", "python:3", "--", "echo", "quick", check=False, timeout=120)
    assert out.returncode == 0 and "quick" in strip_ansi(out.stdout), (out.stdout, out.stderr)


def test_exec_without_tty(platform, cli, server_job):
    alice = cli("alice")
    out = alice("exec", "--no-tty", server_job, "--", "sh", "-c", "echo $NEURO_JOB_ID; echo oops >&2; exit 4",
                check=False)
    assert out.returncode == 4, (out.stdout, out.stderr)
    assert out.stdout.strip() == server_job and "oops" in out.stderr
    host = alice("exec", "--no-tty", server_job, "--", "cat", "/etc/hostname").stdout
    isolated = platform.http("alice").get("/config").json()["job_isolation"]["mode"] == "bubblewrap"
    assert host.strip() == server_job if isolated else host.strip()  # a container's hostname is its job
    if isolated and os.geteuid() == 0:  # exec enters the job's namespaces: its processes are there
        procs = alice("exec", "--no-tty", server_job, "--", "sh", "-c",
                      "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
        assert "SimpleHTTPRequestHandler" in procs, procs


def test_exec_with_a_tty_driven_through_a_pty(platform, cli, server_job):
    import pexpect

    alice = cli("alice")
    child = pexpect.spawn(str(BIN / "apolo"), ["--disable-pypi-version-check", "--skip-stats", "--color=no",
                                              "exec", "-t", server_job, "--", "bash", "--norc", "-i"],
                          env={**alice.env, "TERM": "dumb"}, encoding="utf-8", timeout=60, dimensions=(40, 120))
    try:
        child.sendline("stty size; tty; echo $((6*7))-$NEURO_JOB_OWNER")
        child.expect(r"40 120")
        # a terminal ("not a tty" otherwise); one made outside the job's /dev has no name there
        child.expect(r"/dev/pts/\d+" if os.geteuid() == 0 else r"/dev/(pts/\d+|console)")
        child.expect(r"42-alice")
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 5


def test_exec_needs_write_and_a_running_job(platform, cli, server_job):
    bob = cli("bob")
    denied = bob("exec", "--no-tty", server_job, "--", "true", check=False)
    assert denied.returncode != 0 and "permission" in denied.stderr.lower()
    done = run_detached(cli("alice"), "python:3", "--", "true")
    wait_status(platform, done, "succeeded")
    finished = cli("alice")("exec", "--no-tty", done, "--", "true", check=False)
    assert finished.returncode != 0 and "not running" in finished.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_forward_reaches_the_job(platform, cli, server_job):
    alice = cli("alice")
    local = _free_port()
    proc = subprocess.Popen([str(BIN / "apolo"), "--disable-pypi-version-check", "--skip-stats", "--color=no",
                             "port-forward", server_job, f"{local}:80"], env=alice.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def fetch():
            try:
                return httpx.get(f"http://127.0.0.1:{local}/", timeout=5)
            except httpx.TransportError:
                return None

        page = wait_for(fetch, timeout=30, interval=0.3, what="the forwarded port")
        assert page.status_code == 200 and "Directory listing" in page.text
        # several connections in a row, each its own websocket
        assert all(fetch().status_code == 200 for _ in range(3))
    finally:
        proc.terminate()
        proc.wait(10)


def test_top_shows_the_running_job(cli, server_job):
    out = cli("alice")("top", server_job, "--timeout", "4", check=False, timeout=60)
    text = strip_ansi(out.stdout)
    assert server_job in text, (out.stdout, out.stderr)
    assert re.search(r"\d+(\.\d+)?\s*(MB|KB|GB|MiB|B)", text, re.I) or "%" in text, text


def test_unsupported_monitoring_operation_names_itself(platform, server_job):
    r = platform.http("alice").post(f"{platform.monitoring_url}/{server_job}/save", json={})
    assert r.status_code == 501 and "'save' is not supported" in r.json()["error"]


def test_interactive_run_with_a_tty(cli):
    """`apolo run -t ... bash`: the job runs on a terminal, attach carries the keystrokes."""
    import pexpect

    alice = cli("alice")
    child = pexpect.spawn(str(BIN / "apolo"), ["--disable-pypi-version-check", "--skip-stats", "--color=no",
                                              "run", "-t", "-s", "cpu-small", "python:3", "--", "bash", "--norc", "-i"],
                          env={**alice.env, "TERM": "dumb"}, encoding="utf-8", timeout=90, dimensions=(30, 100))
    try:
        child.expect(r"\$ |# ")  # bash's prompt, through the job's terminal
        child.sendline("stty size; echo $((6*7))-$NEURO_JOB_OWNER")
        child.expect(r"30 100")
        child.expect(r"42-alice")
        child.sendline("exit 3")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 3
