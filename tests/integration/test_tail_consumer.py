"""Tail consumers (docs/events.md): a worker deployed with `tail_consumer =
NS/NAME` has each of its request events delivered to that worker as part of
a batch, a `POST /` whose body is a JSON array, through the ordinary call
path. The consumer here is examples/tailstore, which keeps the batches and
shows them back on GET /. Limit violations (exceededCpu, a refused
subrequest) arrive in its batches with their outcome and violation, and in
/metrics; a consumer that does not exist never fails its producer; the
delivering requests produce no events of their own, so consumers naming
each other do not feed each other forever. None of it needs the events
ring, which stays off."""

import json
import time

import pytest

from conftest import EXAMPLES, HOSTILE, Platform, error_page, run_platform
from test_admin import metrics, value

LIMITS = EXAMPLES / "limits"
STORE = EXAMPLES / "tailstore"
PLANS = {
    "cpu10": (1, 64, 10000, 60, {"cpu_ms": 10}),
    "sub1": (1, 64, 10000, 60, {"subrequests": 1}),
    "store": (1, 64, 10000, 300),
    "wall50": (1, 64, 10000, 60, {"wall_ms": 50}),
    # touching 64 MiB of pages takes tens of ms of CPU: the memory cap,
    # not the CPU limit, must be what stops it
    "mem64": (1, 64, 10000, 60, {"memory_mb": 64, "cpu_ms": 5000}),
}
DEPLOYS = {
    "tenants/hello": (EXAMPLES / "hello", "default", []),
    "tenants/alice": (EXAMPLES / "alice", "default", []),
    "tenants/spin": (LIMITS, "cpu10", []),
    "tenants/sub": (LIMITS, "sub1", [], [],
                    {"service": ["HELLO=tenants/hello"]}),
    "tenants/tailstore": (STORE, "store", []),
    "tenants/store2": (STORE, "store", []),
    "tenants/sleepy": (LIMITS, "wall50", []),
    "tenants/hog": (HOSTILE / "hog", "mem64", []),
    "tenants/fetch": (EXAMPLES / "fetch", "default", []),
}
# worker -> its tail consumers; tailstore and store2 consume each other
TAILS = {
    "tenants/spin": ["tenants/tailstore", "tenants/nowhere"],
    "tenants/sub": ["tenants/tailstore"],
    "tenants/sleepy": ["tenants/tailstore"],
    "tenants/hog": ["tenants/tailstore"],
    "tenants/fetch": ["tenants/tailstore"],
    "tenants/tailstore": ["tenants/store2"],
    "tenants/store2": ["tenants/tailstore"],
}


@pytest.fixture(scope="module")
def p():
    plat = Platform(plans=PLANS, deploys=DEPLOYS)
    text = plat.render_config()
    for worker, consumers in TAILS.items():
        head = f"[deploy {worker}]\n"
        assert head in text
        text = text.replace(head, head + "".join(
            f"tail_consumer = {c}\n" for c in consumers))
    plat.config.write_text(text)
    yield from run_platform(plat)


def get(p, name, path, headers=None):
    status, _, body = p.get(path, host=f"{name}.example.com",
                            headers=headers)
    return status, body.decode(errors="replace")


def received(p, store="tailstore"):
    """Every event the consumer got, in order, and its batches' count."""
    status, body = get(p, store, "/")
    assert status == 200, body
    batches = json.loads(body)
    assert all(isinstance(b, list) and b for b in batches), batches
    return [e for b in batches for e in b], len(batches)


