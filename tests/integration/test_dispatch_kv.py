"""The dispatch worker configured from KV (docs/dispatch.md): routes changed
with yardctl take effect on the very next request, fallbacks, per-host auth,
header edits, the response transform, per-plan limits, bad metadata, and a
million hostnames. Everything goes through the real router."""
import json
import random
import re
import subprocess

import pytest

from conftest import BUILD, EXAMPLES, REPO, ROUTES_NS, TENANTS, \
    TENANT_PLANS, Platform, error_page, run_platform

# A tenant that answers with the headers the response transform must edit.
HDRS_C = r"""
#include <string.h>
#include <workershim.h>

static int hdrs(ws_request *req, ws_response *res, void *ctx)
{
	ws_res_header(res, "X-Powered-By", "PHP/8.2");
	ws_res_header(res, "Server", "tenant-httpd");
	if (strcmp(ws_req_query(req), "nocache") == 0)
		ws_res_header(res, "Cache-Control", "no-store");
	ws_res_printf(res, "hdrs\n");
	return 0;
}

int main(void) { return ws_serve(hdrs, NULL) < 0 ? 1 : 0; }
"""

CUSTOMER = "cus_42"
ROUTES = {
    "host:shop.test": {"worker": "echo", "plan": "pro",
                       "customer_id": CUSTOMER, "tags": ["eu"],
                       "strip_headers": ["x-debug"],
                       "cache_control": "public, max-age=60"},
    "host:api.test": {"worker": "echo", "plan": "pro",
                      "customer_id": CUSTOMER, "auth": "bearer"},
    "host:key.test": {"worker": "echo", "plan": "enterprise",
                      "customer_id": CUSTOMER, "auth": "api_key"},
    "token:tok-42": {"customer_id": CUSTOMER},
    "token:tok-7": {"customer_id": "cus_7"},
    "host:free.test": {"worker": "limits", "plan": "free"},
    "host:pro.test": {"worker": "limits", "plan": "pro"},
    "host:ent.test": {"worker": "limits", "plan": "enterprise"},
    "host:odd-plan.test": {"worker": "limits", "plan": "platinum"},
    "host:powered.test": {"worker": "hdrs",
                          "cache_control": "public, max-age=60"},
    # bad metadata, each answered 502 for its own host only
    "host:not-json.test": "{\"worker\": ",
    "host:bad-name.test": {"worker": "Alice!"},
    "host:no-worker.test": {"plan": "pro"},
    "host:auth-no-customer.test": {"worker": "echo", "auth": "bearer"},
    "host:bad-auth.test": {"worker": "echo", "auth": "maybe"},
    "host:crlf.test": {"worker": "echo", "customer_id": "a\r\nX-Evil: 1"},
    "host:too-big.test": {"worker": "echo", "tags": ["x" * 5000]},
}
BAD_HOSTS = ["not-json.test", "bad-name.test", "no-worker.test",
             "auth-no-customer.test", "bad-auth.test", "crlf.test",
             "too-big.test"]


@pytest.fixture(scope="module")
def hdrs_exe(tmp_path_factory):
    d = tmp_path_factory.mktemp("hdrs")
    (d / "hdrs.c").write_text(HDRS_C)
    libs = subprocess.run(["pkg-config", "--static", "--libs",
                           "libprotobuf-c"], capture_output=True, text=True,
                          check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-static", "-o", d / "hdrs", d / "hdrs.c",
                    "-I", REPO / "worker-shim", BUILD / "libworkershim.a"]
                   + libs, check=True, capture_output=True)
    d.chmod(0o755)
    return d / "hdrs"


@pytest.fixture(scope="module")
def p(hdrs_exe):
    deploys = {f"tenants/{t}": (EXAMPLES / t, TENANT_PLANS.get(t, "default"),
                                []) for t in TENANTS}
    # the platform plan's 2000 ms of CPU: only the dispatcher's limits bind
    deploys["tenants/limits"] = (EXAMPLES / "limits", "platform", [])
    deploys["tenants/hdrs"] = (hdrs_exe, "default", [])
    yield from run_platform(Platform(deploys=deploys, routes=ROUTES,
                                     dispatcher_env=["TENANT_HEADER=X-Tenant"]))


