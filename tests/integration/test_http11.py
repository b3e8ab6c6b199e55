"""HTTP/1.1 as RFC 9112 asks of a server, through the real processes with
raw sockets: exactly one valid Host (required on HTTP/1.1), absolute-form
targets served by their authority, no obs-fold, and no hop-by-hop header
ever reaching a worker (examples/echo lists what it got on GET /headers).
"""

import time

import pytest

from conftest import closed_by_peer, platform_fixture, read_response

p = platform_fixture()


def exchange(p, data, pause_after=None):
    """Sends data (in two writes around a pause when pause_after is an
    index into it) and reads one response."""
    with p.raw() as s:
        if pause_after is None:
            s.sendall(data)
        else:
            s.sendall(data[:pause_after])
            time.sleep(0.2)
            s.sendall(data[pause_after:])
        f = s.makefile("rb")
        r = read_response(f)
        assert r is not None, "connection closed without a response"
        if r.status == 400:
            assert closed_by_peer(s), "a 400 must close the connection"
        return r


# what the dispatcher adds to every request (examples/dispatcher/edit.c)
ADDED = ("X-Real-IP: ", "X-Forwarded-For: ")


def lines(r):
    """The headers echo saw, but those the dispatcher added."""
    return [l for l in r.body.decode().splitlines()
            if not l.startswith(ADDED)]


# ---- Host ----

@pytest.mark.parametrize("version", [b"1.1"])
def test_http11_without_host_is_400(p, version):
    r = exchange(p, b"GET /hello/ HTTP/" + version + b"\r\n\r\n")
    assert r.status == 400 and b"Host" in r.body, r.body


@pytest.mark.parametrize("version", [b"1.0", b"1.1"])
def test_two_hosts_are_400(p, version):
    r = exchange(p, b"GET / HTTP/" + version + b"\r\n"
                 b"Host: alice.example.com\r\nHost: bob.example.com\r\n\r\n")
    assert r.status == 400 and b"more than one Host" in r.body, r.body


def test_http10_without_host_is_served(p):
    r = exchange(p, b"GET /hello/ HTTP/1.0\r\n\r\n")
    assert r.status == 200 and r.body == b"hello world\n", r.body


@pytest.mark.parametrize("host", [b"a b.example.com", b"user@alice.example.com",
                                  b"alice.example.com/x", b"[::1",
                                  b"alice.example.com:80:80"])
