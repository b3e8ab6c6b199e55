"""Forwarding (docs/dispatch.md, "Forwarding"), through the real processes:
the example dispatcher decides and hands each request on with ws_forward;
the supervisor sends it to the tenant with the dispatcher's edits, lowered
limits and context, applies the response edits to the tenant's answer,
and never passes either body through the dispatcher."""

import re

import pytest

from conftest import (EXAMPLES, ROUTES_NS, error_page, events_of,
                      platform_fixture, request_id, request_log)

LIMITS = EXAMPLES / "limits"
PLANS = {
    "roomy": (1, 64, 10000, 60, {"cpu_ms": 1000}),
    "cpu5": (1, 64, 10000, 60, {"cpu_ms": 5}),
    # the dispatcher's memory cap is smaller than the bodies below
    "bigecho": (2, 64, 10000, 60, {"cpu_ms": 2000, "memory_mb": 512}),
    "dispmem": (2, 256, 10000, 60, {"cpu_ms": 2000, "memory_mb": 64}),
}
DEPLOYS = {
    "tenants/echo": (EXAMPLES / "echo", "bigecho", []),
    "tenants/spin": (LIMITS, "roomy", []),
    "tenants/spin5": (LIMITS, "cpu5", []),
}
ROUTES = {
    "edits.test": '{"worker":"echo","plan":"pro","customer_id":"cus_7",'
                  '"strip_headers":["x-debug"],'
                  '"cache_control":"public, max-age=60"}',
    "free.test": '{"worker":"spin","plan":"free"}',
    "tight.test": '{"worker":"spin5","plan":"pro"}',
    "ent.test": '{"worker":"spin","plan":"enterprise"}',
    "ghost.test": '{"worker":"nobody"}',
    # the tenant's own plan (echo: 2 s of CPU) for the big bodies
    "big.test": '{"worker":"echo","plan":"enterprise"}',
}
BIG = 80 << 20
ROUTER = {"max_body_bytes": "128m"}

p = platform_fixture(plans=PLANS, deploys=DEPLOYS, router=ROUTER,
                     dispatcher_plan="dispmem")


@pytest.fixture(autouse=True, scope="module")
def routes(p):
    p.ctl_ok("events", "--ring", "on")
    for host, meta in ROUTES.items():
        p.ctl_ok("kv", "put", ROUTES_NS, f"host:{host}", meta)


def lines(body):
    return dict(line.split(": ", 1)
                for line in body.decode().splitlines() if ": " in line)


def test_forwarded_request_carries_the_edits_and_the_context(p):
    st, resp, body = p.get("/headers", host="edits.test", headers={
        "X-Debug": "1", "X-Customer-Id": "cus_evil", "X-Plan": "enterprise"})
    assert st == 200 and resp.getheader("X-Worker") == "echo", body
    seen = {k.lower(): v for k, v in lines(body).items()}
    for gone in ("x-debug", "x-customer-id", "x-plan"):
        assert gone not in seen, seen
    assert seen["x-real-ip"] == "127.0.0.1", seen
    st, _, body = p.get("/context", host="edits.test",
                        headers={"X-Customer-Id": "cus_evil"})
    assert st == 200
    assert lines(body) == {"route": "kv", "host": "edits.test",
                           "customer_id": "cus_7", "plan": "pro",
                           "auth": "none"}, body


def test_forwarded_url_is_the_rewritten_one(p):
    """The path rule forwards /echo/headers?x=1 as /headers?x=1: the
    tenant sees the URL the dispatcher set, and so do the events."""
    st, resp, body = p.get("/echo/headers?x=1", host="127.0.0.1")
    assert st == 200 and b"host: 127.0.0.1" in body.lower(), body
    evs = events_of(p, request_id(resp))
    assert evs["platform/dispatcher"]["forward"] == {"to": "tenants/echo"}
    t = evs["tenants/echo"]
    assert t["forward"] == {"from": "platform/dispatcher"}, t
    assert t["event"]["request"]["url"] == "/headers?x=1", t
    assert evs["platform/dispatcher"]["event"]["request"]["url"] == \
        "/echo/headers?x=1"