def get(p, host, path="/", headers=None):
    status, resp, body = p.get(path, host=host, headers=headers)
    return status, resp, body.decode(errors="replace")


def seen_headers(p, host, headers=None, path="/headers"):
    """The request headers as examples/echo saw them: {lower name: value}."""
    status, resp, body = get(p, host, path, headers)
    assert status == 200, body
    return dict(line.split(": ", 1) for line in body.splitlines())


def seen_context(p, host, headers=None):
    """The request's context as examples/echo saw it: {key: value}."""
    return seen_headers(p, host, headers, "/context")


# ---- routes are data ----

def test_put_change_delete_take_effect_on_the_next_request(p):
    for worker, text in [("alice", "Hello from alice!"),
                         ("bob", "Hello from bob!"),
                         ("alice", "Hello from alice!")]:
        p.ctl_ok("kv", "put", ROUTES_NS, "host:new.test",
                 json.dumps({"worker": worker}))
        status, resp, body = get(p, "New.Test:8080")
        assert status == 200 and text in body, body
        assert resp.getheader("X-Dispatched-To") == f"tenants/{worker}"
    p.ctl_ok("kv", "delete", ROUTES_NS, "host:new.test")
    status, _, body = get(p, "new.test")
    assert status == 404 and body.startswith("Worker not found"), body


def test_route_to_a_worker_not_deployed_is_404(p):
    p.ctl_ok("kv", "put", ROUTES_NS, "host:ghost.test",
             json.dumps({"worker": "ghost"}))
    status, resp, body = get(p, "ghost.test")
    # the platform's page: the dispatcher forwarded to a worker not there
    error_page(resp, body, 404, "scriptNotFound")
    # it names no worker that is not there
    assert resp.getheader("X-Dispatched-To") is None


# ---- fallbacks ----

def test_header_fallback_when_configured(p):
    status, resp, body = get(p, "127.0.0.1", headers={"X-Tenant": "bob"})
    assert status == 200 and "Hello from bob!" in body
    # a KV route wins over the header, which the tenant never sees
    h = seen_headers(p, "shop.test", {"X-Tenant": "bob"})
    assert "X-Tenant" not in h and "x-tenant" not in map(str.lower, h)


def test_subdomain_and_path_fallbacks(p):
    status, resp, body = get(p, "alice.example.com")
    assert status == 200 and "Hello from alice!" in body
    status, resp, body = get(p, "127.0.0.1", "/bob/hello?x=1")
    assert status == 200 and "Hello from bob!" in body and "/hello" in body
    assert resp.getheader("X-Dispatched-To") == "tenants/bob"


def test_header_fallback_off_by_default_and_routes_only(make_platform):
    q = make_platform()
    status, _, body = get(q, "127.0.0.1", headers={"X-Tenant": "bob"})
    assert status == 404 and body.startswith("Worker not found"), body
    assert get(q, "alice.test")[0] == 200
    q.ctl_ok("deploy", "platform/dispatcher", EXAMPLES / "dispatcher",
             "--kv", "ROUTES=routes:ro", "--env", "ROUTES_ONLY=1",
             "--dispatch-namespace", "tenants")
    assert get(q, "alice.example.com")[0] == 404
    assert get(q, "127.0.0.1", "/bob/hello")[0] == 404
    status, _, body = get(q, "alice.test")
    assert status == 200 and "Hello from alice!" in body


# ---- authentication ----

