"""Request events (docs/events.md), through the real processes: one event
per request per worker (the dispatcher and the tenant), shaped like
Cloudflare's tail events, shown by `yardctl events` as JSON lines or one-line
summaries, filtered by worker and outcome, and followed with -f."""

import json
import os
import select
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, EXAMPLES, error_page, platform_fixture, request_id

LIMITS = EXAMPLES / "limits"
PLANS = {"cpu10": (1, 64, 10000, 60, {"cpu_ms": 10}),
         "noqueue": (1, 0, 10000, 60),
         "queue": (1, 8, 10000, 60)}
DEPLOYS = {
    "tenants/alice": (EXAMPLES / "alice", "default", []),
    "tenants/crash": (EXAMPLES / "crash", "single", []),
    "tenants/spin10": (LIMITS, "cpu10", []),
    "tenants/shed": (LIMITS, "noqueue", []),
    "tenants/queued": (LIMITS, "queue", []),
}

p = platform_fixture(plans=PLANS, deploys=DEPLOYS)


@pytest.fixture(autouse=True, scope="module")
def ring_on(p):
    """Events are kept only while the ring is on: it starts off."""
    r = p.ctl("events")
    assert r.returncode == 0 and r.stdout == "" and "--ring on" in r.stderr
    p.ctl_ok("events", "--ring", "on")


def get(p, name, path="/", headers=None):
    status, _, _ = p.get(path, host=f"{name}.example.com", headers=headers)
    return status


def events(p, *args):
    r = p.ctl_ok("events", "--json", *args)
    return [json.loads(line) for line in r.stdout.splitlines()]


def by_url(evs, worker, url):
    return [e for e in evs if e["scriptName"] == worker and
            e["event"]["request"].get("url") == url]


def wait_events(p, worker, url, n=1, *args):
    deadline = time.monotonic() + 10
    while True:
        found = by_url(events(p, *args), worker, url)
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_ok_request_gives_one_event_per_worker(p):
    url = "/events-ok?x=1"
    assert get(p, "alice", url, headers={
        "Authorization": "Bearer s3cret", "X-Api-Key": "k",
        "X-Trace": "visible"}) == 200
    [t] = wait_events(p, "tenants/alice", url)
    [d] = wait_events(p, "platform/dispatcher", url)
    # the tenant answered; the dispatcher decided, forwarding to it
    assert t["event"]["response"]["status"] == 200
    assert t["forward"] == {"from": "platform/dispatcher"}
    assert d["forward"] == {"to": "tenants/alice"}
    assert "response" not in d["event"]
    for e in (t, d):
        assert e["outcome"] == "ok"
        assert e["event"]["request"]["method"] == "GET"
        assert e["scriptTags"] == [] and e["exceptions"] == []
        assert e["scriptVersion"] >= 1
        assert e["eventTimestamp"] > 1.6e12
        assert isinstance(e["cpuTime"], int)
        assert isinstance(e["wallTime"], int)
    assert t["dispatchNamespace"] == "tenants"
    assert d["dispatchNamespace"] == "platform"
    h = d["event"]["request"]["headers"]
    assert h["authorization"] == "REDACTED"
    assert h["x-api-key"] == "REDACTED"
    assert h["x-trace"] == "visible"
    assert "s3cret" not in json.dumps(t) + json.dumps(d)
    # a forward is no subrequest
    assert d["subrequests"] == 0


def test_request_id_ties_the_response_to_its_events(p):
    """The id a client gets in its Switchyard-Request-Id header is the
    requestId of every event of its request: the dispatcher's and its
    subrequest's, and `events --request-id` shows exactly those."""
    status, resp, _ = p.get("/events-id", host="alice.example.com")
    assert status == 200
    rid = request_id(resp)
    wait_events(p, "tenants/alice", "/events-id")
    mine = events(p, "--request-id", rid)
    assert sorted(e["scriptName"] for e in mine) == \
        ["platform/dispatcher", "tenants/alice"], mine
    assert all(e["requestId"] == rid for e in mine)
    others = [e for e in events(p) if e["event"]["request"].get("url") !=
              "/events-id"]
    assert others and all(e["requestId"] != rid for e in others)
    r = p.ctl_ok("events", "--request-id", rid, "tenants/alice")
    [line] = r.stdout.splitlines()
    assert f"Z {rid} tenants/alice ok 200 cpu " in line, line
    r = p.ctl("events", "--request-id", "not-an-id")
    assert r.returncode == 2 and "not a request id" in r.stderr, r


def test_exception_outcome_and_reason(p):
    assert get(p, "crash", "/exception") == 500
    [e] = wait_events(p, "tenants/crash", "/exception")
    assert e["outcome"] == "exception"
    assert e["event"]["response"]["status"] == 500


def test_crash_carries_its_log_line(p):
    """What the client's page leaves out is in the event: the reason (the
    signal) and the worker's own log lines."""
    status, resp, body = p.get("/crash", host="crash.example.com")
    assert status == 500
    rid = error_page(resp, body, 500, "exception", 1101)
    [e] = wait_events(p, "tenants/crash", "/crash")
    assert e["requestId"] == rid
    assert e["outcome"] == "exception"
    assert "killed by signal" in e["exceptions"][0]["message"], e
    msgs = [(l["level"], l["message"][0]) for l in e["logs"]]
    assert ("error", "crashing on purpose") in msgs, e["logs"]


def test_exceeded_cpu(p):
    status = get(p, "spin10", "/spin?ms=500")
    assert status == 503
    [e] = wait_events(p, "tenants/spin10", "/spin?ms=500")
    assert e["outcome"] == "exceededCpu"
    assert e["event"]["response"]["status"] == 503
    assert e["cpuTime"] >= 10
    assert e["exceptions"]


