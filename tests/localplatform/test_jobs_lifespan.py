"""``max_run_time_minutes`` is enforced (reason ``LifeSpanEnded``) and can be extended.

This module runs its own platform with a 3-second "minute"
(``JUPYTER_APOLO_PLATFORM_SECONDS_PER_MINUTE``) so life spans end within the test.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.support.platform import LocalPlatform, wait_for

SECONDS_PER_MINUTE = 3.0


@pytest.fixture(scope="module")
def fast_platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("lifespan") / "root"
    root.mkdir()
    before = os.environ.get("JUPYTER_APOLO_PLATFORM_SECONDS_PER_MINUTE")
    os.environ["JUPYTER_APOLO_PLATFORM_SECONDS_PER_MINUTE"] = str(SECONDS_PER_MINUTE)
    try:
        lp = LocalPlatform(root).start()
    finally:
        if before is None:
            os.environ.pop("JUPYTER_APOLO_PLATFORM_SECONDS_PER_MINUTE")
        else:
            os.environ["JUPYTER_APOLO_PLATFORM_SECONDS_PER_MINUTE"] = before
    yield lp
    lp.stop()


def _run(client, minutes: int) -> str:
    resp = client.post("/jobs?from_preset", json={"preset_name": "cpu-small", "image": "x", "command": "sleep 120",
                                                  "max_run_time_minutes": minutes})
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def _finished(client, job_id: str, timeout: float) -> dict:
    finished = ("succeeded", "failed", "cancelled")
    return wait_for(lambda: (j := client.get(f"/jobs/{job_id}").json())["status"] in finished and j,
                    timeout, what=f"{job_id} to finish")


def test_life_span_ends_the_job(fast_platform):
    alice = fast_platform.http("alice")
    job = _finished(alice, _run(alice, 1), 15)
    assert job["status"] == "cancelled" and job["history"]["reason"] == "LifeSpanEnded"
    assert SECONDS_PER_MINUTE - 1 <= job["history"]["run_time_seconds"] <= SECONDS_PER_MINUTE + 5


def test_bumped_life_span_lasts_longer(fast_platform):
    alice = fast_platform.http("alice")
    job_id = _run(alice, 1)
    resp = alice.put(f"/jobs/{job_id}/max_run_time_minutes", json={"additional_max_run_time_minutes": 2})
    assert resp.status_code == 204
    time.sleep(SECONDS_PER_MINUTE + 1.5)
    assert alice.get(f"/jobs/{job_id}").json()["status"] == "running"
    job = _finished(alice, job_id, 20)
    assert job["history"]["reason"] == "LifeSpanEnded"
    assert job["history"]["run_time_seconds"] >= 3 * SECONDS_PER_MINUTE - 1
