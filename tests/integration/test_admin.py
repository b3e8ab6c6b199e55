"""The admin listener (admin_listen): /ping, /status, /status?json and
/metrics, answered by the router from the supervisor's per-worker counters,
through the real processes with real HTTP clients. The public port knows
nothing of these paths: there they are ordinary requests for the
dispatcher.
"""

import http.client
import json
import re

import pytest

from conftest import EXAMPLES, HTTP_TIMEOUT, platform_fixture

PLANS = {"sub5": (1, 64, 10000, 60, {"subrequests": 5})}
DEPLOYS = {
    "tenants/hello": (EXAMPLES / "hello", "default", []),
    "tenants/alice": (EXAMPLES / "alice", "default", []),
    "tenants/crash": (EXAMPLES / "crash", "single", []),
    # /dispatch calls tenants/hello, which it must be bound to
    "tenants/sub5": (EXAMPLES / "limits", "sub5", [], [],
                     {"service": ["HELLO=tenants/hello"]}),
}

p = platform_fixture(plans=PLANS, deploys=DEPLOYS)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def admin(p, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", p.admin_port,
                                   timeout=HTTP_TIMEOUT)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, f"bad labels: {text!r}"
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse_prometheus(text):
    """{name: {"type", "help", "samples": [(labels, value)]}}, checking the
    text format as a scraper would: every sample line `name{labels} value`,
    HELP and TYPE before the family's samples."""
    fams, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name, help_ = line[7:].split(" ", 1)
            fams.setdefault(name, {"samples": []})["help"] = help_
            continue
        if line.startswith("# TYPE "):
            name, typ = line[7:].split(" ", 1)
            assert typ in ("counter", "gauge", "histogram"), line
            fams.setdefault(name, {"samples": []})["type"] = typ
            types[name] = typ
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), \
            float(m.group(3))
        family = name
        if name not in types:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert types.get(family) == "histogram", \
                f"sample before its TYPE: {line!r}"
        fams[family]["samples"].append((name, labels, value))
    for name, f in fams.items():
        assert "help" in f and "type" in f, f"{name} lacks HELP/TYPE"
    return fams


def value(fams, family, name=None, **labels):
    name = name or family
    got = [v for n, ls, v in fams[family]["samples"]
           if n == name and all(ls.get(k) == w for k, w in labels.items())]
    assert len(got) == 1, (family, labels, got)
    return got[0]


# (first, last) bucket bounds, seconds: CPU time has finer buckets, as
# requests often use well under a millisecond of it
BOUNDS = {"switchyard_request_cpu_seconds": (0.00005, 30)}


def check_histogram(fams, family, ns, worker):
    rows = [(ls["le"], v) for n, ls, v in fams[family]["samples"]
            if n == family + "_bucket" and ls["namespace"] == ns and
            ls["worker"] == worker]
    assert rows and rows[-1][0] == "+Inf", rows
    counts = [v for _, v in rows]
    assert counts == sorted(counts), f"{family} buckets not cumulative"
    bounds = [float(le) for le, _ in rows[:-1]]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds) and \
        (bounds[0], bounds[-1]) == BOUNDS.get(family, (0.001, 10)), bounds
    assert counts[-1] == value(fams, family, family + "_count",
                               namespace=ns, worker=worker)
    return counts[-1]


def metrics(p):
    status, ctype, body = admin(p, "/metrics")
    assert status == 200, body
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return parse_prometheus(body)


def crash(p, path):
    return p.get(path, host="crash.example.com")[0]


def test_ping(p):
    assert admin(p, "/ping")[::2] == (200, "pong\n")


def test_unknown_path_is_404_and_other_methods_405(p):
    assert admin(p, "/nope")[0] == 404
    assert admin(p, "/")[0] == 404
    assert admin(p, "/metrics", method="POST")[0] == 405
    assert admin(p, "/ping", method="DELETE")[0] == 405


def test_status_lists_the_workers(p):
    assert p.get("/", host="alice.test")[0] == 200
    status, ctype, body = admin(p, "/status")
    assert status == 200 and ctype.startswith("text/plain"), body
    pools = {}
    for block in body.split("\n\n")[1:]:
        fields = dict(line.split(":", 1) for line in block.splitlines())
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        pools[fields["pool"]] = fields
    assert set(pools) >= {"tenants/alice", "platform/dispatcher"}, body
    alice = pools["tenants/alice"]
    assert alice["state"] == "RUNNING", alice
    assert int(alice["requests"]) >= 1 and int(alice["live processes"]) >= 1
    for key in ("idle processes", "busy processes", "queue depth",
                "max queue reached", "max children reached", "errors",
                "load shed", "accepted since"):
        assert int(pools["tenants/alice"][key]) >= 0, key
    assert int(alice["accepted since"]) > 1_600_000_000


def test_status_json(p):
    assert p.get("/", host="alice.test")[0] == 200
    status, ctype, body = admin(p, "/status?json")
    assert status == 200 and ctype == "application/json", body
    doc = json.loads(body)
    assert doc["truncated"] is False and doc["workers"] == len(doc["pools"])
    pools = {f"{w['namespace']}/{w['worker']}": w for w in doc["pools"]}
    alice = pools["tenants/alice"]
    assert alice["requests"] >= 1 and alice["live"] >= 1, alice
    assert alice["idle"] + alice["busy"] <= alice["live"], alice
    assert pools["tenants/bob" if "tenants/bob" in pools
                 else "tenants/hello"]["queue_depth"] == 0


