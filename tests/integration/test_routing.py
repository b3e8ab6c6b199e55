"""The example dispatcher picks the tenant: by the host's route in KV (the
Platform fixture loads www.bob-shop.test and alice.test), by subdomain of
BASE_DOMAIN, or by the first path segment; unknown tenants get 404.
tests/integration/test_dispatch_kv.py covers the KV routes in depth."""

import pytest

from conftest import error_page, events_of


def test_subdomain_routes_to_alice(platform):
    status, resp, body = platform.get("/some/where?x=1",
                                      host="alice.example.com")
    assert status == 200
    assert b"Hello from alice!" in body
    assert b"GET" in body and b"/some/where" in body
    assert resp.getheader("X-Worker") == "alice"
    assert resp.getheader("X-Dispatched-To") == "tenants/alice"


def test_subdomain_with_port_routes(platform):
    status, resp, body = platform.get("/", host="bob.example.com:8080")
    assert status == 200
    assert b"Hello from bob!" in body


def test_path_routes_to_bob_with_prefix_stripped(platform):
    status, resp, body = platform.get("/bob/hello")
    assert status == 200
    assert b"Hello from bob!" in body
    assert b"/hello" in body and b"/bob/hello" not in body
    assert resp.getheader("X-Dispatched-To") == "tenants/bob"


def test_hostname_routes_from_kv(platform):
    status, resp, body = platform.get("/", host="www.bob-shop.test")
    assert status == 200
    assert b"Hello from bob!" in body
    status, resp, body = platform.get("/", host="alice.test")
    assert status == 200
    assert resp.getheader("X-Worker") == "alice"


@pytest.mark.parametrize("host,path,name", [
    ("nobody.example.com", "/", "nobody"),
    ("127.0.0.1", "/nobody/x", "nobody"),
])
def test_unknown_tenant_is_404_naming_it(platform, host, path, name):
    """The dispatcher forwards to a tenant that is not deployed: the
    platform's 404 page, and the events under its id name the tenant (the
    page names no one)."""
    platform.ctl_ok("events", "--ring", "on")
    status, resp, body = platform.get(path, host=host)
    rid = error_page(resp, body, 404, "scriptNotFound")
    evs = events_of(platform, rid)
    assert evs["platform/dispatcher"]["forward"] == \
        {"to": f"tenants/{name}"}, evs
    assert evs[f"tenants/{name}"]["outcome"] == "scriptNotFound", evs


def test_unknown_host_without_tenant_path_is_404(platform):
    status, resp, body = platform.get("/", host="www.unrelated.org")
    assert status == 404


def test_readme_demo_with_curl(platform):
    """The three requests the README's demo shows, made with curl."""
    r = platform.curl("-H", "Host: alice.example.com", platform.url("/"))
    assert r.returncode == 0, r.stderr
    assert b"Hello from alice!" in r.stdout
    r = platform.curl(platform.url("/bob/hello"))
    assert r.returncode == 0, r.stderr
    assert b"Hello from bob!" in r.stdout
    r = platform.curl("-o", "/dev/null", "-w", "%{http_code}",
                      "-H", "Host: unknown.example.com", platform.url("/"))
    assert r.stdout == b"404"


def test_request_headers_reach_the_tenant(platform):
    status, resp, body = platform.get(
        "/headers", host="echo.example.com",
        headers={"X-Custom-One": "first", "X-Custom-Two": "second value"})
    assert status == 200
    text = body.decode().lower()
    assert "x-custom-one" in text and "first" in text
    assert "x-custom-two" in text and "second value" in text
