"""The decision cache (docs/dispatch.md, "Decision cache"), through the real
processes: the example dispatcher with DECISION_CACHE_S lets the
supervisor reuse its forward for the same Host (and credential), so the
next such request reaches the tenant without waking the dispatcher; a KV
write to its routes, a deploy or rollback of it, or the decision's ttl
make the next request ask it again."""

import http.client
import json
import re
import time

import pytest

from conftest import (EXAMPLES, HTTP_TIMEOUT, ROUTES_NS, events_of,
                      platform_fixture, request_id)

DISPATCHER = "platform/dispatcher"
CUSTOMER = "cus_42"
ROUTES = {
    "host:cached.test": {"worker": "echo"},
    "host:move.test": {"worker": "alice"},
    "host:api.test": {"worker": "echo", "customer_id": CUSTOMER,
                      "auth": "bearer"},
    "token:tok-a": {"customer_id": CUSTOMER},
    "token:tok-b": {"customer_id": CUSTOMER},
    "token:tok-x": {"customer_id": "cus_7"},
}
DISPATCHER_DEPLOY = ["--kv", f"ROUTES={ROUTES_NS}:ro",
                     "--dispatch-namespace", "tenants"]

p = platform_fixture(routes=ROUTES, dispatcher_env=["DECISION_CACHE_S=60"])


@pytest.fixture(autouse=True, scope="module")
def ring(p):
    p.ctl_ok("events", "--ring", "on")


# ---- what the admin listener and the events say ----

SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", re.M)