def test_invalid_host_is_400(p, host):
    r = exchange(p, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert r.status == 400 and b"invalid Host" in r.body, r.body


def test_empty_host_is_accepted(p):
    """RFC 9112 3.2: a target without authority sends an empty Host; the
    dispatcher then routes by path."""
    r = exchange(p, b"GET /hello/ HTTP/1.1\r\nHost:\r\n\r\n")
    assert r.status == 200 and r.body == b"hello world\n", r.body


# ---- absolute-form ----

def test_absolute_form_is_routed_by_its_authority(p):
    r = exchange(p, b"GET http://alice.example.com/some/where?x=1 HTTP/1.1\r\n"
                 b"Host: bob.example.com\r\n\r\n")
    assert r.status == 200, r.body
    assert r.body == b"Hello from alice!\nGET /some/where\n", r.body


def test_absolute_form_authority_replaces_host(p):
    r = exchange(p, b"GET HTTP://echo.example.com:8080/headers HTTP/1.1\r\n"
                 b"Host: bob.example.com\r\nX-After: 1\r\n\r\n")
    assert r.status == 200, r.body
    got = lines(r)
    assert got == ["Host: echo.example.com:8080", "X-After: 1"], got


def test_absolute_form_on_http10_without_host_gets_one(p):
    r = exchange(p, b"GET http://echo.example.com/headers HTTP/1.0\r\n"
                 b"X-A: 1\r\n\r\n")
    assert r.status == 200, r.body
    assert lines(r) == ["X-A: 1", "Host: echo.example.com"], lines(r)


@pytest.mark.parametrize("target,path", [
    (b"http://alice.example.com", b"/"),
    (b"http://alice.example.com?q=1", b"/"),
    (b"https://alice.example.com/p", b"/p"),
])
def test_absolute_form_without_a_path(p, target, path):
    r = exchange(p, b"GET " + target + b" HTTP/1.1\r\n"
                 b"Host: alice.example.com\r\n\r\n")
    assert r.status == 200, r.body
    assert r.body == b"Hello from alice!\nGET " + path + b"\n", r.body


@pytest.mark.parametrize("target", [b"ftp://alice.example.com/",
                                    b"http:///nohost",
                                    b"http://user@alice.example.com/"])
def test_bad_absolute_form_is_400(p, target):
    r = exchange(p, b"GET " + target + b" HTTP/1.1\r\n"
                 b"Host: alice.example.com\r\n\r\n")
    assert r.status == 400, r.body


# ---- obs-fold ----

HEAD_FOLDED = (b"GET /headers HTTP/1.1\r\nHost: echo.example.com\r\n"
               b"X-Folded: one\r\n two\r\n\r\n")


@pytest.mark.parametrize("split", [None, HEAD_FOLDED.index(b" two"),
                                   HEAD_FOLDED.index(b"\r\n two"),
                                   HEAD_FOLDED.index(b"\n two")])
def test_obs_fold_is_400(p, split):
    """Whether the continuation line arrives with the rest or later."""
    r = exchange(p, HEAD_FOLDED, pause_after=split)
    assert r.status == 400 and b"obs-fold" in r.body, r.body


def test_value_split_across_reads_is_not_a_fold(p):
    data = (b"GET /headers HTTP/1.1\r\nHost: echo.example.com\r\n"
            b"X-Split: one two\r\n\r\n")
    r = exchange(p, data, pause_after=data.index(b" two"))
    assert r.status == 200 and lines(r)[-1] == "X-Split: one two", r.body


# ---- hop-by-hop ----

HOP = [
    (b"Connection", b"keep-alive, X-Named-Hop, x-other-hop"),
    (b"Keep-Alive", b"timeout=5"),
    (b"TE", b"trailers"),
    (b"Trailer", b"X-T"),
    (b"Upgrade", b"websocket"),
    (b"Proxy-Connection", b"keep-alive"),
    (b"Proxy-Authorization", b"Basic c2VjcmV0"),
    (b"Proxy-Anything", b"1"),
    (b"X-Named-Hop", b"dropped"),
    (b"X-Other-Hop", b"dropped"),
    (b"Transfer-Encoding", b"chunked"),
]


def test_hop_by_hop_headers_never_reach_the_worker(p):
    head = b"".join(n + b": " + v + b"\r\n" for n, v in HOP)
    with p.raw() as s:
        f = s.makefile("rb")
        s.sendall(b"GET /headers HTTP/1.1\r\nHost: echo.example.com\r\n"
                  b"X-Kept: yes\r\n" + head + b"\r\n0\r\n\r\n")
        r = read_response(f)
        assert r.status == 200, r.body
        got = lines(r)
        assert got == ["Host: echo.example.com", "X-Kept: yes"], got
        # Connection: keep-alive was the router's to honour
        s.sendall(b"GET /headers HTTP/1.1\r\nHost: echo.example.com\r\n"
                  b"Connection: close, Host, Content-Length\r\n\r\n")
        r = read_response(f)
        assert r.status == 200 and lines(r) == ["Host: echo.example.com"], \
            r.body
        assert closed_by_peer(s)


@pytest.mark.parametrize("name,value", HOP)
def test_each_hop_by_hop_header_is_dropped(p, name, value):
    """One at a time; a header only Connection makes hop-by-hop comes with
    a Connection naming it."""
    extra = b"\r\n0\r\n\r\n" if name == b"Transfer-Encoding" else b"\r\n"
    if name.startswith(b"X-"):
        name = b"Connection: " + name + b"\r\n" + name
    r = exchange(p, b"GET /headers HTTP/1.1\r\nHost: echo.example.com\r\n"
                 + name + b": " + value + b"\r\nX-Kept: yes\r\n" + extra)
    assert r.status == 200, r.body
    assert lines(r) == ["Host: echo.example.com", "X-Kept: yes"], r.body


def test_header_named_in_connection_is_dropped_whatever_its_case(p):
    r = exchange(p, b"GET /headers HTTP/1.1\r\nHost: echo.example.com\r\n"
                 b"X-Private: a\r\nConnection: x-PRIVATE\r\n"
                 b"X-Kept: yes\r\n\r\n")
    assert r.status == 200, r.body
    assert lines(r) == ["Host: echo.example.com", "X-Kept: yes"], r.body
