"""Warm processes ([switchyard] warm_processes, docs/operations.md): when
the last process of a worker is stopped for idleness, a fresh one is
started to wait for its next request, for the most recently used workers
only, at most warm_processes in all; a warm process is not stopped for
idleness before it has served a request. With 0, a worker stopped for
idleness has no process until its next request."""

import time

import pytest

from conftest import EXAMPLES, Platform, run_platform

# one process each, stopped after 1 s without a request
IDLE_PLAN = {"idle": (1, 16, 10000, 1)}
WORKERS = ("alice", "bob", "echo")
HOSTS = {"alice": "alice.test", "bob": "www.bob-shop.test",
         "echo": "echo.test"}
HOSTMAP = "".join(f"{h} {w}\n" for w, h in HOSTS.items())


def _platform(warm):
    return Platform(plans=IDLE_PLAN, hostmap=HOSTMAP,
                    switchyard={"warm_processes": warm},
                    deploys={f"tenants/{w}": (EXAMPLES / w, "idle", [])
                             for w in WORKERS})


@pytest.fixture(scope="module")
def warm2():
    yield from run_platform(_platform(2))


@pytest.fixture(scope="module")
def cold():
    yield from run_platform(_platform(0))


def pids(p, worker):
    return p.workers()[f"tenants/{worker}"]["pids"]


def serve(p, worker):
    status, _, body = p.get("/", host=HOSTS[worker])
    assert status == 200, body


def wait_for(what, check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_idle_worker_gets_a_fresh_warm_process(warm2):
    serve(warm2, "alice")
    (old,) = pids(warm2, "alice")
    # stopped for idleness, and at once replaced by a fresh process
    (warm,) = wait_for("the idle process's replacement",
                       lambda: [q for q in pids(warm2, "alice")
                                if q != old] or None)
    assert warm != old
    # which is not stopped for idleness while it waits
    time.sleep(2.5)
    assert pids(warm2, "alice") == [warm]
    # and serves the next request (one process per worker: no other)
    serve(warm2, "alice")
    assert pids(warm2, "alice") == [warm]
    # then it is an ordinary process again: stopped when idle, replaced
    wait_for("its replacement in turn",
             lambda: [q for q in pids(warm2, "alice") if q != warm] or None)


def test_only_the_most_recently_used_keep_one(warm2):
    for w in WORKERS:        # alice is the least recently used
        serve(warm2, w)
        time.sleep(0.3)
    time.sleep(3.0)          # all stopped for idleness by now
    live = {w: pids(warm2, w) for w in WORKERS}
    assert live["alice"] == [], live
    assert len(live["bob"]) == 1 and len(live["echo"]) == 1, live


def test_without_warm_processes_an_idle_worker_has_none(cold):
    serve(cold, "alice")
    wait_for("the idle stop", lambda: pids(cold, "alice") == [])
    time.sleep(1.5)
    assert pids(cold, "alice") == []
    serve(cold, "alice")
    assert len(pids(cold, "alice")) == 1