def test_bearer_auth(p):
    status, resp, body = get(p, "api.test", "/headers")
    assert status == 401, body
    assert resp.getheader("WWW-Authenticate", "").startswith("Bearer")
    for bad in ("Bearer nope", "Bearer tok-7", "Basic dG9rLTQy"):
        status, _, body = get(p, "api.test", "/headers",
                              {"Authorization": bad})
        assert status == (401 if bad.startswith("Basic") else 403), \
            (bad, body)
    h = seen_headers(p, "api.test", {"Authorization": "Bearer tok-42"})
    lower = {k.lower(): v for k, v in h.items()}
    assert "authorization" not in lower
    # what the dispatcher learnt travels in the context, not in headers
    assert "x-customer-id" not in lower and "x-plan" not in lower
    assert seen_context(p, "api.test", {"Authorization": "Bearer tok-42"}) \
        == {"route": "kv", "host": "api.test", "customer_id": CUSTOMER,
            "plan": "pro", "auth": "bearer"}


def test_api_key_auth_and_revocation(p):
    status, resp, body = get(p, "key.test", "/headers")
    assert status == 401 and resp.getheader("WWW-Authenticate") is None
    assert get(p, "key.test", "/headers", {"X-Api-Key": "tok-7"})[0] == 403
    h = seen_headers(p, "key.test", {"X-Api-Key": "tok-42"})
    assert "x-api-key" not in {k.lower() for k in h}
    c = seen_context(p, "key.test", {"X-Api-Key": "tok-42"})
    assert c["auth"] == "api_key" and c["plan"] == "enterprise", c
    p.ctl_ok("kv", "delete", ROUTES_NS, "token:tok-42")
    try:
        assert get(p, "key.test", "/headers",
                   {"X-Api-Key": "tok-42"})[0] == 403
    finally:
        p.ctl_ok("kv", "put", ROUTES_NS, "token:tok-42",
                 json.dumps({"customer_id": CUSTOMER}))
    assert get(p, "key.test", "/headers", {"X-Api-Key": "tok-42"})[0] == 200


# ---- header edits and the response transform ----

def test_untrusted_headers_removed_metadata_in_context(p):
    sent = {"X-Customer-Id": "cus_evil", "X-Plan": "enterprise",
            "X-Switchyard-Internal": "1", "x-switchyard-other": "2",
            "X-Debug": "1", "X-Keep": "yes", "Context": "customer_id=evil"}
    h = {k.lower(): v for k, v in seen_headers(p, "shop.test", sent).items()}
    assert "x-customer-id" not in h and "x-plan" not in h
    assert not [k for k in h if k.startswith("x-switchyard")]
    assert "x-debug" not in h and h["x-keep"] == "yes"
    # what the tenant may trust: the platform's context, whatever was sent
    assert seen_context(p, "shop.test", sent) == {
        "route": "kv", "host": "shop.test", "customer_id": CUSTOMER,
        "plan": "pro", "auth": "none"}
    # a fallback route has no metadata: the client's copies just go, and
    # the context says only how it was routed
    h = {k.lower(): v for k, v in
         seen_headers(p, "echo.example.com", sent).items()}
    assert "x-customer-id" not in h and "x-plan" not in h
    assert "x-debug" in h and h["x-keep"] == "yes"
    assert seen_context(p, "echo.example.com", sent) == {
        "route": "subdomain", "host": "echo.example.com"}
    assert seen_context(p, "127.0.0.1", sent | {"X-Tenant": "echo"}) == {
        "route": "header", "host": "127.0.0.1"}


