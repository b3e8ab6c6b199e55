"""Whom a worker may call, and what it may tell its callee (docs/security.md,
"What a tenant can reach"), through the real processes.

Hostile tenants (tests/hostile/reach.c) try to ws_dispatch and ws_fetch
other tenants, the dispatcher, platform workers and other namespaces, and
to forge context: with ws_req_set_context, by writing Request.context
into a frame by hand, and by forwarding the context the dispatcher gave
them. Every call a deployment does not bind is WS_EDENIED (-7), a
`binding` violation of the caller and listed in its request's event;
context reaches a worker only from a dispatch worker calling through one
of its dispatch namespaces."""

import http.client
import json
import re
import time

import pytest

from conftest import (EXAMPLES, HOSTILE, error_page, platform_fixture,
                      request_log)

REACH = HOSTILE / "reach"
ECHO = EXAMPLES / "echo"
DENIED = "rc=-7 status=403 "

DEPLOYS = {
    "tenants/alice": (EXAMPLES / "alice", "default", []),
    "tenants/echo": (ECHO, "default", []),
    # a tenant with bindings: echo (as a service), and a platform service
    "tenants/mallory": (REACH, "default", [], [],
                        {"service": ["ECHO=tenants/echo",
                                     "AUTH=platform/auth",
                                     "RELAY=platform/relay"]}),
    # a tenant without any
    "tenants/eve": (REACH, "default", []),
    "platform/auth": (ECHO, "default", []),
    # a second dispatch worker: it may call (and tell) every tenant
    "platform/relay": (REACH, "default", [], [],
                       {"dispatch_namespace": ["tenants"],
                        "service": ["AUTH=platform/auth"]}),
    "other/secret": (EXAMPLES / "hello", "default", []),
}
ROUTES = {"host:mallory.test": {"worker": "mallory", "plan": "pro",
                                "customer_id": "cus_m"}}

p = platform_fixture(deploys=DEPLOYS, routes=ROUTES)


@pytest.fixture(autouse=True, scope="module")
def ring_on(p):
    p.ctl_ok("events", "--ring", "on")


def get(p, who, path):
    host = who if "." in who else f"{who}.example.com"
    status, _, body = p.get(path, host=host)
    assert status == 200, body
    return body.decode(errors="replace")


def dispatch(p, who, ns, to, path="/", extra=""):
    return get(p, who, f"/dispatch?ns={ns}&to={to}{extra}&path={path}")


def violations(p, worker):
    return p.workers()[worker]["violations"]


# ---- calls follow bindings ----

@pytest.mark.parametrize("ns,to", [
    ("tenants", "echo"),          # another tenant, deployed
    ("tenants", "alice"),
    ("tenants", "no-such-one"),   # denied all the same: nothing leaks
    ("tenants", "eve"),           # itself
    ("platform", "dispatcher"),   # around the dispatcher's checks
    ("platform", "auth"),
    ("other", "secret"),          # another namespace
])
def test_unbound_dispatch_is_denied(p, ns, to):
    before = violations(p, "tenants/eve")
    body = dispatch(p, "eve", ns, to, "/context")
    assert body.startswith(DENIED), body
    assert f"reason=binding: tenants/eve may not call {ns}/{to} " in body
    assert violations(p, "tenants/eve") == before + 1


def test_unbound_fetch_is_denied(p):
    for name in ("echo", "dispatcher", "auth", "ECHO"):
        body = get(p, "eve", f"/fetch?name={name}&path=/context")
        assert body.startswith(DENIED), body
        assert "has no service binding called" in body, body


def test_bound_calls_go_through_and_only_them(p):
    # the exact target of a service binding, by ws_dispatch or by name
    assert dispatch(p, "mallory", "tenants", "echo",
                    "/headers").startswith("rc=0 status=200 ")
    for name in ("ECHO", "echo", "auth"):
        body = get(p, "mallory", f"/fetch?name={name}&path=/headers")
        assert body.startswith("rc=0 status=200 "), body
    assert dispatch(p, "mallory", "platform", "auth",
                    "/headers").startswith("rc=0 ")
    # nothing else: not the binding's namespace, not the dispatcher
    for ns, to in (("tenants", "alice"), ("platform", "dispatcher"),
                   ("other", "secret")):
        assert dispatch(p, "mallory", ns, to).startswith(DENIED)
    assert get(p, "mallory", "/fetch?name=alice&path=/").startswith(DENIED)


def test_dispatch_worker_reaches_its_namespace_only(p):
    # relay binds tenants: any worker there, deployed or not
    inner = "/dispatch?ns=tenants&to=alice&path=/"
    body = dispatch(p, "mallory", "platform", "relay", inner)
    assert "rc=0 status=200 " in body.split("\n", 1)[1], body
    inner = "/dispatch?ns=tenants&to=nobody&path=/"
    body = dispatch(p, "mallory", "platform", "relay", inner)
    assert "rc=-1 status=404 " in body, body
    inner = "/dispatch?ns=other&to=secret&path=/"
    body = dispatch(p, "mallory", "platform", "relay", inner)
    assert DENIED in body, body


