"""The dispatch worker decides many requests per wake-up (plan
`concurrency`, docs/dispatch.md "Concurrency"), tenants keep one request
per process; and a client that goes away does not cost a worker its
process (docs/limits.md, "Canceled requests")."""

import asyncio
import json
import re
import resource
import socket
import time
import urllib.request

import pytest

from conftest import EXAMPLES, platform_fixture

TENANTS = [f"t{i}" for i in range(10)]
PLANS = {
    "tenant": (1, 512, 30000, 60),
    "sleeper": (1, 8, 10000, 60, {"wall_ms": 30000}),
    "dispatch": (2, 1024, 30000, 60, {"cpu_ms": 2000, "concurrency": 16}),
}
DEPLOYS = dict(
    {f"tenants/{t}": (EXAMPLES / "envecho", "tenant", [f"WHO={t}"])
     for t in TENANTS},
    **{"tenants/sleeper": (EXAMPLES / "limits", "sleeper", [])})
ROUTER = {"max_connections": 4096}

p = platform_fixture(plans=PLANS, deploys=DEPLOYS, router=ROUTER,
                     dispatcher_plan="dispatch")


def pools(p):
    with urllib.request.urlopen(
            f"http://127.0.0.1:{p.admin_port}/status?json", timeout=10) as r:
        data = json.load(r)
    return {f"{x['namespace']}/{x['worker']}": x for x in data["pools"]}


async def one(port, tenant):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(f"GET /?WHO HTTP/1.1\r\nHost: {tenant}.example.com\r\n"
                f"Connection: close\r\n\r\n".encode())
        await w.drain()
        data = await asyncio.wait_for(r.read(), 120)
    finally:
        w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return tenant, head.split(b" ", 2)[1], body


async def many(port, n):
    return await asyncio.gather(*(one(port, TENANTS[i % len(TENANTS)])
                                  for i in range(n)))


def test_a_thousand_concurrent_requests_each_reach_their_tenant(p):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    got = asyncio.run(many(p.port, 1000))
    wrong = [(t, st, body[:60]) for t, st, body in got
             if st != b"200" or body != f"{t}\n".encode()]
    assert wrong == [], f"{len(wrong)} of 1000 wrong, e.g. {wrong[:5]}"
    st = pools(p)
    d = st["platform/dispatcher"]
    # its processes were sent several requests at once, and decided them
    assert 1 < d["max_held"] <= 16, d
    assert d["requests"] >= 1000, d
    # a tenant's process never holds more than one
    for t in TENANTS:
        assert st[f"tenants/{t}"]["max_held"] == 1, st[f"tenants/{t}"]
    assert sum(st[f"tenants/{t}"]["requests"] for t in TENANTS) >= 1000


def pid_of(p, name):
    [pid] = p.workers()[name]["pids"]
    return pid


def hang_up_after(p, path, seconds):
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: sleeper.example.com\r\n\r\n"
              .encode())
    time.sleep(seconds)
    s.close()


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def cancel_one(p, path, counter):
    """Hangs up on path half a second in, once the sleeper's process is
    up; waits for counter to count it. Returns the process's pid and the
    counters from before."""
    assert p.get("/sleep?ms=1", host="sleeper.example.com")[0] == 200
    pid = pid_of(p, "tenants/sleeper")
    before = pools(p)["tenants/sleeper"]
    hang_up_after(p, path, 0.5)
    wait_for(lambda: pools(p)["tenants/sleeper"][counter] ==
             before[counter] + 1)
    return pid, before


def test_a_canceled_request_leaves_its_process_alive(p):
    pid, before = cancel_one(p, "/sleep?ms=8000", "cancels_kept")
    # the worker saw the cancel (ws_req_canceled) and stopped early
    assert re.search(r"worker tenants/sleeper\[\d+\]: info: canceled after",
                     p.log_text()), p.log_tail()
    after = pools(p)["tenants/sleeper"]
    assert after["cancels_killed"] == before["cancels_killed"]
    st, _, body = p.get("/sleep?ms=1", host="sleeper.example.com")
    assert st == 200 and body == b"slept 1 ms\n"
    assert pid_of(p, "tenants/sleeper") == pid


def test_a_worker_running_past_the_grace_is_killed(p):
    pid, before = cancel_one(p, "/sleep?ms=8000&stubborn=1",
                             "cancels_killed")
    assert re.search(rf"worker tenants/sleeper\[{pid}\]: still running "
                     r"1000 ms after its request was canceled; killed",
                     p.log_text()), p.log_tail()
    assert pools(p)["tenants/sleeper"]["cancels_kept"] == \
        before["cancels_kept"]
    st, _, _ = p.get("/sleep?ms=1", host="sleeper.example.com")
    assert st == 200
    assert pid_of(p, "tenants/sleeper") != pid


def test_metrics_show_cancels_and_requests_held(p):
    with urllib.request.urlopen(
            f"http://127.0.0.1:{p.admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert re.search(r'^switchyard_cancels_total\{namespace="tenants",'
                     r'worker="sleeper",result="kept"\} [1-9]', text, re.M)
    assert re.search(r'^switchyard_process_requests_max\{namespace='
                     r'"platform",worker="dispatcher"\} ([2-9]|1[0-6])$',
                     text, re.M), text[:2000]
