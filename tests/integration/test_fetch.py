"""ws_fetch through the real processes (docs/fetch.md): a worker fetches
from a loopback HTTP server this test starts, listed in a test egress
policy; everything else is denied by the supervisor before any connection
(the denied addresses here are never contacted: 10.0.0.1 is refused by
policy, 127.0.0.2 is simply not listed). Also: redirects re-checked,
response size bounded, the subrequest tokens shared with ws_dispatch, a
service binding (http://NAME.worker/) answered by another worker without
the router, and another tenant answering throughout.
"""

import hashlib
import http.server
import threading

import pytest

from conftest import EXAMPLES, Platform, free_port, run_platform

BIG = bytes((i * 7 + (i >> 8)) & 0xff for i in range(1024 * 1024))
HUGE = 3 * 1024 * 1024          # over max_response_bytes below
MAX_RESPONSE = 2 * 1024 * 1024


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/octet-stream",
             extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/small":
            self.send(200, b"hello egress\n", "text/plain")
        elif self.path == "/big":
            self.send(200, BIG)
        elif self.path == "/huge":
            self.send(200, b"x" * HUGE)
        elif self.path == "/teapot":
            self.send(418, b"short and stout\n", "text/plain")
        elif self.path == "/redirect-ok":
            self.send(302, b"", extra=[("Location", "/small")])
        elif self.path == "/redirect-denied":
            self.send(302, b"", extra=[
                ("Location", f"http://10.0.0.1:{port}/small")])
        else:
            self.send(404, b"no such thing\n", "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send(200, b"got " + hashlib.sha256(body).hexdigest().encode(),
                  "text/plain")


@pytest.fixture(scope="module")
def origin():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


PLANS = {"sub5": (1, 64, 10000, 60, {"subrequests": 5})}
DEPLOYS = {
    "tenants/fetch": (EXAMPLES / "fetch", "default", []),
    "tenants/sub5": (EXAMPLES / "fetch", "sub5", []),
    "tenants/hello": (EXAMPLES / "hello", "default", []),
    "tenants/alice": (EXAMPLES / "alice", "default", []),
}


@pytest.fixture(scope="module")
def p(origin):
    plat = Platform(plans=PLANS, deploys=DEPLOYS)
    closed = free_port()
    policy = plat.tmp / "egress.ini"
    policy.write_text(
        "[egress]\n"
        f"max_response_bytes = {MAX_RESPONSE}\n"
        "timeout_ms = 5000\n"
        f"allow = 127.0.0.1 {origin}\n"
        f"allow = 127.0.0.1 {closed}\n"
        "[hosts]\n"
        "origin.test = 127.0.0.1\n"
        "private.test = 10.0.0.1\n")
    plat.config.write_text(plat.config.read_text().replace(
        "[switchyard]\n", f"[switchyard]\negress_policy = {policy}\n", 1))
    plat.origin = origin
    plat.closed = closed
    yield from run_platform(plat)


def fetch(p, url, tenant="fetch", method="GET", body=None, extra=""):
    status, headers, data = p.request(
        method, f"/fetch?{extra}url={url}", host=f"{tenant}.example.com",
        body=body)
    h = {k.lower(): v for k, v in headers.getheaders()}
    return status, h, data


def alice_answers(p):
    status, _, body = p.get("/", host="alice.example.com")
    assert status == 200 and body == b"Hello from alice!\nGET /\n", body


def test_fetch_allowed_loopback(p):
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/small")
    assert (status, h["x-fetch-rc"], body) == (200, "0", b"hello egress\n")
    assert h["content-type"] == "text/plain"
    alice_answers(p)


def test_fetch_status_passes_through(p):
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/teapot")
    assert (status, h["x-fetch-rc"], body) == (418, "0",
                                              b"short and stout\n")


def test_fetch_by_mapped_name(p):
    status, h, body = fetch(p, f"http://origin.test:{p.origin}/small")
    assert (status, body) == (200, b"hello egress\n"), h


def test_fetch_one_mebibyte_byte_exact(p):
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/big")
    assert status == 200 and h["x-fetch-rc"] == "0"
    assert len(body) == len(BIG) and body == BIG


def test_fetch_post_body(p):
    data = bytes(range(256)) * 1000
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/echo",
                            method="POST", body=data)
    assert status == 200, (h, body)
    assert body == b"got " + hashlib.sha256(data).hexdigest().encode()


@pytest.mark.parametrize("url", [
    "http://10.0.0.1:{port}/small",          # private, not listed
    "http://127.0.0.2:{port}/small",         # loopback, not listed
    "http://127.0.0.1:1/small",              # listed address, other port
    "http://private.test:{port}/small",      # name mapped to a private one
    "http://unmapped.test:{port}/small",     # name not in the policy
    "http://[::1]:{port}/small",             # IPv6 loopback, not listed
])
def test_fetch_denied_is_counted(p, url):
    before = p.workers()["tenants/fetch"]["violations"]
    status, h, body = fetch(p, url.format(port=p.origin))
    assert status == 403 and h["x-fetch-rc"] == "-7", (h, body)
    assert "egress: denied" in h["x-fetch-reason"], h
    assert p.workers()["tenants/fetch"]["violations"] == before + 1
    alice_answers(p)


def test_https_is_refused_by_the_shim(p):
    status, h, _ = fetch(p, f"https://127.0.0.1:{p.origin}/small")
    assert h["x-fetch-rc"] == "-9", h       # WS_EINVAL


def test_redirect_followed_and_rechecked(p):
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/redirect-ok")
    assert (status, h["x-fetch-rc"], body) == (200, "0", b"hello egress\n")
    status, h, body = fetch(p,
                            f"http://127.0.0.1:{p.origin}/redirect-denied")
    assert status == 403 and h["x-fetch-rc"] == "-7", (h, body)
    assert f"10.0.0.1:{p.origin}" in h["x-fetch-reason"]


def test_response_over_the_bound_fails_cleanly(p):
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/huge")
    assert status == 502 and h["x-fetch-rc"] == "-14", (h, body[:200])
    assert f"over {MAX_RESPONSE} bytes" in h["x-fetch-reason"], h
    # the platform is fine afterwards
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/small")
    assert (status, body) == (200, b"hello egress\n")


def test_connection_refused_fails_cleanly(p):
    # listed, but nothing listens there
    status, h, body = fetch(p, f"http://127.0.0.1:{p.closed}/small")
    assert (status, h["x-fetch-rc"]) == (502, "-14"), (h, body)
    assert "connect" in h["x-fetch-reason"].lower(), h


def test_sixth_fetch_has_no_token(p):
    status, h, body = fetch(p, f"http://127.0.0.1:{p.origin}/small",
                            tenant="sub5", extra="n=6&")
    assert status == 200, body
    assert body.startswith(b"ok=5 first_error=-6 "), body
    assert b"subrequests: limit of 5 reached" in body, body
    alice_answers(p)


def test_service_binding_reaches_another_worker(p):
    status, h, body = fetch(p, "http://hello.worker/some/path?x=1")
    assert (status, h["x-fetch-rc"], body) == (200, "0", b"hello world\n")


def test_service_binding_to_missing_worker(p):
    status, h, body = fetch(p, "http://nobody-here.worker/")
    assert status == 404 and h["x-fetch-rc"] == "-1", (h, body)


def test_other_tenant_keeps_answering(p):
    for _ in range(3):
        fetch(p, f"http://127.0.0.1:{p.origin}/big")
        fetch(p, f"http://10.0.0.1:{p.origin}/x")
        alice_answers(p)
