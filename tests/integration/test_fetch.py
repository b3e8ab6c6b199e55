"""ws_fetch through the real processes (docs/fetch.md): a worker fetches
from a loopback HTTP server this test starts, listed in a test egress
policy; everything else is denied by the supervisor before any connection
(the denied addresses here are never contacted: 10.0.0.1 is refused by
policy, 127.0.0.2 is simply not listed). Also: redirects re-checked,
response size bounded, the subrequest tokens shared with ws_dispatch, a
service binding (http://NAME.worker/) answered by another worker without
the router, and another tenant answering throughout.

https: loopback TLS origins with certificates made here with the openssl
CLI: one for origin.test signed by a test CA (the policy's ca_file), one
for another name signed by the same CA, one self-signed; and one the
policy does not allow, which must never see a connection.
"""

import hashlib
import http.server
import socket
import ssl
import subprocess
import tempfile
import threading
from pathlib import Path

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
        elif self.path.startswith("/to-https/"):   # /to-https/PORT
            self.send(302, b"", extra=[(
                "Location",
                f"https://origin.test:{self.path[10:]}/small")])
        elif self.path.startswith("/to-http/"):    # /to-http/PORT
            self.send(301, b"", extra=[
                ("Location", f"http://127.0.0.1:{self.path[9:]}/small")])
        elif self.path == "/to-denied-https":
            self.send(302, b"", extra=[
                ("Location", "https://10.0.0.1/small")])
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


