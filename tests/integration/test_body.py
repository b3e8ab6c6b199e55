"""Request bodies are the router's to wait for (router/body.c): a request
reaches the supervisor, and a worker, only once its whole body has
arrived, so clients that send slowly hold no worker process. A body is
kept in memory up to client_body_buffer_bytes, the rest in an unnamed file
in the router's own directory (run_dir/router-body); it must arrive whole
within body_timeout_ms (408), and be at most max_body_bytes (413).

The dispatcher here has one process (plan "one"): a single request body
that held it would make every other request wait in its queue."""

import hashlib
import os
import pwd
import socket
import threading
import time

import pytest

from conftest import (EXAMPLES, closed_by_peer, descendants,
                      platform_fixture, read_response)

ECHO = "echo.example.com"
BUFFER = 4096          # client_body_buffer_bytes
TIMEOUT_S = 1.5        # body_timeout_ms

p = platform_fixture(plans={"one": (1, 64, 10000, 60)},
                     dispatcher_plan="one", router={
    "client_body_buffer_bytes": str(BUFFER),
    "body_timeout_ms": str(int(TIMEOUT_S * 1000)),
    "max_body_bytes": "2m",
})


def router_pid(p):
    [pid] = [pid for pid in descendants(p.proc.pid)
             if os.readlink(f"/proc/{pid}/exe").endswith("switchyard-router")]
    return pid


def body_files(p):
    """The router's open body files: O_TMPFILE files show in /proc as
    'DIR/#INODE (deleted)', never in the directory."""
    d = str(p.run_dir / "router-body")
    fds = f"/proc/{router_pid(p)}/fd"
    found = []
    for fd in os.listdir(fds):
        try:
            target = os.readlink(f"{fds}/{fd}")
        except OSError:
            continue
        if target.startswith(d + "/"):
            found.append(target)
    return found


def busy(p):
    return {w: s["busy"] for w, s in p.workers().items() if s["busy"]}


def counts(p):
    return {w: s["requests"] for w, s in p.workers().items()}


def post_head(length, path="/echo/x", extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + ECHO.encode()
            + b"\r\nContent-Length: " + str(length).encode() + b"\r\n"
            + extra + b"\r\n")


def test_body_directory_is_the_routers_own(p):
    d = p.run_dir / "router-body"
    st = d.stat()
    assert st.st_mode & 0o777 == 0o700, oct(st.st_mode)
    nobody = pwd.getpwnam("nobody")
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert list(d.iterdir()) == []


def test_slow_bodies_hold_no_worker(p):
    """40 clients announce 100 bytes and trickle them; meanwhile another
    client is answered at once, no worker process is busy, and no worker
    has seen any of the 40 until its body was whole."""
    assert p.get("/", host="hello.example.com")[0] == 200
    before = counts(p)
    slow = []
    try:
        for _ in range(40):
            s = p.raw(timeout=10)
            s.sendall(post_head(100) + b"0123456789")
            slow.append(s)
        for i in range(3):
            t0 = time.monotonic()
            status, _, body = p.get("/", host="hello.example.com",
                                    timeout=5)
            waited = time.monotonic() - t0
            assert status == 200 and body == b"hello world\n", body
            assert waited < 1.0, f"answered after {waited:.2f} s"
            assert busy(p) == {}, busy(p)
            for s in slow:
                s.sendall(b"abcdefghij")
            time.sleep(0.1)
        after = counts(p)
        assert after["tenants/echo"] == before["tenants/echo"], after
        assert after["platform/dispatcher"] == \
            before["platform/dispatcher"] + 3, after
        # the rest arrives: every one is served, whole
        rest = bytes(range(65, 65 + 60))
        for s in slow:
            s.sendall(rest)
        want = b"0123456789" + b"abcdefghij" * 3 + rest
        for s in slow:
            r = read_response(s.makefile("rb"))
            assert r.status == 200 and r.body == want, (r.status, r.body)
    finally:
        for s in slow:
            s.close()


def test_body_must_arrive_within_body_timeout(p):
    """Trickling keeps no timer alive: the whole body has body_timeout_ms
    from the end of the head. No worker ever sees the request."""
    before = counts(p)
    with p.raw(timeout=10) as s:
        s.sendall(post_head(100) + b"x")
        t0 = time.monotonic()
        f = s.makefile("rb")
        s.settimeout(0.2)
        for _ in range(100):
            try:
                s.sendall(b"x")
            except OSError:
                break
            try:
                if s.recv(1, socket.MSG_PEEK):
                    break
            except socket.timeout:
                pass
        s.settimeout(10)
        r = read_response(f)
        waited = time.monotonic() - t0
        assert r is not None and r.status == 408, r and r.body
        assert b"body" in r.body
        assert TIMEOUT_S - 0.2 <= waited < TIMEOUT_S + 3, \
            f"408 after {waited:.2f} s"
        assert closed_by_peer(s)
    after = counts(p)
    assert after["tenants/echo"] == before["tenants/echo"]
    assert after["platform/dispatcher"] == before["platform/dispatcher"]


def test_body_over_the_buffer_goes_to_a_file_and_arrives_whole(p):
    data = os.urandom(1024 * 1024 + 17)
    with p.raw(timeout=30) as s:
        s.sendall(post_head(len(data)) + data[:300_000])
        deadline = time.monotonic() + 5
        while not body_files(p) and time.monotonic() < deadline:
            time.sleep(0.02)
        [path] = body_files(p)
        assert path.endswith(" (deleted)"), path
        assert list((p.run_dir / "router-body").iterdir()) == []
        assert busy(p) == {}
        s.sendall(data[300_000:])
        r = read_response(s.makefile("rb"))
    assert r.status == 200, r.body[:200]
    assert len(r.body) == len(data)
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(data).digest()
    assert r.header("x-body-length") == str(len(data))
    deadline = time.monotonic() + 5
    while body_files(p) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert body_files(p) == []
    assert list((p.run_dir / "router-body").iterdir()) == []


