"""HTTP/1.1 behaviour of the router, through the whole path (router ->
supervisor -> dispatcher -> tenant), with http.client, curl and raw sockets."""

import hashlib
import os
import socket
import threading
import time

import pytest

from conftest import closed_by_peer, platform_fixture, read_response

ECHO = "echo.example.com"
HELLO = "hello.example.com"

limits = platform_fixture(router={
    "max_body_bytes": "1m",
    "header_timeout_ms": "500",
    "idle_timeout_ms": "3000",
})


def test_hello_world(platform):
    status, resp, body = platform.get("/", host=HELLO)
    assert status == 200
    assert body.strip() == b"hello world"
    r = platform.curl("-H", f"Host: {HELLO}", platform.url("/"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == b"hello world"


def test_200_requests_on_one_keepalive_connection(platform):
    c = platform.conn()
    local = None
    try:
        for i in range(200):
            c.request("GET", f"/alice/n{i}")
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, body
            assert b"Hello from alice!" in body
            assert f"/n{i}".encode() in body
            assert not r.will_close, f"server closed after request {i}"
            name = c.sock.getsockname()
            local = local or name
            assert name == local, f"reconnected at request {i}"
    finally:
        c.close()


def test_pipelined_requests(platform):
    reqs = (b"GET /alice/first HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"POST /echo/second HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: 11\r\n\r\npipelined!!"
            b"GET /bob/third HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    with platform.raw(timeout=30) as s:
        s.sendall(reqs)
        f = s.makefile("rb")
        first, second, third = (read_response(f) for _ in range(3))
    assert first.status == 200 and b"Hello from alice!" in first.body
    assert b"/first" in first.body
    assert second.status == 200 and second.body == b"pipelined!!"
    assert third.status == 200 and b"Hello from bob!" in third.body
    assert b"/third" in third.body


def _chunks(data, size):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_chunked_body_echoed_byte_exact(platform):
    data = os.urandom(300_000) + b"\r\n0\r\n\r\n" + bytes(range(256))
    c = platform.conn()
    try:
        c.request("POST", "/upload", body=_chunks(data, 7001),
                  headers={"Host": ECHO, "Transfer-Encoding": "chunked"},
                  encode_chunked=True)
        r = c.getresponse()
        body = r.read()
    finally:
        c.close()
    assert r.status == 200
    assert body == data
    assert r.getheader("X-Body-Length") == str(len(data))


def test_chunked_body_with_curl(platform, tmp_path):
    data = os.urandom(123_457)
    src = tmp_path / "body.bin"
    src.write_bytes(data)
    r = platform.curl("-H", f"Host: {ECHO}", "-H", "Transfer-Encoding: chunked",
                      "--data-binary", f"@{src}", platform.url("/c"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_8mib_body_echoed(platform):
    data = os.urandom(8 * 1024 * 1024)
    status, resp, body = platform.request("POST", "/big", host=ECHO,
                                          body=data, timeout=60)
    assert status == 200
    assert len(body) == len(data)
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert resp.getheader("X-Body-Length") == str(len(data))


def test_connection_close_is_honoured(platform):
    with platform.raw() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n"
                  b"Connection: close\r\n\r\n")
        r = read_response(s.makefile("rb"))
        assert r.status == 200
        assert (r.header("connection") or "").lower() == "close"
        assert closed_by_peer(s)


def test_http10_closes_by_default(platform):
    with platform.raw() as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: hello.example.com\r\n\r\n")
        f = s.makefile("rb")
        r = read_response(f)
        assert r.status == 200
        assert r.body.strip() == b"hello world"
        assert closed_by_peer(s)


MALFORMED = {
    "bad_method_chars": b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad_version": b"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
    "header_without_colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "space_in_header_name": b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
    "bad_chunk_size": (b"POST /echo/x HTTP/1.1\r\nHost: x\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n"
                       b"0\r\n\r\n"),
    "content_length_and_chunked": (b"POST /echo/x HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 3\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n"
                                   b"3\r\nabc\r\n0\r\n\r\n"),
    "bad_content_length": (b"POST /echo/x HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 12x\r\n\r\nabc"),
    "control_char_in_target": b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_is_400_and_closed(platform, name):
    with platform.raw() as s:
        s.sendall(MALFORMED[name])
        r = read_response(s.makefile("rb"))
        assert r is not None, "connection closed without a response"
        assert r.status == 400
        assert closed_by_peer(s)
    # The router is still fine.
    assert platform.get("/", host=HELLO)[0] == 200


def test_header_too_big_is_431(platform):
    with platform.raw() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n"
                  b"X-Big: " + b"a" * 20 * 1024 + b"\r\n\r\n")
        r = read_response(s.makefile("rb"))
        assert r is not None and r.status == 431
        assert closed_by_peer(s)


def test_many_headers_over_limit_is_431(platform):
    head = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(400))
    with platform.raw() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n" + head +
                  b"\r\n")
        r = read_response(s.makefile("rb"))
        assert r is not None and r.status == 431


def test_header_under_limit_is_passed_on(platform):
    value = "b" * 8 * 1024
    status, _, body = platform.get("/headers", host=ECHO,
                                   headers={"X-Big": value})
    assert status == 200
    assert value.encode() in body


def test_64_parallel_clients_get_their_own_answers(platform):
    n = 64
    barrier = threading.Barrier(n)
    results = [None] * n

    def client(i):
        try:
            barrier.wait(timeout=30)
            if i % 2:
                body = f"client {i} says {os.urandom(8).hex()}".encode()
                st, _, got = platform.request("POST", f"/p{i}", host=ECHO,
                                              body=body, timeout=60)
                results[i] = (st == 200 and got == body, st, got)
            else:
                st, _, got = platform.get(f"/alice/client{i}/", timeout=60)
                ok = (st == 200 and b"Hello from alice!" in got and
                      f"/client{i}/".encode() in got)
                results[i] = (ok, st, got)
        except Exception as e:  # reported below, per client
            results[i] = (False, None, repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    bad = [(i, r) for i, r in enumerate(results) if not r or not r[0]]
    assert not bad, f"{len(bad)} clients got a wrong answer: {bad[:5]}"


# ---- limits (max_body_bytes 1m, header_timeout_ms 500) ----

def test_body_at_limit_is_accepted(limits):
    data = os.urandom(1024 * 1024)
    status, resp, body = limits.request("POST", "/x", host=ECHO, body=data)
    assert status == 200
    assert body == data


def test_content_length_over_limit_is_413(limits):
    with limits.raw() as s:
        # Only the head: the answer must not wait for the body.
        s.sendall(b"POST /x HTTP/1.1\r\nHost: echo.example.com\r\n"
                  b"Content-Length: 1048577\r\n\r\n")
        r = read_response(s.makefile("rb"))
        assert r is not None and r.status == 413
        assert closed_by_peer(s)


def test_chunked_body_over_limit_is_413(limits):
    chunk = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)
    body = chunk * 16 + b"1\r\nz\r\n0\r\n\r\n"  # 1 MiB + 1 byte
    with limits.raw() as s:
        try:
            s.sendall(b"POST /x HTTP/1.1\r\nHost: echo.example.com\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n" + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = read_response(s.makefile("rb"))
        assert r is not None and r.status == 413


def test_incomplete_head_is_408(limits):
    with limits.raw() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: hello.exa")
        t0 = time.monotonic()
        r = read_response(s.makefile("rb"))
        waited = time.monotonic() - t0
        assert r is not None and r.status == 408
        assert 0.3 <= waited < 5, f"408 after {waited:.2f}s"
        assert closed_by_peer(s)


def test_idle_keepalive_is_not_a_header_timeout(limits):
    """Between requests the idle timeout applies, not the header timeout."""
    with limits.raw() as s:
        f = s.makefile("rb")
        s.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n\r\n")
        assert read_response(f).status == 200
        time.sleep(1.2)
        s.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n\r\n")
        r = read_response(f)
        assert r is not None and r.status == 200


def test_idle_keepalive_connection_is_closed(limits):
    with limits.raw() as s:
        f = s.makefile("rb")
        s.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n\r\n")
        assert read_response(f).status == 200
        t0 = time.monotonic()
        assert closed_by_peer(s, timeout=10)
        assert time.monotonic() - t0 >= 2.0


def test_max_connections_refused_with_503(make_platform):
    p = make_platform(router={"max_connections": "4"})
    socks = []
    try:
        for _ in range(4):
            s = p.raw()
            s.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n\r\n")
            assert read_response(s.makefile("rb")).status == 200
            socks.append(s)
        with p.raw() as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: hello.example.com\r\n\r\n")
            r = read_response(extra.makefile("rb"))
            assert r is not None and r.status == 503
    finally:
        for s in socks:
            s.close()
    # Room again once the others are gone.
    deadline = time.monotonic() + 5
    while True:
        try:
            if p.get("/", host=HELLO)[0] == 200:
                break
        except (ConnectionError, socket.timeout):
            pass
        assert time.monotonic() < deadline, "no connection accepted again"
        time.sleep(0.1)
