"""%apolo in the kernels the server starts, through their kernel spec's env: a real kernel started by
the server has the magics registered, while the server's own environment (inherited by terminals and
every other child) is left untouched."""

from __future__ import annotations

import os

from jupyter_apolo.kernel import STARTUP_FILE, SWITCH


async def test_kernels_get_magics_from_their_spec_not_from_the_servers_environment(jp_serverapp, fetch):
    assert (await fetch("GET", "apolo/version")).code == 200  # the extension is loaded
    assert os.environ.get("PYTHONSTARTUP") != str(STARTUP_FILE) and SWITCH not in os.environ
    spec = jp_serverapp.kernel_spec_manager.get_kernel_spec("python3")
    assert spec.env["PYTHONSTARTUP"] == str(STARTUP_FILE) and spec.env[SWITCH] == "1"

    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    client = km.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        out: list[str] = []

        def collect(msg) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        code = ("import os; "
                "print(os.environ.get('JUPYTER_APOLO_MAGICS'), 'apolo' in get_ipython().magics_manager.magics['line'])")
        reply = await client.execute_interactive(code, output_hook=collect, timeout=60)
        assert reply["content"]["status"] == "ok"
        assert "".join(out).split() == ["1", "True"]
    finally:
        client.stop_channels()
        await km.shutdown_kernel(kernel_id, now=True)
    # still nothing in the server's environment after a kernel ran
    assert os.environ.get("PYTHONSTARTUP") != str(STARTUP_FILE) and SWITCH not in os.environ