def test_body_within_the_buffer_needs_no_file(p):
    data = os.urandom(BUFFER)
    with p.raw(timeout=30) as s:
        s.sendall(post_head(len(data)) + data[:-1])
        time.sleep(0.2)
        assert body_files(p) == []
        s.sendall(data[-1:])
        r = read_response(s.makefile("rb"))
    assert r.status == 200 and r.body == data


def chunked(data, size):
    out = b""
    for i in range(0, len(data), size):
        part = data[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(part), part)
    return out + b"0\r\n\r\n"


def test_chunked_body_is_held_and_given_its_length(p):
    data = os.urandom(200_000)
    with p.raw(timeout=30) as s:
        s.sendall(b"POST /echo/c HTTP/1.1\r\nHost: " + ECHO.encode() +
                  b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        wire = chunked(data, 7001)
        s.sendall(wire[:100_000])
        time.sleep(0.2)
        assert busy(p) == {}
        s.sendall(wire[100_000:])
        r = read_response(s.makefile("rb"))
    assert r.status == 200 and r.body == data
    # the worker sees a body of known length, not the client's framing
    with p.raw() as s:
        s.sendall(b"GET /headers HTTP/1.1\r\nHost: " + ECHO.encode() +
                  b"\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  chunked(b"hello", 2))
        r = read_response(s.makefile("rb"))
    got = [l for l in r.body.decode().splitlines()
           if not l.startswith(("X-Real-IP", "X-Forwarded-For"))]
    assert got == [f"Host: {ECHO}", "Content-Length: 5"], got


def test_chunked_body_over_max_body_bytes_is_413(p):
    with p.raw(timeout=30) as s:
        s.sendall(b"POST /echo/c HTTP/1.1\r\nHost: " + ECHO.encode() +
                  b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(40):
                s.sendall(b"%x\r\n%s\r\n" % (65536, b"z" * 65536))
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = read_response(s.makefile("rb"))
        assert r is not None and r.status == 413
    deadline = time.monotonic() + 5
    while body_files(p) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert body_files(p) == []


def test_content_length_over_max_body_bytes_is_413_at_once(p):
    with p.raw() as s:
        s.sendall(post_head(2 * 1024 * 1024 + 1))
        r = read_response(s.makefile("rb"))
        assert r is not None and r.status == 413


def test_expect_100_continue(p):
    """The router asks for the body itself and keeps the expectation: the
    worker sees no Expect."""
    data = os.urandom(20_000)
    with p.raw(timeout=10) as s:
        f = s.makefile("rb")
        s.sendall(post_head(len(data), extra=b"Expect: 100-continue\r\n"))
        interim = read_response(f)
        assert interim.status == 100
        s.sendall(data)
        r = read_response(f)
        assert r.status == 200 and r.body == data
        s.sendall(b"GET /headers HTTP/1.1\r\nHost: " + ECHO.encode() +
                  b"\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        assert read_response(f).status == 100
        s.sendall(b"hi")
        r = read_response(f)
        assert r.status == 200 and b"Expect" not in r.body, r.body


def test_body_the_worker_ignores(p):
    """A body goes up whole even to a worker that does not read it, and
    the connection carries on."""
    data = os.urandom(1024 * 1024)
    with p.raw(timeout=30) as s:
        f = s.makefile("rb")
        s.sendall(b"POST /hello/ HTTP/1.1\r\nHost: x\r\nContent-Length: "
                  + str(len(data)).encode() + b"\r\n\r\n" + data)
        r = read_response(f)
        assert r.status == 200 and r.body == b"hello world\n"
        s.sendall(b"GET /hello/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(f).status == 200


def test_shed_while_its_body_is_still_going_up(make_platform):
    """A body larger than the channel's queue (8 MiB) goes up as the
    supervisor takes it; the supervisor may answer first (a full queue:
    loadShed), and the rest is then dropped, the connection kept. The
    dispatcher relays (ws_dispatch), so that a slow tenant holds it."""
    deploys = {"tenants/sleepy": (EXAMPLES / "limits", "default", []),
               "tenants/hello": (EXAMPLES / "hello", "default", [])}
    q = make_platform(dispatcher_plan="small", deploys=deploys,
                      dispatcher_env=["DISPATCH_MODE=relay"])
    holder = threading.Thread(target=q.get, args=("/sleep?ms=1500",),
                              kwargs={"host": "sleepy.example.com"})
    holder.start()
    time.sleep(0.3)  # its only process is busy, its queue slot free
    try:
        filler = threading.Thread(target=q.get, args=("/",),
                                  kwargs={"host": "hello.example.com"})
        filler.start()
        time.sleep(0.1)  # the slot is taken: the next is shed at once
        data = os.urandom(12 * 1024 * 1024)
        with q.raw(timeout=30) as s:
            f = s.makefile("rb")
            s.sendall(b"POST /echo/big HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: " + str(len(data)).encode() +
                      b"\r\n\r\n" + data)
            r = read_response(f)
            assert r.status == 503 and b"loadShed" in r.body, r.body
            filler.join(30)
            holder.join(30)
            s.sendall(b"GET /hello/ HTTP/1.1\r\nHost: x\r\n\r\n")
            r = read_response(f)
            assert r.status == 200 and r.body == b"hello world\n"
    finally:
        holder.join(30)