def test_filters(p):
    assert get(p, "alice", "/filter-me") == 200
    wait_events(p, "tenants/alice", "/filter-me")
    only = events(p, "tenants/alice")
    assert only and all(e["scriptName"] == "tenants/alice" for e in only)
    exc = events(p, "--outcome", "exception")
    assert exc and all(e["outcome"] == "exception" for e in exc)
    assert not [e for e in events(p, "tenants/alice", "--outcome",
                                  "exception")]
    r = p.ctl("events", "--outcome", "nonsense")
    assert r.returncode == 2, r


def test_human_lines(p):
    assert get(p, "alice", "/human") == 200
    wait_events(p, "tenants/alice", "/human")
    r = p.ctl_ok("events", "tenants/alice")
    line = [l for l in r.stdout.splitlines() if l.endswith("GET /human")]
    assert line and " tenants/alice ok 200 cpu " in line[0], r.stdout


# ---- requests that never reach a worker process: one event each ----

def never_served(e):
    assert e["cpuTime"] == 0 and e["logs"] == [], e
    assert e["exceptions"] and e["exceptions"][0]["message"], e


def test_unknown_worker_gives_a_script_not_found_event(p):
    status = get(p, "nosuch", "/nf?x=1", headers={"X-Api-Key": "k",
                                                   "X-Trace": "nf"})
    assert status == 404
    [e] = wait_events(p, "tenants/nosuch", "/nf?x=1")
    assert e["outcome"] == "scriptNotFound"
    assert e["dispatchNamespace"] == "tenants"
    assert e["event"]["response"]["status"] == 404
    assert e["event"]["request"]["method"] == "GET"
    h = e["event"]["request"]["headers"]
    assert h["x-api-key"] == "REDACTED" and h["x-trace"] == "nf"
    never_served(e)
    # the dispatcher's own event is there too: it answered the 404
    [d] = wait_events(p, "platform/dispatcher", "/nf?x=1")
    assert d["outcome"] == "ok"


def test_missing_dispatch_worker_gives_an_event(make_platform):
    def without_dispatcher(q):
        text = q.render_config()
        start = text.index("[deploy platform/dispatcher]")
        end = text.index("\n\n", start) + 2
        q.config.write_text(text[:start] + text[end:])

    q = make_platform(prepare=without_dispatcher,
                      deploys={"tenants/alice": DEPLOYS["tenants/alice"]})
    q.ctl_ok("events", "--ring", "on")
    assert get(q, "alice", "/no-dispatcher") == 404
    [e] = wait_events(q, "platform/dispatcher", "/no-dispatcher")
    assert e["outcome"] == "scriptNotFound"
    assert e["event"]["response"]["status"] == 404
    never_served(e)


def busy(p, name, ms):
    """Keeps name's only process busy for ms in a thread."""
    t = threading.Thread(target=get, args=(p, name, f"/sleep?ms={ms}"))
    t.start()
    return t


def test_queue_full_gives_a_load_shed_event(p):
    assert get(p, "shed", "/sleep?ms=1") == 200  # its process is up
    status = None
    for _ in range(5):
        # the busy request may lose the race to the process and be the
        # one shed: then try again
        t = busy(p, "shed", 1500)
        try:
            time.sleep(0.2)
            status = get(p, "shed", "/shed-me")
        finally:
            t.join()
        if status == 503:
            break
    assert status == 503
    [e, *_] = wait_events(p, "tenants/shed", "/shed-me")
    e = [e for e in by_url(events(p), "tenants/shed", "/shed-me")
         if e["outcome"] == "loadShed"][0]
    assert e["event"]["response"]["status"] == 503
    never_served(e)


def test_canceled_while_queued_gives_an_event(p):
    assert get(p, "queued", "/sleep?ms=1") == 200
    t = busy(p, "queued", 1500)
    try:
        time.sleep(0.3)
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        s.sendall(b"GET /cancel-me HTTP/1.1\r\n"
                  b"Host: queued.example.com\r\n\r\n")
        time.sleep(0.3)
        s.close()
    finally:
        t.join()
    [e] = wait_events(p, "tenants/queued", "/cancel-me")
    assert e["outcome"] == "canceled"
    assert "response" not in e["event"]
    never_served(e)


def test_follow_streams_new_events(p):
    """Even with the ring off: a follower is enough for events to be made."""
    p.ctl_ok("events", "--ring", "off")
    assert events(p) == []
    proc = subprocess.Popen(
        [str(BUILD / "yardctl"), "-s", str(p.socket), "events", "-f",
         "--json", "--outcome", "ok", "tenants/alice"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert get(p, "alice", "/followed") == 200
        got, buf = None, b""
        deadline = time.monotonic() + 10
        while got is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                e = json.loads(line)
                assert e["scriptName"] == "tenants/alice"
                assert e["outcome"] == "ok"
                if e["event"]["request"]["url"] == "/followed":
                    got = e
        assert got is not None, buf
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        p.ctl_ok("events", "--ring", "on")


def test_script_tags_are_the_serving_versions(p):
    p.ctl_ok("deploy", "tenants/tagged", EXAMPLES / "hello",
             "--tag", "eu", "--tag", "plan:pro")
    assert get(p, "tagged", "/tags-1") == 200
    [e] = wait_events(p, "tenants/tagged", "/tags-1")
    assert e["scriptTags"] == ["eu", "plan:pro"] and e["scriptVersion"] == 1
    # the next version serves with its own tags
    p.ctl_ok("deploy", "tenants/tagged", EXAMPLES / "alice", "--tag", "us")
    assert get(p, "tagged", "/tags-2") == 200
    [e] = wait_events(p, "tenants/tagged", "/tags-2")
    assert e["scriptTags"] == ["us"] and e["scriptVersion"] == 2