@pytest.mark.parametrize("query,status,cache", [
    ("X-Powered-By=php", 200, "public, max-age=60"),
    ("Cache-Control=no-store&X-Powered-By=php", 200, "no-store"),
    ("status=404&X-Powered-By=php", 404, None),
    ("status=302&Location=/x", 302, "public, max-age=60"),
])
def test_response_edits_apply_to_the_tenants_answer(p, query, status, cache):
    st, resp, body = p.get(f"/answer?{query}", host="edits.test")
    assert st == status and body == b"answered\n", body
    assert resp.getheader("X-Powered-By") is None, resp.getheaders()
    assert resp.getheader("Server") == "switchyard"
    assert resp.getheader("X-Dispatched-To") == "tenants/echo"
    # set once, not added to the tenant's; a default only below 400
    got = [v for k, v in resp.getheaders() if k.lower() == "cache-control"]
    assert got == ([cache] if cache else []), resp.getheaders()


def remaining(p, host):
    st, _, body = p.get("/remaining", host=host)
    assert st == 200, body
    m = re.match(rb"rc=0 cpu_ms=(\d+) wall_ms=(\d+) subrequests=(\d+)",
                 body)
    assert m, body
    return [int(x) for x in m.groups()]


def test_a_forward_lowers_limits_and_never_raises_them(p):
    # free (10 ms) under the tenant's 1000 ms: lowered
    cpu, wall, subs = remaining(p, "free.test")
    assert 0 < cpu <= 10 and wall <= 10000 and subs == 5
    # pro (50 ms) over the tenant's 5 ms: the tenant's plan stands
    cpu, _, _ = remaining(p, "tight.test")
    assert 0 < cpu <= 5
    # enterprise asks for nothing: the tenant's own 1000 ms
    cpu, _, _ = remaining(p, "ent.test")
    assert 10 < cpu <= 1000
    # and the supervisor enforces what it said
    st, resp, body = p.get("/spin?ms=300", host="free.test")
    rid = error_page(resp, body, 503, "exceededCpu", 1102)
    assert re.search(rf"request {rid}: worker tenants/spin: exceededCpu "
                     rf"\(503\): CPU time limit of 10 ms", p.log_text()), \
        p.log_tail()


def test_a_route_to_a_missing_worker_is_the_platforms_404(p):
    st, resp, body = p.get("/", host="ghost.test")
    rid = error_page(resp, body, 404, "scriptNotFound")
    # the platform's page names no worker, the missing one least of all
    assert resp.getheader("X-Dispatched-To") is None, resp.getheaders()
    evs = events_of(p, rid)
    assert evs["platform/dispatcher"]["outcome"] == "ok"
    assert evs["platform/dispatcher"]["forward"] == {"to": "tenants/nobody"}
    assert evs["tenants/nobody"]["outcome"] == "scriptNotFound"


def post_big(p):
    return p.request("POST", "/", host="big.test", body=b"x" * BIG,
                     headers={"Content-Type": "application/octet-stream"},
                     timeout=120)


def test_bodies_do_not_pass_through_the_dispatcher(p):
    """80 MiB each way through a dispatcher capped at 64 MiB: it never
    holds them (the relaying control below shows that it would fail)."""
    assert p.get("/context", host="big.test")[0] == 200
    before = set(p.workers()["platform/dispatcher"]["pids"])
    st, resp, body = post_big(p)
    assert st == 200, body[:200]
    assert resp.getheader("X-Body-Length") == str(BIG)
    assert len(body) == BIG and body == b"x" * BIG
    # no dispatcher process was lost on the way
    assert before <= set(p.workers()["platform/dispatcher"]["pids"])


def test_relaying_the_same_body_would_not_fit(make_platform):
    """The control for the test above: the same dispatcher relaying with
    ws_dispatch must hold the body, and its memory cap stops it."""
    q = make_platform(plans=PLANS, deploys=DEPLOYS, router=ROUTER,
                      dispatcher_plan="dispmem",
                      dispatcher_env=["DISPATCH_MODE=relay"])
    q.ctl_ok("kv", "put", ROUTES_NS, "host:big.test", ROUTES["big.test"])
    st, resp, body = post_big(q)
    assert st in (500, 503), (st, body[:200])
    line = request_log(q, request_id(resp))
    assert line.startswith("worker platform/dispatcher: "), line
