"""What a client learns of a failure (docs/security.md, "What a client
sees"): the status, the outcome and a request id, and nothing about which
worker failed or how; the same id is in the response's
Switchyard-Request-Id header, in the request's events and in the
supervisor's log line, where the details are. Every answer carries an id,
the router's own and the workers' alike."""

import json
import re
import time

import pytest

from conftest import (EXAMPLES, HOSTILE, error_page, events_of,
                      platform_fixture, read_response, request_id,
                      request_log)

PLANS = {"cpu10": (1, 64, 10000, 60, {"cpu_ms": 10}),
         "mem64": (1, 64, 10000, 60, {"memory_mb": 64, "cpu_ms": 5000})}
DEPLOYS = {
    "tenants/hello": (EXAMPLES / "hello", "default", []),
    "tenants/crash": (EXAMPLES / "crash", "single", []),
    "tenants/spin": (EXAMPLES / "limits", "cpu10", []),
    "tenants/hog": (HOSTILE / "hog", "mem64", []),
}

p = platform_fixture(plans=PLANS, deploys=DEPLOYS)


@pytest.fixture(autouse=True, scope="module")
def ring_on(p):
    p.ctl_ok("events", "--ring", "on")


@pytest.mark.parametrize("name,path,status,outcome,errno,detail", [
    ("crash", "/crash", 500, "exception", 1101,
     r"worker killed by signal \d+ \(SIG[A-Z]+\)"),
    ("hog", "/memory?256", 503, "exceededMemory", 1102,
     r"; violation: memory cap 64 MiB$"),
    ("spin", "/spin?ms=500", 503, "exceededCpu", 1102,
     r"CPU time limit of 10 ms exceeded \(used [\d.]+ ms\)"),
])
def test_page_hides_what_the_log_and_events_tell(p, name, path, status,
                                                 outcome, errno, detail):
    warm = "/spin?ms=1" if name == "spin" else "/"
    assert p.get(warm, host=f"{name}.example.com")[0] == 200
    st, resp, body = p.get(path, host=f"{name}.example.com")
    assert st == status, body
    # header and page: the same id, the outcome, nothing else
    rid = error_page(resp, body, status, outcome, errno)
    # the log line under that id: the worker, the outcome, the detail
    line = request_log(p, rid)
    assert line.startswith(f"worker tenants/{name}: {outcome} ({status}): "), \
        line
    assert re.search(detail, line), line
    # so does the line about the process it cost (its kill, its death)
    assert re.search(rf"worker tenants/{name}\[\d+\].* \(request {rid}\)$",
                     p.log_text(), re.M), p.log_tail()
    # the events under that id: the tenant's failure, and the dispatcher's
    # decision, which forwarded the request to it
    evs = events_of(p, rid)
    assert set(evs) == {"platform/dispatcher", f"tenants/{name}"}, evs
    e = evs[f"tenants/{name}"]
    assert e["requestId"] == rid and e["outcome"] == outcome, e
    assert e["forward"] == {"from": "platform/dispatcher"}, e
    assert e["event"]["response"]["status"] == status, e
    assert e["exceptions"] and e["exceptions"][0]["message"] in line, e
    d = evs["platform/dispatcher"]
    assert d["outcome"] == "ok" and d["forward"] == \
        {"to": f"tenants/{name}"}, d


def test_every_answer_carries_its_own_id(p):
    ids = set()
    for _ in range(3):
        st, resp, _ = p.get("/", host="hello.example.com")
        assert st == 200
        ids.add(request_id(resp))
    assert len(ids) == 3
    # the router's own answers too, from the first byte of a request on
    for raw in (b"GET / HTTP/1.1\r\n\r\n",                      # 400
                b"POST / HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 99999999999\r\n\r\n",          # 413
                b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"):
        with p.raw() as s:
            s.sendall(raw)
            r = read_response(s.makefile("rb"))
            assert r is not None and r.status >= 400
            ids.add(request_id(r))
    assert len(ids) == 6
    # ids count up from one random start: unique, not secret
    assert len({i[:8] for i in ids}) <= 2, ids