class TLSOrigin(http.server.ThreadingHTTPServer):
    """Origin over TLS. The handshake runs in the connection's thread, so a
    client that fails it costs nothing else; `accepted` counts TCP
    connections, handshake or not."""

    def __init__(self, cert, key):
        super().__init__(("127.0.0.1", 0), Origin)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.accepted = 0

    def get_request(self):
        sock, addr = self.socket.accept()
        self.accepted += 1
        sock.settimeout(5)
        return sock, addr

    def finish_request(self, request, client_address):
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except OSError:
            return          # the client refused our certificate
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    """A test CA, and three server certificates: origin.test and
    other.test signed by it, origin.test self-signed."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-days", "2"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem",
            "-subj", "/CN=Switchyard test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    for name, cn, ca in (("good", "origin.test", True),
                         ("wrong", "other.test", True),
                         ("self", "origin.test", False)):
        signer = ["-CA", "ca.pem", "-CAkey", "ca.key"] if ca else []
        openssl("req", "-x509", *key, *signer, "-keyout", f"{name}.key",
                "-out", f"{name}.pem", "-subj", f"/CN={cn}",
                "-addext", f"subjectAltName=DNS:{cn}",
                "-addext", "basicConstraints=critical,CA:FALSE", cwd=d)


@pytest.fixture(scope="module")
def tls():
    """{"dir": the certificates, "good"/"wrong"/"self"/"denied": servers}"""
    d = Path(tempfile.mkdtemp(prefix="sy-tls-", dir="/tmp"))
    make_certs(d)
    servers = {name: TLSOrigin(d / f"{cert}.pem", d / f"{cert}.key")
               for name, cert in (("good", "good"), ("wrong", "wrong"),
                                  ("self", "self"), ("denied", "good"))}
    for srv in servers.values():
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield dict(servers, dir=d)
    for srv in servers.values():
        srv.shutdown()
        srv.server_close()
    subprocess.run(["rm", "-rf", str(d)], check=False)


PLANS = {"sub5": (1, 64, 10000, 60, {"subrequests": 5})}
# http://NAME.worker/ reaches only the service binding NAME; one binding
# names a worker that is not deployed
DEPLOYS = {
    "tenants/fetch": (EXAMPLES / "fetch", "default", [], [],
                      {"service": ["hello=tenants/hello",
                                   "NOBODY-HERE=tenants/nobody-here"]}),
    "tenants/sub5": (EXAMPLES / "fetch", "sub5", []),
    "tenants/hello": (EXAMPLES / "hello", "default", []),
    "tenants/alice": (EXAMPLES / "alice", "default", []),
}


@pytest.fixture(scope="module")
def p(origin, tls):
    plat = Platform(plans=PLANS, deploys=DEPLOYS)
    closed = free_port()
    policy = plat.tmp / "egress.ini"
    # ca_file relative to the policy; the test CA stays outside the tree
    (plat.tmp / "ca.pem").write_bytes((tls["dir"] / "ca.pem").read_bytes())
    allow_tls = "".join(f"allow = 127.0.0.1 {tls[n].server_address[1]}\n"
                        for n in ("good", "wrong", "self"))
    policy.write_text(
        "[egress]\n"
        f"max_response_bytes = {MAX_RESPONSE}\n"
        "timeout_ms = 5000\n"
        "ca_file = ca.pem\n"
        f"allow = 127.0.0.1 {origin}\n"
        f"allow = 127.0.0.1 {closed}\n"
        f"{allow_tls}"
        "[hosts]\n"
        "origin.test = 127.0.0.1\n"
        "private.test = 10.0.0.1\n")
    plat.config.write_text(plat.config.read_text().replace(
        "[switchyard]\n", f"[switchyard]\negress_policy = {policy}\n", 1))
    plat.origin = origin
    plat.closed = closed
    plat.tls = {n: tls[n].server_address[1]
                for n in ("good", "wrong", "self", "denied")}
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


def test_other_schemes_are_refused_by_the_shim(p):
    status, h, _ = fetch(p, f"ftp://127.0.0.1:{p.origin}/small")
    assert h["x-fetch-rc"] == "-9", h       # WS_EINVAL


def test_https_get_one_mebibyte_byte_exact(p):
    status, h, body = fetch(p, f"https://origin.test:{p.tls['good']}/big")
    assert (status, h["x-fetch-rc"]) == (200, "0"), (h, body[:200])
    assert hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()
    status, h, body = fetch(p, f"https://origin.test:{p.tls['good']}/small")
    assert (status, body) == (200, b"hello egress\n"), h
    assert h["content-type"] == "text/plain"


def test_https_post_one_mebibyte_byte_exact(p):
    data = BIG[::-1]
    status, h, body = fetch(p, f"https://origin.test:{p.tls['good']}/echo",
                            method="POST", body=data)
    assert (status, h["x-fetch-rc"]) == (200, "0"), (h, body)
    assert body == b"got " + hashlib.sha256(data).hexdigest().encode()


@pytest.mark.parametrize("server,why", [
    ("wrong", "origin.test"),      # curl names the host the cert misses
    ("self", "self-signed"),       # not from the policy's CA
])
def test_https_bad_certificate_fails_with_tls_reason(p, server, why):
    url = f"https://origin.test:{p.tls[server]}/small"
    status, h, body = fetch(p, url)
    assert (status, h["x-fetch-rc"]) == (502, "-14"), (h, body)  # WS_EFETCH
    reason = h["x-fetch-reason"]
    assert reason.startswith("tls: certificate verify failed"), reason
    assert why in reason, reason
    alice_answers(p)
    # the worker is fine: the next fetch works
    status, h, body = fetch(p, f"https://origin.test:{p.tls['good']}/small")
    assert (status, body) == (200, b"hello egress\n"), h


def test_https_ip_literal_is_checked_against_the_certificate(p):
    # allowed address, but the certificate names origin.test only
    status, h, _ = fetch(p, f"https://127.0.0.1:{p.tls['good']}/small")
    assert (status, h["x-fetch-rc"]) == (502, "-14"), h
    assert h["x-fetch-reason"].startswith("tls: "), h


def test_https_denied_never_connects(p, tls):
    before = tls["denied"].accepted
    for url in (f"https://127.0.0.1:{p.tls['denied']}/small",
                f"https://origin.test:{p.tls['denied']}/small",
                "https://origin.test/small",          # 443: not allowed
                "https://unmapped.test/small"):
        status, h, body = fetch(p, url)
        assert (status, h["x-fetch-rc"]) == (403, "-7"), (url, h, body)
        assert "egress: denied" in h["x-fetch-reason"], h
    assert tls["denied"].accepted == before
    alice_answers(p)


def test_https_default_port_is_443(p):
    status, h, _ = fetch(p, "https://origin.test/small")
    assert h["x-fetch-reason"] == "egress: denied origin.test:443", h


def test_redirect_http_to_https_rechecked(p):
    status, h, body = fetch(
        p, f"http://127.0.0.1:{p.origin}/to-https/{p.tls['good']}")
    assert (status, h["x-fetch-rc"], body) == (200, "0", b"hello egress\n")
    # the same hop to a port the policy does not allow
    status, h, body = fetch(
        p, f"http://127.0.0.1:{p.origin}/to-https/{p.tls['denied']}")
    assert (status, h["x-fetch-rc"]) == (403, "-7"), (h, body)
    assert f"origin.test:{p.tls['denied']}" in h["x-fetch-reason"], h


def test_redirect_https_to_http_rechecked(p):
    status, h, body = fetch(
        p, f"https://origin.test:{p.tls['good']}/to-http/{p.origin}")
    assert (status, h["x-fetch-rc"], body) == (200, "0", b"hello egress\n")
    status, h, body = fetch(
        p, f"https://origin.test:{p.tls['good']}/to-denied-https")
    assert (status, h["x-fetch-rc"]) == (403, "-7"), (h, body)
    assert "10.0.0.1:443" in h["x-fetch-reason"], h


def test_https_binding_is_not_a_binding(p):
    # service bindings are http only: https://NAME.worker is a name like
    # any other, and not in the policy
    status, h, _ = fetch(p, "https://hello.worker/")
    assert (status, h["x-fetch-rc"]) == (403, "-7"), h


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
    # bound (its name without case), but nothing is deployed there
    status, h, body = fetch(p, "http://nobody-here.worker/")
    assert status == 404 and h["x-fetch-rc"] == "-1", (h, body)


def test_unbound_name_is_denied(p):
    # alice is deployed, in the caller's own namespace: no binding, no call
    before = p.workers()["tenants/fetch"]["violations"]
    status, h, body = fetch(p, "http://alice.worker/")
    assert status == 403 and h["x-fetch-rc"] == "-7", (h, body)
    assert h["x-fetch-reason"] == "binding: tenants/fetch has no service " \
        "binding called alice (http://alice.worker/)", h
    assert p.workers()["tenants/fetch"]["violations"] == before + 1


def test_other_tenant_keeps_answering(p):
    for _ in range(3):
        fetch(p, f"http://127.0.0.1:{p.origin}/big")
        fetch(p, f"http://10.0.0.1:{p.origin}/x")
        fetch(p, f"https://origin.test:{p.tls['self']}/small")
        fetch(p, f"https://origin.test:{p.tls['good']}/small")
        alice_answers(p)


def test_https_to_a_plain_http_port_is_a_handshake_failure(p):
    status, h, body = fetch(p, f"https://origin.test:{p.origin}/small")
    assert (status, h["x-fetch-rc"]) == (502, "-14"), (h, body)
    assert h["x-fetch-reason"].startswith("tls: handshake failed: "), h


def egress_policy(plat, text):
    policy = plat.tmp / "egress.ini"
    policy.write_text(text)
    plat.config.write_text(plat.config.read_text().replace(
        "[switchyard]\n", f"[switchyard]\negress_policy = {policy}\n", 1))


def test_without_ca_file_the_system_bundle_is_used(make_platform, tls):
    # Debian's bundle does not know the test CA: verification must fail,
    # which shows the bundle was loaded and used under the router's filter
    port = tls["good"].server_address[1]
    plat = make_platform(
        prepare=lambda pl: egress_policy(
            pl, f"[egress]\nallow = 127.0.0.1 {port}\n"
                "[hosts]\norigin.test = 127.0.0.1\n"),
        deploys={"tenants/fetch": (EXAMPLES / "fetch", "default", [])})
    status, h, body = fetch(plat, f"https://origin.test:{port}/small")
    assert (status, h["x-fetch-rc"]) == (502, "-14"), (h, body)
    reason = h["x-fetch-reason"]
    assert reason.startswith("tls: certificate verify failed: "), reason
    assert "local issuer" in reason, reason


def test_unreadable_ca_file_stops_the_start():
    plat = Platform(deploys={})
    try:
        egress_policy(plat, "[egress]\nca_file = missing/ca.pem\n")
        with pytest.raises(AssertionError):
            plat.start()
        log = plat.log_text()
        assert f"ca_file {plat.tmp}/missing/ca.pem: No such file" in log, log
    finally:
        if plat.running:
            plat.kill()
        plat.cleanup()


def test_policy_edit_listed_by_reread_applied_by_update(make_platform,
                                                         origin):
    """yardctl reread lists an edit of the egress policy file (its content
    compared, not its name), update applies it and says so; removing
    egress_policy removes the policy: every fetch is denied."""
    url = f"http://127.0.0.1:{origin}/small"
    allow = f"[egress]\nallow = 127.0.0.1 {origin}\n"
    q = make_platform(prepare=lambda pl: egress_policy(pl, allow),
                      deploys={"tenants/fetch": (EXAMPLES / "fetch",
                                                 "default", [])})
    policy = q.tmp / "egress.ini"
    assert "no changes" in q.ctl_ok("reread").stdout
    assert fetch(q, url)[1]["x-fetch-rc"] == "0"
    # another port only: an edit of the file, not of switchyard.ini
    policy.write_text(f"[egress]\nallow = 127.0.0.1 {origin + 1}\n")
    r = q.ctl_ok("reread")
    assert r.stdout == f"egress_policy {policy}: changed (yardctl update " \
        "applies it)\n", r.stdout
    assert fetch(q, url)[1]["x-fetch-rc"] == "0"     # not applied
    r = q.ctl_ok("update")
    assert r.stdout == f"egress_policy {policy}: changed (applied)\n", \
        r.stdout
    status, h, _ = fetch(q, url)
    assert (status, h["x-fetch-rc"]) == (403, "-7"), h
    assert "no changes" in q.ctl_ok("reread").stdout
    assert "no changes" in q.ctl_ok("update").stdout
    # a comment is a change of the file too
    policy.write_text(policy.read_text() + "; reviewed\n")
    assert "changed" in q.ctl_ok("update").stdout
    # the key removed: no policy, every fetch denied
    text = q.config.read_text()
    q.config.write_text(text.replace(f"egress_policy = {policy}\n", ""))
    r = q.ctl_ok("reread")
    assert r.stdout == f"egress_policy {policy}: removed, every fetch is " \
        "denied (yardctl update applies it)\n", r.stdout
    q.ctl_ok("update")
    status, h, _ = fetch(q, url)
    assert (status, h["x-fetch-rc"]) == (403, "-7"), h
    assert h["x-fetch-reason"].endswith("(no egress policy)"), h
    # and back
    policy.write_text(allow)
    q.config.write_text(text)
    r = q.ctl_ok("update")
    assert r.stdout == f"egress_policy {policy}: added (applied)\n", r.stdout
    assert fetch(q, url)[1]["x-fetch-rc"] == "0"