def test_metrics_parse_and_count_outcomes(p):
    before = metrics(p)
    ok0 = value(before, "switchyard_requests_total", namespace="tenants",
                worker="crash", outcome="ok")
    d0 = value(before, "switchyard_requests_total", namespace="platform",
               worker="dispatcher", outcome="ok")
    sub0 = value(before, "switchyard_subrequests_total",
                 namespace="platform", worker="dispatcher")
    ex0 = value(before, "switchyard_requests_total", namespace="tenants",
                worker="crash", outcome="exception")
    assert crash(p, "/") == 200
    assert crash(p, "/") == 200
    assert crash(p, "/exception") == 500
    after = metrics(p)
    assert value(after, "switchyard_requests_total", namespace="tenants",
                 worker="crash", outcome="ok") == ok0 + 2
    assert value(after, "switchyard_requests_total", namespace="tenants",
                 worker="crash", outcome="exception") == ex0 + 1
    n = check_histogram(after, "switchyard_request_duration_seconds",
                        "tenants", "crash")
    assert n >= 3
    assert check_histogram(after, "switchyard_request_cpu_seconds",
                           "tenants", "crash") == n
    assert check_histogram(after, "switchyard_spawn_duration_seconds",
                           "tenants", "crash") >= 1
    assert value(after, "switchyard_spawns_total", namespace="tenants",
                 worker="crash") >= 1
    assert value(after, "switchyard_cpu_seconds_total", namespace="tenants",
                 worker="crash") >= 0
    for state in ("busy", "idle"):
        assert value(after, "switchyard_processes", namespace="tenants",
                     worker="crash", state=state) >= 0
    assert value(after, "switchyard_queue_depth", namespace="tenants",
                 worker="crash") == 0
    assert value(after, "switchyard_load_shed_total", namespace="tenants",
                 worker="crash") == 0
    for name in ("switchyard_subrequests_total",
                 "switchyard_violations_total"):
        assert name in after, name
    # the dispatcher decided each request and forwarded it: an ok of its
    # own each, and no subrequest
    assert value(after, "switchyard_requests_total", namespace="platform",
                 worker="dispatcher", outcome="ok") == d0 + 3
    assert value(after, "switchyard_subrequests_total",
                 namespace="platform", worker="dispatcher") == sub0


def test_counters_survive_a_crash(p):
    before = value(metrics(p), "switchyard_requests_total",
                   namespace="tenants", worker="crash", outcome="ok")
    assert crash(p, "/crash") == 500
    assert crash(p, "/") == 200
    after = metrics(p)
    assert value(after, "switchyard_requests_total", namespace="tenants",
                 worker="crash", outcome="ok") == before + 1
    assert value(after, "switchyard_spawns_total", namespace="tenants",
                 worker="crash") >= 2


def test_subrequest_violation_is_counted_by_kind(p):
    def viol(fams, kind):
        return value(fams, "switchyard_violations_total", namespace="tenants",
                     worker="sub5", kind=kind)
    before = metrics(p)
    status, _, body = p.get("/dispatch?n=6", host="sub5.example.com")
    assert status == 200 and b"limit of 5 reached" in body, body
    after = metrics(p)
    assert viol(after, "subrequests") == viol(before, "subrequests") + 1
    for kind in ("syscall", "memory", "protocol", "egress"):
        assert viol(after, kind) == viol(before, kind), kind
    assert value(after, "switchyard_subrequests_total", namespace="tenants",
                 worker="sub5") >= 5


def quantile(fams, family, ns, worker, q):
    """histogram_quantile() of Prometheus: linear within the bucket."""
    rows = [(float(ls["le"]), v) for n, ls, v in fams[family]["samples"]
            if n == family + "_bucket" and ls["namespace"] == ns and
            ls["worker"] == worker]
    rank, lo, below = q * rows[-1][1], 0.0, 0
    for le, cum in rows[:-1]:
        if cum >= rank and cum > below:
            return lo + (le - lo) * (rank - below) / (cum - below)
        lo, below = le, cum
    return rows[-2][0]


def test_status_shows_cpu_percentiles_of_the_histogram(p):
    for _ in range(20):
        assert p.get("/", host="alice.example.com")[0] == 200
    fams = metrics(p)
    w = p.workers()["tenants/alice"]
    assert 0 < w["cpu_p50_us"] <= w["cpu_p99_us"], w
    # the same histogram: the same numbers, to the microsecond
    for q, key in ((0.5, "cpu_p50_us"), (0.99, "cpu_p99_us")):
        want = quantile(fams, "switchyard_request_cpu_seconds", "tenants",
                        "alice", q) * 1e6
        assert abs(w[key] - want) <= 1, (key, w[key], want)
    r = p.ctl_ok("status", "tenants/alice")
    head, row = r.stdout.splitlines()[:2]
    col = head.split().index("CPU_P50/P99")
    p50, p99 = row.split()[col].split("/")
    assert abs(float(p50) - w["cpu_p50_us"] / 1000) <= 0.006, row
    assert abs(float(p99) - w["cpu_p99_us"] / 1000) <= 0.006, row


def test_public_port_does_not_serve_admin_paths(p):
    assert p.admin_port != p.port
    status, _, body = p.get("/metrics", host="alice.test")
    assert status == 200 and body == b"Hello from alice!\nGET /metrics\n", \
        body
    status, _, body = p.get("/ping", host="alice.test")
    assert body == b"Hello from alice!\nGET /ping\n", body
