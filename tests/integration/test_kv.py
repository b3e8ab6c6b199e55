"""KV namespaces (docs/kv.md): yardctl kv, deploy --kv bindings, and the
ws_kv_* calls of a real worker (examples/kv) through the platform."""
import http.client
import json
import os
import random
import socket
import subprocess
import time

import pytest

from conftest import (BUILD, EXAMPLES, HOSTILE, error_page, pb_str,
                      platform_fixture, raw_ctl, request_log)

platform = platform_fixture()
HOST = "kvapp.example.com"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def p(platform):
    platform.ctl_ok("deploy", "tenants/kvapp", EXAMPLES / "kv",
                    "--kv", "CACHE=cache", "--kv", "RO=cache:ro",
                    "--kv", "BULK=bulk")
    return platform


def kv_get(p, binding, key):
    status, _, body = p.get(f"/get?b={binding}&k={key}", host=HOST)
    return status, body


def test_put_then_worker_reads_it_at_once(p):
    for i in range(20):
        p.ctl_ok("kv", "put", "cache", "greeting", f"hello {i}")
        assert kv_get(p, "CACHE", "greeting") == (200, f"hello {i}".encode())


def test_worker_writes_yardctl_reads(p):
    status, _, body = p.get("/put?b=CACHE&k=fromworker&v=abc", host=HOST)
    assert status == 200, body
    r = p.ctl_ok("kv", "get", "cache", "fromworker")
    assert r.stdout == "abc"
    assert p.get("/delete?b=CACHE&k=fromworker", host=HOST)[0] == 200
    assert kv_get(p, "CACHE", "fromworker")[0] == 404
    assert p.get("/delete?b=CACHE&k=fromworker", host=HOST)[0] == 404
    assert p.ctl("kv", "get", "cache", "fromworker").returncode == 4


def test_undeclared_binding_denied(p):
    p.ctl_ok("kv", "put", "secret", "k", "v")
    status, body = kv_get(p, "secret", "k")
    assert status == 403, body
    assert kv_get(p, "SECRET", "k")[0] == 403


def test_read_only_binding(p):
    p.ctl_ok("kv", "put", "cache", "ro-key", "visible")
    assert kv_get(p, "RO", "ro-key") == (200, b"visible")
    assert p.get("/put?b=RO&k=ro-key&v=x", host=HOST)[0] == 403
    assert p.get("/delete?b=RO&k=ro-key", host=HOST)[0] == 403
    assert kv_get(p, "CACHE", "ro-key") == (200, b"visible")


def test_expiry(p):
    p.ctl_ok("kv", "put", "cache", "short", "soon gone", "--ttl", "1")
    assert p.get("/put?b=CACHE&k=short2&v=x&ttl=1", host=HOST)[0] == 200
    assert kv_get(p, "CACHE", "short")[0] == 200
    time.sleep(2.2)
    assert kv_get(p, "CACHE", "short")[0] == 404
    assert kv_get(p, "CACHE", "short2")[0] == 404
    assert p.ctl("kv", "get", "cache", "short").returncode == 4


def test_value_limits(p, tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"v" * (200 * 1024))
    p.ctl_ok("kv", "put", "cache", "big", "--file", big)
    status, body = kv_get(p, "CACHE", "big")
    assert status == 200 and len(body) == 200 * 1024
    big.write_bytes(b"v" * (MiB + 1))
    assert p.ctl("kv", "put", "cache", "big2", "--file", big).returncode == 5
    assert p.ctl("kv", "put", "Bad", "k", "v").returncode == 5
    assert p.ctl("kv", "put", "cache", "k" * 512, "v").returncode == 5
    p.ctl_ok("kv", "put", "cache", "k" * 511, "longest")
    assert kv_get(p, "CACHE", "k" * 511) == (200, b"longest")


def test_list_pages(p):
    for i in range(30):
        p.ctl_ok("kv", "put", "cache", f"page:{i:03d}", "x")
    r = p.ctl_ok("kv", "list", "cache", "page:")
    assert r.stdout.split() == [f"page:{i:03d}" for i in range(30)]
    r = p.ctl_ok("kv", "list", "cache", "page:", "--limit", "10")
    assert r.stdout.split() == [f"page:{i:03d}" for i in range(10)]
    assert "--cursor page:009" in r.stderr
    status, resp, body = p.get("/list?b=CACHE&p=page:01", host=HOST)
    assert status == 200
    assert body.split() == [f"page:{i:03d}".encode() for i in range(10, 20)]