def test_client_address_reaches_the_tenant(p):
    # the router accepted 127.0.0.1: the client's own X-Real-IP is
    # replaced, its X-Forwarded-For kept with the real address appended
    h = {k.lower(): v for k, v in seen_headers(
        p, "shop.test", {"X-Real-IP": "203.0.113.9",
                         "X-Forwarded-For": "198.51.100.7"}).items()}
    assert h["x-real-ip"] == "127.0.0.1"
    assert h["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"
    h = {k.lower(): v for k, v in
         seen_headers(p, "echo.example.com", {}).items()}
    assert h["x-real-ip"] == "127.0.0.1" and \
        h["x-forwarded-for"] == "127.0.0.1"


def test_response_transform(p):
    status, resp, body = get(p, "powered.test")
    assert status == 200 and body == "hdrs\n"
    assert resp.getheader("Server") == "switchyard"
    assert resp.getheader("X-Powered-By") is None
    assert resp.getheader("Cache-Control") == "public, max-age=60"
    assert resp.getheader("X-Dispatched-To") == "tenants/hdrs"
    status, resp, _ = get(p, "powered.test", "/?nocache")
    assert resp.getheader("Cache-Control") == "no-store"
    # the dispatcher's own answers too, never made cacheable
    status, resp, _ = get(p, "api.test")
    assert status == 401 and resp.getheader("Server") == "switchyard"
    assert resp.getheader("Cache-Control") is None


# ---- limits per plan ----

def remaining(p, host):
    status, _, body = get(p, host, "/remaining")
    m = re.match(r"rc=0 cpu_ms=(\d+) wall_ms=(\d+) subrequests=(\d+)", body)
    assert status == 200 and m, body
    return tuple(map(int, m.groups()))


def test_plan_limits(p):
    status, _, body = get(p, "free.test", "/spin?ms=20")
    assert status == 503 and "exceededCpu" in body, body
    status, _, body = get(p, "pro.test", "/spin?ms=20")
    assert status == 200 and "spun 20 ms" in body, body
    cpu, _, sub = remaining(p, "free.test")
    assert cpu <= 10 and sub == 5
    cpu, _, sub = remaining(p, "pro.test")
    assert 10 < cpu <= 50 and sub == 50
    cpu, _, _ = remaining(p, "ent.test")
    assert cpu > 50  # the tenant's own plan: 2000 ms


def test_unknown_plan_gets_the_free_limits_with_a_warning(p):
    cpu, _, sub = remaining(p, "odd-plan.test")
    assert cpu <= 10 and sub == 5
    r = p.ctl_ok("tail", "platform/dispatcher", "stderr")
    assert "odd-plan.test: unknown plan \"platinum\"" in r.stdout


# ---- bad metadata ----

def test_bad_metadata_is_502_for_that_host_only(p):
    for host in BAD_HOSTS:
        status, resp, body = get(p, host)
        assert status == 502, (host, body)
        assert body.startswith(f"Bad route metadata for host {host}"), body
        assert resp.getheader("X-Evil") is None
    r = p.ctl_ok("tail", "platform/dispatcher", "stderr")
    for host in BAD_HOSTS:
        assert f"host {host}: bad route metadata" in r.stdout, host
    status, _, body = get(p, "shop.test", "/headers")
    assert status == 200
    assert p.workers()["platform/dispatcher"]["pids"]


# ---- a million hostnames ----

def test_a_million_hostnames(p, tmp_path):
    n, workers = 1_000_000, ("alice", "bob", "hello", "echo")
    path = tmp_path / "hosts.tsv"
    with open(path, "w") as f:
        f.writelines(f'host:h{i}.bulk.test\t{{"worker":"{workers[i % 4]}",'
                     f'"plan":"pro"}}\n' for i in range(n))
    r = p.ctl("kv", "import", ROUTES_NS, path, timeout=60)
    assert r.returncode == 0, r.stderr + r.stdout
    want = {"alice": "Hello from alice!", "bob": "Hello from bob!",
            "hello": "hello world", "echo": ""}
    rnd = random.Random(42)
    c = p.conn()
    try:
        for _ in range(200):
            i = rnd.randrange(n)
            c.request("GET", "/", headers={"Host": f"h{i}.bulk.test"})
            resp = c.getresponse()
            body = resp.read().decode()
            w = workers[i % 4]
            assert resp.status == 200, (i, body)
            assert resp.getheader("X-Dispatched-To") == f"tenants/{w}"
            assert want[w] in body
    finally:
        c.close()
    # the last and first hosts of the import are there too
    assert get(p, f"h{n - 1}.bulk.test")[1].getheader("X-Dispatched-To") \
        == f"tenants/{workers[(n - 1) % 4]}"
    assert get(p, "h0.bulk.test")[0] == 200