def test_denial_is_in_the_event_and_the_log(p):
    url = "/dispatch?ns=tenants&to=echo&path=/event-check"
    assert get(p, "eve", url).startswith(DENIED)
    want = ("binding: tenants/eve may not call tenants/echo (neither a "
            "dispatch namespace nor a service binding of its deployment "
            "names it)")
    deadline = time.monotonic() + 10
    while True:
        r = p.ctl_ok("events", "--json", "tenants/eve")
        evs = [json.loads(line) for line in r.stdout.splitlines()]
        mine = [e for e in evs if e["event"]["request"]["url"] == url]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert mine, evs
    assert mine[0]["outcome"] == "ok" and want in mine[0]["violations"]
    assert re.search(r"violation: tenant tenants worker eve version 1 "
                     r"pid \d+ uid \d+: " + re.escape(want), p.log_text())
    # counted under its own kind, which /metrics names
    conn = http.client.HTTPConnection("127.0.0.1", p.admin_port, timeout=10)
    conn.request("GET", "/metrics")
    metrics = conn.getresponse().read().decode()
    conn.close()
    m = re.search(r'^switchyard_violations_total\{[^}]*worker="eve"[^}]*'
                  r'kind="binding"[^}]*\} (\d+)$', metrics, re.M)
    assert m and int(m.group(1)) >= 1, metrics


# ---- context ----

def context_of(body):
    """echo's /context answer, after reach's "rc=..." line."""
    lines = body.split("\n")[1:]
    return dict(line.split(": ", 1) for line in lines if line)


def test_context_from_the_dispatcher(p):
    assert context_of("\n" + get(p, "mallory.test", "/context")) == {
        "route": "kv", "host": "mallory.test", "customer_id": "cus_m",
        "plan": "pro", "auth": "none"}


def test_tenant_cannot_give_context(p):
    # asked for with the shim, through a service binding
    body = dispatch(p, "mallory", "tenants", "echo", "/context",
                    "&ctx=cus_forged")
    assert body.startswith("rc=0 ") and context_of(body) == {}, body
    # written into the Request by hand
    body = get(p, "mallory", "/raw?ns=tenants&to=echo&path=/context")
    assert body == "raw answered\n", body
    # the dispatcher's own context, passed on: it stops here
    body = get(p, "mallory.test", "/relay?ns=tenants&to=echo&path=/context")
    assert body.startswith("rc=0 ") and context_of(body) == {}, body


def test_dispatch_worker_gives_context(p):
    # through its dispatch namespace the callee gets what it set ...
    inner = "/dispatch?ns=tenants&to=echo&ctx=cus_relay&path=/context"
    body = dispatch(p, "mallory", "platform", "relay", inner)
    assert "customer_id: cus_relay\n" in body, body
    # ... through a service binding, not even from a dispatch worker
    inner = "/dispatch?ns=platform&to=auth&ctx=cus_relay&path=/context"
    body = dispatch(p, "mallory", "platform", "relay", inner)
    assert body.count("rc=0 status=200 ") == 2, body
    assert "customer_id" not in body, body


def test_context_out_of_limits_breaks_the_protocol(p):
    before = violations(p, "tenants/mallory")
    status, resp, body = p.get("/rawbad?ns=tenants&to=echo",
                               host="mallory.example.com")
    rid = error_page(resp, body, 500, "exception", 1101)
    line = request_log(p, rid)
    assert line.startswith("worker tenants/mallory: exception (500): ") \
        and "subrequest context" in line, line
    assert violations(p, "tenants/mallory") == before + 1
    # a fresh process serves the next request
    assert get(p, "mallory", "/").startswith("alive")


def test_others_unharmed(p):
    status, _, body = p.get("/", host="alice.example.com")
    assert status == 200 and body.startswith(b"Hello from alice!")
    assert violations(p, "tenants/alice") == 0
    assert violations(p, "platform/dispatcher") == 0


# ---- bindings are part of the version ----

def test_status_shows_bindings(p):
    w = p.workers()
    assert w["tenants/mallory"]["services"] == [
        "ECHO=tenants/echo", "AUTH=platform/auth", "RELAY=platform/relay"]
    assert w["tenants/mallory"]["dispatch_namespaces"] == []
    assert w["platform/dispatcher"]["dispatch_namespaces"] == ["tenants"]
    assert w["tenants/eve"]["services"] == []
    out = p.ctl_ok("status", "-l").stdout
    assert "tenants/mallory\n  services: ECHO=tenants/echo," \
           "AUTH=platform/auth,RELAY=platform/relay\n" in out, out
    assert "  dispatch namespaces: tenants\n" in out, out