def wait_for(p, pred, store="tailstore"):
    deadline = time.monotonic() + 10
    while True:
        evs, _ = received(p, store)
        found = [e for e in evs if pred(e)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def alice_answers(p):
    assert get(p, "alice", "/") == (200, "Hello from alice!\nGET /\n")


def test_exceeded_cpu_reaches_the_consumer(p):
    url = "/spin?ms=1000&tail=cpu"
    status, body = get(p, "spin", url, headers={
        "Authorization": "Bearer s3cret", "X-Trace": "t1"})
    assert status == 503, body
    alice_answers(p)
    [e] = wait_for(p, lambda e: e["event"]["request"]["url"] == url)
    assert e["scriptName"] == "tenants/spin"
    assert e["dispatchNamespace"] == "tenants"
    assert e["outcome"] == "exceededCpu"
    assert e["event"]["response"]["status"] == 503
    assert e["event"]["request"]["method"] == "GET"
    assert e["event"]["request"]["headers"]["authorization"] == "REDACTED"
    assert e["event"]["request"]["headers"]["x-trace"] == "t1"
    assert "CPU time limit of 10 ms" in e["exceptions"][0]["message"]
    assert e["cpuTime"] >= 10
    assert "s3cret" not in json.dumps(e)


def test_refused_subrequest_reaches_the_consumer(p):
    url = "/dispatch?n=3&tail=sub"
    status, body = get(p, "sub", url)
    assert status == 200 and "succeeded 1," in body, body
    alice_answers(p)
    refused = wait_for(p, lambda e: e["outcome"] == "tooManySubrequests")
    assert refused, "no refused subrequest arrived"
    for e in refused:
        assert e["scriptName"] == "tenants/sub"
        assert e["violations"] == ["subrequests: limit of 1 reached"]
        assert e["cpuTime"] == 0
        assert e["event"]["response"]["status"] >= 400
    [own] = wait_for(p, lambda e: e["event"]["request"]["url"] == url)
    assert own["outcome"] == "ok" and own["scriptName"] == "tenants/sub"
    assert own["subrequests"] == 1


def test_exceeded_wall_time_reaches_the_consumer(p):
    url = "/sleep?ms=2000&tail=wall"
    status, body = get(p, "sleepy", url)
    assert status == 503 and "exceededWallTime" in body, body
    alice_answers(p)
    [e] = wait_for(p, lambda e: e["event"]["request"]["url"] == url)
    assert e["scriptName"] == "tenants/sleepy"
    assert e["outcome"] == "exceededWallTime"
    assert e["event"]["response"]["status"] == 503
    assert e["wallTime"] >= 50


def test_exceeded_memory_reaches_the_consumer(p):
    """The client's page hides the cap; the consumer's event has it, under
    the page's request id."""
    url = "/memory?256"
    status, resp, body = p.get(url, host="hog.example.com")
    assert status == 503, body
    rid = error_page(resp, body, 503, "exceededMemory", 1102)
    alice_answers(p)
    [e] = wait_for(p, lambda e: e["scriptName"] == "tenants/hog" and
                   e["event"]["request"]["url"] == url)
    assert e["requestId"] == rid, e
    assert e["outcome"] == "exceededMemory"
    assert e["violations"] == ["memory cap 64 MiB"]
    m = metrics(p)
    assert value(m, "switchyard_requests_total", namespace="tenants",
                 worker="hog", outcome="exceededMemory") >= 1
    assert value(m, "switchyard_violations_total", namespace="tenants",
                 worker="hog", kind="memory") >= 1


def test_denied_fetch_reaches_the_consumer(p):
    url = "/fetch?url=http://10.0.0.1:80/x"
    status, body = get(p, "fetch", url)
    assert status == 403, body
    alice_answers(p)
    [e] = wait_for(p, lambda e: e["scriptName"] == "tenants/fetch" and
                   e["event"]["request"]["url"] == url)
    # the fetch is refused, the worker answers what it chose: ok, with
    # the egress violation recorded on its request
    assert e["outcome"] == "ok"
    assert len(e["violations"]) == 1 and \
        e["violations"][0].startswith("egress: denied"), e["violations"]
    assert value(metrics(p), "switchyard_violations_total",
                 namespace="tenants", worker="fetch", kind="egress") >= 1


def test_only_named_workers_feed_it_and_never_itself(p):
    assert get(p, "hello", "/?tail=hello")[0] == 200
    [_] = wait_for(p, lambda e: e["event"]["request"]["url"] ==
                   "/spin?ms=1000&tail=cpu")
    evs, batches = received(p)
    assert batches >= 1
    names = {e["scriptName"] for e in evs}
    assert names <= {"tenants/spin", "tenants/sub", "tenants/store2",
                     "tenants/sleepy", "tenants/hog", "tenants/fetch"}, names
    # store2 got tailstore's GET / (shown above), never the POSTs that
    # delivered it batches, and so on around the cycle
    got = wait_for(p, lambda e: e["scriptName"] == "tenants/tailstore",
                   store="store2")
    assert got
    evs2, _ = received(p, "store2")
    assert all(e["event"]["request"]["method"] == "GET" for e in evs2)
    assert all(e["event"]["request"]["method"] == "GET" for e in evs
               if e["scriptName"] == "tenants/store2")


def test_metrics_count_delivered_and_dropped(p):
    get(p, "spin", "/spin?ms=1&tail=metrics")
    wait_for(p, lambda e: e["event"]["request"]["url"] ==
             "/spin?ms=1&tail=metrics")
    deadline = time.monotonic() + 10
    while True:
        m = metrics(p)
        dropped = value(m, "switchyard_tail_events_dropped_total",
                        namespace="tenants", worker="nowhere")
        if dropped >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    # tenants/nowhere is not deployed: what spin sends it is dropped,
    # while spin answers as ever
    assert dropped >= 2
    assert value(m, "switchyard_tail_events_delivered_total",
                 namespace="tenants", worker="tailstore") >= 3
    assert value(m, "switchyard_tail_events_dropped_total",
                 namespace="tenants", worker="tailstore") == 0
    assert value(m, "switchyard_requests_total", namespace="tenants",
                 worker="spin", outcome="exceededCpu") >= 1
    assert value(m, "switchyard_violations_total", namespace="tenants",
                 worker="sub", kind="subrequests") >= 2


def test_the_events_ring_stayed_off(p):
    r = p.ctl("events")
    assert r.returncode == 0 and r.stdout == "", r.stdout


def test_platform_consumer_is_fed_but_not_routed(make_platform):
    """A tail consumer in a namespace the dispatcher never routes to (here
    platform, as the demo's and the docs') gets its batches from the
    supervisor, which needs no binding to deliver them, while no client
    reaches it."""
    q = make_platform(deploys={
        "tenants/hello": (EXAMPLES / "hello", "default", [], [],
                          {"tail_consumer": ["platform/audit"]}),
        "platform/audit": (STORE, "store", [], ["TAIL=audit"])},
        plans=PLANS)
    assert q.get("/audited", host="hello.example.com")[0] == 200
    deadline = time.monotonic() + 10
    while True:
        keys = q.ctl_ok("kv", "list", "audit", "batch/").stdout.split()
        if keys or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert keys, "no batch reached platform/audit"
    batch = json.loads(q.ctl_ok("kv", "get", "audit", keys[0]).stdout)
    assert [e["scriptName"] for e in batch] == ["tenants/hello"]
    # tenants/audit is no worker: the platform's page
    status, resp, body = q.get("/", host="audit.example.com")
    error_page(resp, body, 404, "scriptNotFound")
    status, _, body = q.get("/audit/", host="127.0.0.1")
    assert status == 404, body