def test_bad_bindings_refused(p):
    for spec in ("nobinding", "=cache", "B=Bad NS", "B=", "B-x=cache"):
        r = p.ctl("deploy", "tenants/kvbad", EXAMPLES / "kv", "--kv", spec)
        assert r.returncode in (2, 5), (spec, r.stderr)
    r = p.ctl("deploy", "tenants/kvbad", EXAMPLES / "kv",
              "--kv", "A=x", "--kv", "A=y")
    assert r.returncode == 5


def test_import_then_random_gets(p, tmp_path):
    f = tmp_path / "import.txt"
    lines = []
    for i in range(20000):
        if i % 2:
            lines.append(f"key{i:06d}\tvalue-{i}")
        else:
            lines.append(json.dumps({"key": f"key{i:06d}",
                                     "value": f"value-{i}"}))
    f.write_text("\n".join(lines) + "\n")
    r = p.ctl_ok("kv", "import", "bulk", f)
    assert "imported 20000 keys" in r.stdout
    for i in random.sample(range(20000), 50):
        assert kv_get(p, "BULK", f"key{i:06d}") == \
            (200, f"value-{i}".encode())
    # another tenant kept answering throughout
    assert p.get("/", host="alice.example.com")[0] == 200


def test_import_rejects_bad_lines(p, tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("good\tline\nno tab here\n")
    r = p.ctl("kv", "import", "bulk", f)
    assert r.returncode == 5 and "line 2" in r.stderr


def test_get_latency(p):
    p.ctl_ok("kv", "put", "cache", "hot", "x" * 100)
    # Few enough gets to stay inside the plan's per-request CPU budget
    # (cpu_ms); the latency is printed, never asserted (bench/kv.sh
    # measures it properly).
    status, _, body = p.get("/bench?b=CACHE&k=hot&n=300", host=HOST)
    assert status == 200, body
    print("\nKV", body.decode().strip())
    stats = dict(kv.split("=") for kv in body.decode().split())
    # the shim's cache answers these in well under a microsecond
    assert float(stats["get_p50_us"]) >= 0
    assert float(stats["get_p99_us"]) >= float(stats["get_p50_us"])
    assert float(stats["rtt_p50_us"]) > 0


def test_survives_restart(make_platform):
    p = make_platform()
    p.ctl_ok("deploy", "tenants/kvapp", EXAMPLES / "kv", "--kv", "C=persist")
    p.ctl_ok("kv", "put", "persist", "k", "kept")
    assert p.get("/put?b=C&k=w&v=also", host=HOST)[0] == 200
    p.restart()
    assert kv_get(p, "C", "k") == (200, b"kept")
    assert kv_get(p, "C", "w") == (200, b"also")
    deps = json.loads((p.state_dir / "deployments.json").read_text())
    kvapp = [w for w in deps["workers"] if w["name"] == "kvapp"][0]
    assert kvapp["versions"][-1]["kv"] == \
        [{"name": "C", "ns": "persist", "ro": False}]


# ---- values over one frame (up to 1 MiB), map size, hostile streams ----

def ctl_bytes(p, *args):
    """yardctl with stdout as bytes: values are any bytes."""
    return subprocess.run([str(BUILD / "yardctl"), "-s", str(p.socket)] +
                          [str(a) for a in args], capture_output=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def kv_put_body(p, binding, key, value, host=HOST):
    status, resp, body = p.request("POST", f"/put?b={binding}&k={key}",
                                   host=host, body=value)
    return status, resp.getheader("X-KV-Error"), body


# just under, at and over the size that fits one frame, and the limit
@pytest.mark.parametrize("size", [200 * 1024, 200 * 1024 + 1, 777777, MiB])
def test_large_value_worker_round_trip(p, size):
    value = os.urandom(size)
    assert kv_put_body(p, "CACHE", f"w{size}", value)[0] == 200
    assert kv_get(p, "CACHE", f"w{size}") == (200, value)
    r = ctl_bytes(p, "kv", "get", "cache", f"w{size}")
    assert r.returncode == 0 and r.stdout == value, r.stderr


def test_large_value_through_yardctl(p, tmp_path):
    f = tmp_path / "value"
    value = os.urandom(MiB // 2).hex().encode()    # text, for --json
    f.write_bytes(value)
    p.ctl_ok("kv", "put", "cache", "file1m", "--file", f)
    r = ctl_bytes(p, "kv", "get", "cache", "file1m")
    assert r.returncode == 0 and r.stdout == value, r.stderr
    assert kv_get(p, "CACHE", "file1m") == (200, value)
    r = p.ctl("--json", "kv", "get", "cache", "file1m")
    assert r.returncode == 0 and \
        json.loads(r.stdout)["output"].encode() == value
    # 1 MiB + 1 is refused at both entry points, and nothing changes
    f.write_bytes(value + b"!")
    r = p.ctl("kv", "put", "cache", "file1m", "--file", f)
    assert r.returncode == 5 and "limit (1048576 bytes)" in r.stderr
    status, err, _ = kv_put_body(p, "CACHE", "file1m", value + b"!")
    assert (status, err) == (400, "invalid argument")
    assert kv_get(p, "CACHE", "file1m") == (200, value)


def test_supervisor_checks_passed_values(p, tmp_path):
    """Behind yardctl, the supervisor checks a passed value itself: over
    the limit, or not a regular file (a pipe could block it)."""
    put = pb_str(1, "kv") + pb_str(2, "put") + pb_str(2, "cache") + \
        bytes([0xaa, 0x01, 3]) + b"raw"          # kv_key = 21
    f = tmp_path / "over"
    f.write_bytes(b"o" * (MiB + 1))
    with open(f, "rb") as fh:
        res = raw_ctl(p, put, fh.fileno())
    assert res[:2] == bytes([0x08, 5]) and b"over the limit of 1048576" \
        in res, res
    r, w = os.pipe()
    try:
        res = raw_ctl(p, put, r)
    finally:
        os.close(r)
        os.close(w)
    assert res[:2] == bytes([0x08, 5]) and b"regular file" in res, res
    assert p.ctl("kv", "get", "cache", "raw").returncode == 4


def test_import_large_values(p, tmp_path):
    big = "b" * MiB
    mid = "m" * (300 * 1024)
    f = tmp_path / "import.txt"
    f.write_text("\n".join([
        "imp-small1\tone",
        json.dumps({"key": "imp-big", "value": big}),
        "imp-mid\t" + mid,
        json.dumps({"key": "imp-exp", "value": mid, "expiration_ttl": 1}),
        "imp-small2\ttwo",
    ]) + "\n")
    r = p.ctl_ok("kv", "import", "bulk", f)
    assert "imported 5 keys" in r.stdout
    assert kv_get(p, "BULK", "imp-big") == (200, big.encode())
    assert kv_get(p, "BULK", "imp-mid") == (200, mid.encode())
    assert kv_get(p, "BULK", "imp-small1") == (200, b"one")
    assert kv_get(p, "BULK", "imp-small2") == (200, b"two")
    time.sleep(2.2)
    assert kv_get(p, "BULK", "imp-exp")[0] == 404   # its expiry was kept
    f.write_text("imp-ok\tfine\nimp-over\t" + "x" * (MiB + 1) + "\n")
    r = p.ctl("kv", "import", "bulk", f)
    assert r.returncode == 5 and "line 2" in r.stderr
    assert kv_get(p, "BULK", "imp-over")[0] == 404


def test_default_map_size_is_logged(p):
    p.ctl_ok("kv", "put", "cache", "opened", "x")
    assert "(map size 4096 MiB, [switchyard] kv_max_mb)" in p.log_text()


KV_LIES = {
    "/long": "protocol: KV value longer than the 16 bytes announced",
    "/short": "protocol: KV value of 16 bytes, 64 announced",
    "/wrongstream": "protocol: KV_VALUE on stream 2147418114, the value "
                    "being sent is on stream 2147418113",
    "/orphan": "protocol: KV_VALUE with no KV_REQUEST before it",
    "/huge": "protocol: KV value of 1048577 bytes announced (1-1048576)",
}


def test_hostile_kv_streams(p):
    """A worker lying about a KV value's length or stream is killed as a
    protocol violation; the value is not written; other tenants carry on."""
    p.ctl_ok("deploy", "tenants/kvstream", HOSTILE / "kvstream",
             "--plan", "single", "--kv", "B=hostile")
    host = "kvstream.example.com"
    for path, want in KV_LIES.items():
        assert p.get("/", host=host)[0] == 200
        status, resp, body = p.get(path, host=host)
        assert status == 500, (path, status, body)
        line = request_log(p, error_page(resp, body, 500, "exception",
                                         1101))
        assert line.startswith("worker tenants/kvstream: exception (500): "
                               + want.replace("protocol:",
                                              "protocol error:")), line
        assert line.endswith(f"; violation: {want}"), line
        assert f"worker kvstream version 1 " in p.log_text()
        assert want in p.log_text(), p.log_tail()
        assert p.get("/", host="alice.example.com")[0] == 200
        assert kv_get(p, "CACHE", "greeting")[0] in (200, 404)
    # a value left half sent, then a second one announced over it
    assert p.get("/stall", host=host)[:1] == (200,)
    status, resp, body = p.get("/stall", host=host)
    assert status == 500
    line = request_log(p, error_page(resp, body, 500, "exception", 1101))
    assert "still being sent" in line, line
    assert p.get("/", host=host)[0] == 200
    assert p.ctl("kv", "get", "hostile", "k").returncode == 4
    assert p.workers()["tenants/kvstream"]["violations"] >= 6


def with_kv_max_mb(mb):
    def prepare(q):
        q.config.write_text(q.config.read_text().replace(
            "[switchyard]\n", f"[switchyard]\nkv_max_mb = {mb}\n", 1))
    return prepare


def test_full_store(make_platform, tmp_path):
    """kv_max_mb = 1: the store fills after about 1 MiB; puts then fail with
    an error naming the namespace and the setting, reads go on."""
    q = make_platform(prepare=with_kv_max_mb(1), deploys={})
    q.ctl_ok("deploy", "tenants/kvapp", EXAMPLES / "kv", "--kv", "C=small")
    q.ctl_ok("kv", "put", "small", "first", "kept")
    assert "(map size 1 MiB, [switchyard] kv_max_mb)" in q.log_text()
    f = tmp_path / "chunk"
    f.write_bytes(b"z" * (100 * 1024))
    for i in range(20):
        r = q.ctl("kv", "put", "small", f"fill{i}", "--file", f)
        if r.returncode != 0:
            break
    assert r.returncode == 1 and 3 <= i < 12, (i, r.stderr)
    assert r.stderr.count("\n") == 1
    assert "namespace small: KV store full" in r.stderr
    assert "[switchyard] kv_max_mb" in r.stderr
    status, err, _ = kv_put_body(q, "C", "w", b"w" * (100 * 1024),
                                 host=HOST)
    assert (status, err) == (500, "the platform failed")
    assert "tenants/kvapp: namespace small: KV store full" in q.log_text()
    # reads still work, from yardctl and from the worker
    assert q.ctl_ok("kv", "get", "small", "first").stdout == "kept"
    assert kv_get(q, "C", "first") == (200, b"kept")
    assert kv_get(q, "C", "fill0") == (200, b"z" * (100 * 1024))


def test_kv_drop(p):
    """A namespace can be freed: its keys and its place among the 256 go;
    never while a worker's current version binds it."""
    p.ctl_ok("kv", "put", "dropme", "k", "v")
    r = p.ctl_ok("kv", "drop", "dropme")
    assert r.stdout == "kv drop dropme: dropped\n"
    assert p.ctl("kv", "get", "dropme", "k").returncode == 4
    r = p.ctl("kv", "drop", "dropme")
    assert r.returncode == 4 and "kv drop dropme: no such KV namespace" \
        in r.stderr, r.stderr
    r = p.ctl("kv", "drop", "cache")
    assert r.returncode == 5, r.stderr
    assert "kv drop cache: bound by the current version of tenants/kvapp " \
        "(1 worker): first deploy versions that do not bind it" \
        in r.stderr, r.stderr
    p.ctl_ok("kv", "put", "cache", "kept", "yes")
    assert kv_get(p, "CACHE", "kept") == (200, b"yes")
    p.ctl_ok("deploy", "tenants/dropper", EXAMPLES / "kv", "--kv",
             "D=dropns")
    p.ctl_ok("kv", "put", "dropns", "k", "v")
    r = p.ctl("kv", "drop", "dropns")
    assert r.returncode == 5 and "tenants/dropper" in r.stderr, r.stderr
    p.ctl_ok("deploy", "tenants/dropper", EXAMPLES / "kv")
    p.ctl_ok("kv", "drop", "dropns")
    assert p.ctl("kv", "list", "dropns").stdout == ""
    assert p.ctl("kv", "drop").returncode == 2


def bind_many(q, name, prefix, n):
    kv = [a for i in range(n) for a in ("--kv", f"B{i}={prefix}{i}")]
    q.ctl_ok("deploy", f"tenants/{name}", EXAMPLES / "kv", *kv)


def test_namespace_that_cannot_exist_is_refused_at_deploy(make_platform):
    """The store holds 256 namespaces, written or bound by a current
    version: a deploy binding one more is refused with the reason, and so
    is a put that would take the place of one bound."""
    q = make_platform(deploys={})   # the dispatcher binds "routes"
    for name in "abc":
        bind_many(q, name, name, 64)
    bind_many(q, "d", "d", 62)
    q.ctl_ok("kv", "put", "written", "k", "v")       # 256 now
    r = q.ctl("deploy", "tenants/late", EXAMPLES / "kv", "--kv",
              "C=one-more")
    assert r.returncode == 5, r.stderr
    assert "deploy tenants/late: kv C=one-more: KV namespace one-more " \
        "cannot be created: the store has 256 namespaces, written or " \
        "bound by a worker (at most 256; yardctl kv drop one)" \
        in r.stderr, r.stderr
    assert "tenants/late" not in q.workers()
    r = q.ctl("kv", "put", "another", "k", "v")
    assert r.returncode == 1 and "KV namespace another cannot be created" \
        in r.stderr, r.stderr
    # binding what exists, or is bound, takes no room
    q.ctl_ok("deploy", "tenants/late", EXAMPLES / "kv", "--kv", "C=written")
    q.ctl_ok("deploy", "tenants/late", EXAMPLES / "kv", "--kv", "A=a0")
    # a dropped namespace frees its place
    q.ctl_ok("kv", "drop", "written")
    q.ctl_ok("deploy", "tenants/late", EXAMPLES / "kv", "--kv",
             "C=one-more")
    q.ctl_ok("kv", "put", "one-more", "k", "v")
    assert q.get("/get?b=C&k=k", host="late.example.com")[2] == b"v"


def test_get_over_the_channel_bound(make_platform, tmp_path):
    """A worker's channel queue is bounded from [router] max_body_bytes
    plus the largest KV value, so a 1 MiB get works even when request
    bodies are capped far below it."""
    q = make_platform(router={"max_body_bytes": "64k"}, deploys={})
    q.ctl_ok("deploy", "tenants/kvapp", EXAMPLES / "kv", "--kv", "C=c")
    f = tmp_path / "v"
    f.write_bytes(b"v" * MiB)
    q.ctl_ok("kv", "put", "c", "big", "--file", f)
    q.ctl_ok("kv", "put", "c", "small", "s")
    assert kv_get(q, "C", "big") == (200, b"v" * MiB)
    assert kv_get(q, "C", "small") == (200, b"s")
    assert ctl_bytes(q, "kv", "get", "c", "big").stdout == b"v" * MiB


# ---- the read cache of ws_kv_get (docs/kv.md, "Read cache") ----

def kv_requests(p, worker, kv_ns, op="get"):
    """switchyard_kv_requests_total of tenants/WORKER for KV_NS and op."""
    conn = http.client.HTTPConnection("127.0.0.1", p.admin_port, timeout=10)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    want = (f'switchyard_kv_requests_total{{namespace="tenants",'
            f'worker="{worker}",kv_namespace="{kv_ns}",op="{op}"}} ')
    for line in body.splitlines():
        if line.startswith(want):
            return int(line[len(want):])
    return 0


@pytest.fixture(scope="module")
def cached(p):
    """tenants/kvc and tenants/kvw (examples/kv, one process each) bound
    to KV namespace cachens."""
    for w in ("kvc", "kvw"):
        p.ctl_ok("deploy", f"tenants/{w}", EXAMPLES / "kv", "--plan",
                 "single", "--kv", "C=cachens")
    return p


def cget(p, key, worker="kvc"):
    status, _, body = p.get(f"/get?b=C&k={key}", host=f"{worker}.example.com")
    return status, body


def test_repeated_gets_ask_the_supervisor_once(cached):
    p = cached
    p.ctl_ok("kv", "put", "cachens", "hot", "v1")
    before = kv_requests(p, "kvc", "cachens")
    for _ in range(20):
        assert cget(p, "hot") == (200, b"v1")
    assert kv_requests(p, "kvc", "cachens") == before + 1
    # a write is seen by the very next request, which asks once more
    p.ctl_ok("kv", "put", "cachens", "hot", "v2")
    for _ in range(10):
        assert cget(p, "hot") == (200, b"v2")
    assert kv_requests(p, "kvc", "cachens") == before + 2
    # "no such key" is cached as well
    for _ in range(10):
        assert cget(p, "nokey")[0] == 404
    assert kv_requests(p, "kvc", "cachens") == before + 3
    p.ctl_ok("kv", "put", "cachens", "nokey", "now here")
    assert cget(p, "nokey") == (200, b"now here")


def test_every_write_is_seen_by_the_next_request(cached):
    """Writes from yardctl and from another worker each reach the next
    request of a worker that has the key cached."""
    p = cached
    p.ctl_ok("kv", "put", "cachens", "w", "0")
    for i in range(1, 6):
        assert cget(p, "w") == (200, str(i - 1).encode())
        status, _, _ = p.get(f"/put?b=C&k=w&v={i}", host="kvw.example.com")
        assert status == 200
        assert cget(p, "w") == (200, str(i).encode())
    p.ctl_ok("kv", "delete", "cachens", "w")
    assert cget(p, "w")[0] == 404
    # and its own write
    assert p.get("/put?b=C&k=w&v=own", host="kvc.example.com")[0] == 200
    assert cget(p, "w") == (200, b"own")


def test_import_is_seen_by_the_next_request(cached, tmp_path):
    p = cached
    p.ctl_ok("kv", "put", "cachens", "imp", "before")
    assert cget(p, "imp") == (200, b"before")
    f = tmp_path / "batch.tsv"
    f.write_text("imp\tafter\nimp2\tx\n")
    p.ctl_ok("kv", "import", "cachens", f)
    assert cget(p, "imp") == (200, b"after")


def test_cached_value_expires(cached):
    p = cached
    p.ctl_ok("kv", "put", "cachens", "ttl", "brief", "--ttl", "1")
    assert cget(p, "ttl") == (200, b"brief")
    assert cget(p, "ttl") == (200, b"brief")
    time.sleep(2.2)
    assert cget(p, "ttl")[0] == 404


def test_forged_generations_never_reach_the_callee(cached):
    """A worker writing its own Request.kv_gens into a ws_dispatch, naming
    the generation under which the callee cached an old value, still gets
    the callee to read the new one: the supervisor's kv_gens, appended
    last, wins; and it reads nothing about generations from workers."""
    p = cached
    p.ctl_ok("deploy", "tenants/kvgens", HOSTILE / "kvgens", "--plan",
             "single", "--kv", "C=cachens:ro", "--service", "KVC=tenants/kvc")
    host = "kvgens.example.com"
    p.ctl_ok("kv", "put", "cachens", "k", "old")
    assert cget(p, "k") == (200, b"old")
    status, _, gen = p.get("/gen", host=host)
    assert status == 200 and int(gen) > 0
    p.ctl_ok("kv", "put", "cachens", "k", "new")
    status, _, body = p.get(f"/forge?to=kvc&gen={int(gen)}", host=host)
    assert (status, body) == (200, b"new"), p.log_tail()
    assert cget(p, "k") == (200, b"new")