def metrics(q):
    """The decision cache's three numbers and the requests the dispatcher
    answered (every outcome), from /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", q.admin_port,
                                   timeout=HTTP_TIMEOUT)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode()
        assert r.status == 200, text
    finally:
        c.close()
    got = {"dispatcher": 0}
    for name, labels, value in SAMPLE.findall(text):
        if name.startswith("switchyard_decision_cache_"):
            assert not labels, labels
            got[name[len("switchyard_decision_cache_"):]] = int(value)
        elif name == "switchyard_requests_total" and \
                'namespace="platform",worker="dispatcher"' in labels:
            got["dispatcher"] += int(float(value))
    assert {"hits_total", "misses_total", "entries"} <= set(got), text
    return got


def delta(before, after):
    return {k: after[k] - before[k] for k in ("hits_total", "misses_total",
                                              "dispatcher")}


def get(q, host, path="/headers", headers=None):
    status, resp, body = q.get(path, host=host, headers=headers)
    return status, resp, body.decode(errors="replace")


def served(q, host, path="/headers", headers=None, want=200):
    """One request: its status must be `want`; (resp, body, the request's
    events {scriptName: event}, the metrics' change)."""
    before = metrics(q)
    status, resp, body = get(q, host, path, headers)
    assert status == want, (status, body)
    # both events are made before the answer leaves the supervisor (the
    # dispatcher's, if it ran, first): what is there now is all there is
    evs = events_of(q, request_id(resp), want=1)
    return resp, body, evs, delta(before, metrics(q))


def asked(evs, d, target):
    """The request went to the dispatcher, which forwarded it."""
    assert evs[DISPATCHER]["forward"] == {"to": target}, evs
    assert evs[target]["forward"] == {"from": DISPATCHER}, evs[target]
    assert d == {"hits_total": 0, "misses_total": 1, "dispatcher": 1}, d


def reused(evs, d, target):
    """The request was forwarded by a kept decision: the dispatcher did
    not run, and the target's event says so."""
    assert DISPATCHER not in evs, evs
    assert evs[target]["forward"] == {"from": DISPATCHER, "cached": True}, \
        evs[target]
    assert evs[target]["outcome"] == "ok", evs[target]
    assert d == {"hits_total": 1, "misses_total": 0, "dispatcher": 0}, d


def lines(body):
    return dict(line.split(": ", 1) for line in body.splitlines()
                if ": " in line)


# ---- reuse ----

def test_the_next_request_is_served_without_the_dispatcher(p):
    resp, first, evs, d = served(p, "cached.test")
    asked(evs, d, "tenants/echo")
    resp, second, evs, d = served(p, "cached.test")
    reused(evs, d, "tenants/echo")
    # the decision's edits, request and response, apply as they did
    assert resp.getheader("X-Dispatched-To") == "tenants/echo"
    assert resp.getheader("Server") == "switchyard"
    assert lines(second) == lines(first), (first, second)
    # another path of the same host: the decision is the host's
    _, body, evs, d = served(p, "cached.test", "/context")
    reused(evs, d, "tenants/echo")
    assert lines(body) == {"route": "kv", "host": "cached.test",
                           "plan": "free", "auth": "none"}, body
    assert metrics(p)["entries"] >= 1


def test_a_kv_write_is_obeyed_by_the_very_next_request(p):
    def route(worker):
        p.ctl_ok("kv", "put", ROUTES_NS, "host:move.test",
                 json.dumps({"worker": worker}))

    def twice(target, text):
        """Asked, then reused, both times to target."""
        for check in (asked, reused):
            resp, body, evs, d = served(p, "move.test", "/")
            check(evs, d, f"tenants/{target}")
            assert text in body and \
                resp.getheader("X-Dispatched-To") == f"tenants/{target}"

    route("alice")
    twice("alice", "Hello from alice!")
    route("bob")
    twice("bob", "Hello from bob!")
    # any write to the namespace, to another key too, or a delete: the
    # dispatcher may have read anything in it
    p.ctl_ok("kv", "put", ROUTES_NS, "host:other.test", '{"worker":"bob"}')
    twice("bob", "Hello from bob!")
    p.ctl_ok("kv", "delete", ROUTES_NS, "host:other.test")
    twice("bob", "Hello from bob!")
    p.load_routes({"host:move.test": {"worker": "alice"}})  # kv import
    twice("alice", "Hello from alice!")
    p.ctl_ok("kv", "delete", ROUTES_NS, "host:move.test")
    status, _, body = get(p, "move.test", "/")
    assert status == 404 and body.startswith("Worker not found"), body
    # a namespace the dispatcher binds cannot be dropped from under it
    assert p.ctl("kv", "drop", ROUTES_NS).returncode == 5


def test_a_deploy_or_rollback_of_the_dispatcher_drops_its_decisions(p):
    served(p, "cached.test")
    reused(*served(p, "cached.test")[2:], "tenants/echo")
    version = p.workers()[DISPATCHER]["version"]
    p.ctl_ok("deploy", DISPATCHER, EXAMPLES / "dispatcher",
             "--env", "DECISION_CACHE_S=60", *DISPATCHER_DEPLOY)
    assert p.workers()[DISPATCHER]["version"] == version + 1
    assert metrics(p)["entries"] == 0
    _, _, evs, d = served(p, "cached.test")
    asked(evs, d, "tenants/echo")
    assert evs[DISPATCHER]["scriptVersion"] == version + 1
    reused(*served(p, "cached.test")[2:], "tenants/echo")
    p.ctl_ok("rollback", DISPATCHER, str(version))
    assert metrics(p)["entries"] == 0
    _, _, evs, d = served(p, "cached.test")
    asked(evs, d, "tenants/echo")
    assert evs[DISPATCHER]["scriptVersion"] == version
    reused(*served(p, "cached.test")[2:], "tenants/echo")


def test_a_stopped_dispatcher_is_not_served_around(p):
    """`yardctl stop` of the dispatcher refuses the requests it would have
    been given, kept decisions or not; once started, they serve again
    (its version did not change)."""
    served(p, "cached.test")
    reused(*served(p, "cached.test")[2:], "tenants/echo")
    p.ctl_ok("stop", DISPATCHER)
    try:
        before = metrics(p)
        status, _, body = get(p, "cached.test")
        assert status == 503 and "loadShed" in body, (status, body)
        assert metrics(p)["hits_total"] == before["hits_total"]
    finally:
        p.ctl_ok("start", DISPATCHER)
    reused(*served(p, "cached.test")[2:], "tenants/echo")


def bearer(token, name="Authorization"):
    return {name: f"Bearer {token}"}


def test_each_credential_has_its_own_decision(p):
    """The dispatcher varies a bearer route's decision on Authorization:
    another token is asked about, and a wrong one is refused every time,
    never served from a good one's decision."""
    _, _, evs, d = served(p, "api.test", headers=bearer("tok-a"))
    asked(evs, d, "tenants/echo")
    _, body, evs, d = served(p, "api.test", headers=bearer("tok-a"))
    reused(evs, d, "tenants/echo")
    assert "authorization" not in body.lower(), body  # the edit applies
    # the header's name has no case; its value is the key
    reused(*served(p, "api.test", headers=bearer("tok-a", "AUTHORIZATION"))
           [2:], "tenants/echo")
    asked(*served(p, "api.test", headers=bearer("tok-b"))[2:],
          "tenants/echo")
    reused(*served(p, "api.test", headers=bearer("tok-b"))[2:],
           "tenants/echo")
    for _ in range(2):
        for headers, status in ((bearer("tok-x"), 403),
                                (bearer("tok-nope"), 403),
                                ({"Authorization": "Bearer"}, 401),
                                (None, 401)):
            _, body, evs, d = served(p, "api.test", headers=headers,
                                     want=status)
            assert list(evs) == [DISPATCHER], evs
            assert d == {"hits_total": 0, "misses_total": 1,
                         "dispatcher": 1}, d
    # revoking a token is a KV write: obeyed at once
    p.ctl_ok("kv", "delete", ROUTES_NS, "token:tok-a")
    assert get(p, "api.test", headers=bearer("tok-a"))[0] == 403
    p.ctl_ok("kv", "put", ROUTES_NS, "token:tok-a",
             json.dumps({"customer_id": CUSTOMER}))


def test_no_client_address_in_headers_but_the_tenant_still_has_it(p):
    """A reused decision must not carry one client's address to another:
    the dispatcher sets no X-Real-IP or X-Forwarded-For on a route it lets
    the platform cache, and the tenant reads the address of its own
    request's client from ws_req_remote_addr."""
    remotes = []
    for reuse in (False, True):
        _, body, evs, d = served(p, "cached.test", "/remote")
        if reuse:
            reused(evs, d, "tenants/echo")
        remotes.append(body.strip())
        seen = {k.lower() for k in lines(get(p, "cached.test")[2])}
        assert not seen & {"x-real-ip", "x-forwarded-for"}, seen
    for r in remotes:
        assert re.fullmatch(r"remote: 127\.0\.0\.1:\d+", r), remotes
    # two connections, two ports: each request its own client's
    assert remotes[0] != remotes[1], remotes


# ---- ttl, and a dispatcher that never asks for it ----

def test_a_decision_expires_after_its_ttl(make_platform):
    q = make_platform(routes=ROUTES, dispatcher_env=["DECISION_CACHE_S=1"])
    q.ctl_ok("events", "--ring", "on")
    asked(*served(q, "cached.test")[2:], "tenants/echo")
    reused(*served(q, "cached.test")[2:], "tenants/echo")
    time.sleep(1.2)
    asked(*served(q, "cached.test")[2:], "tenants/echo")
    reused(*served(q, "cached.test")[2:], "tenants/echo")


def test_a_dispatcher_without_it_is_asked_every_time(make_platform):
    q = make_platform(routes=ROUTES)
    q.ctl_ok("events", "--ring", "on")
    for _ in range(4):
        asked(*served(q, "cached.test")[2:], "tenants/echo")
    m = metrics(q)
    assert (m["hits_total"], m["entries"]) == (0, 0), m
    assert m["misses_total"] >= 4, m
    # without the cache the tenant gets the client's address in headers
    seen = lines(get(q, "cached.test")[2])
    assert seen.get("X-Real-IP") == "127.0.0.1", seen