def test_deploy_refuses_bad_bindings(p):
    hello = EXAMPLES / "hello"
    for args, why in (
            (["--service", "AUTH=auth"],
             "deploy tenants/x: service AUTH=auth: expected NAME=NS/WORKER"),
            (["--service", "A=t/a", "--service", "a=t/b"],
             "deploy tenants/x: service a=t/b: a service binding of that "
             "name is given already"),
            (["--service", "BAD.NAME=t/a"],
             "deploy tenants/x: service BAD.NAME=t/a: binding name must"),
            (["--dispatch-namespace", "Tenants"],
             "deploy tenants/x: dispatch namespace Tenants: invalid "
             "namespace name"),
            (["--service"], "--service needs NAME=NS/WORKER")):
        r = p.ctl("deploy", "tenants/x", hello, *args)
        assert r.returncode in (2, 5) and why in r.stderr, (args, r.stderr)
    assert "tenants/x" not in p.workers()


def test_bindings_follow_versions(make_platform):
    q = make_platform(deploys={
        "tenants/echo": (ECHO, "default", []),
        "tenants/caller": (REACH, "default", [], [],
                           {"service": ["ECHO=tenants/echo"]})})
    assert dispatch(q, "caller", "tenants", "echo").startswith("rc=0 ")
    q.ctl_ok("deploy", "tenants/caller", REACH)            # version 2
    assert dispatch(q, "caller", "tenants", "echo").startswith(DENIED)
    v = json.loads(q.ctl_ok("--json", "versions", "tenants/caller").stdout)
    assert [x["services"] for x in v["versions"]] == [
        ["ECHO=tenants/echo"], []]
    q.ctl_ok("rollback", "tenants/caller")                 # version 1
    assert dispatch(q, "caller", "tenants", "echo").startswith("rc=0 ")
    # and the restart: deployments.json keeps them
    q.restart(with_deploys=False)
    assert q.workers()["tenants/caller"]["services"] == ["ECHO=tenants/echo"]
    assert dispatch(q, "caller", "tenants", "echo").startswith("rc=0 ")
    # yardctl deploy --service: the same
    q.ctl_ok("deploy", "tenants/caller", REACH, "--service",
             "E=tenants/echo")
    assert get(q, "caller", "/fetch?name=e&path=/").startswith("rc=0 ")
    assert get(q, "caller", "/fetch?name=echo&path=/").startswith(DENIED)


def test_reload_diffs_and_applies_bindings(make_platform):
    q = make_platform(deploys={
        "tenants/echo": (ECHO, "default", []),
        "tenants/caller": (REACH, "default", [])})
    assert dispatch(q, "caller", "tenants", "echo").startswith(DENIED)
    text = q.config.read_text().replace(
        "[deploy tenants/caller]\n",
        "[deploy tenants/caller]\nservice = ECHO=tenants/echo\n")
    q.config.write_text(text)
    out = q.ctl_ok("reread").stdout
    assert "deploy tenants/caller: changed (service)" in out, out
    assert dispatch(q, "caller", "tenants", "echo").startswith(DENIED)
    q.ctl_ok("update")
    assert dispatch(q, "caller", "tenants", "echo").startswith("rc=0 ")
    assert q.workers()["tenants/caller"]["version"] == 2
    q.config.write_text(text.replace(
        "[deploy platform/dispatcher]\n",
        "[deploy platform/dispatcher]\ndispatch_namespace = other\n"))
    out = q.ctl_ok("reread").stdout
    assert "deploy platform/dispatcher: changed (dispatch_namespace)" \
        in out, out


def test_dispatcher_without_binding_reaches_no_tenant(make_platform):
    """Bindings hold for the dispatch worker too: deployed without a
    dispatch namespace (as one deployed before bindings existed) it can
    call nothing, and the supervisor says so at start."""
    def unbound(q):
        q.config.write_text(q.config.read_text().replace(
            "dispatch_namespace = tenants\n", "", 1))

    q = make_platform(prepare=unbound, deploys={
        "tenants/alice": (EXAMPLES / "alice", "default", [])})
    assert "dispatch worker platform/dispatcher version 1 binds no " \
        "dispatch namespace: it can call no worker" in q.log_text()
    status, resp, body = q.get("/", host="alice.example.com")
    rid = error_page(resp, body, 403, "denied")
    assert "binding: platform/dispatcher may not forward to tenants/alice" \
        in request_log(q, rid), q.log_tail()
    assert q.workers()["platform/dispatcher"]["violations"] == 1
    q.ctl_ok("deploy", "platform/dispatcher", EXAMPLES / "dispatcher",
             "--kv", "ROUTES=routes:ro", "--dispatch-namespace", "tenants")
    status, _, body = q.get("/", host="alice.example.com")
    assert status == 200 and body.startswith(b"Hello from alice!"), body
