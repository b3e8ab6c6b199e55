"""Worker processes: crashes become outcome `exception` (500, error 1101) and
the worker recovers; tenants run in separate processes; a full queue sheds
load with 503 and Retry-After. The client's error page says only that;
which worker failed and how is in the supervisor's log and the events,
under the request id the response carries."""

import json
import threading
import time

import pytest

from conftest import EXAMPLES, error_page, request_log

CRASH = "crash.example.com"


def _alive_pid(platform):
    """The host pid of the crash worker's only process: inside its own pid
    namespace the worker sees itself as pid 1, so ask the supervisor."""
    status, _, body = platform.get("/", host=CRASH)
    assert status == 200, body
    assert b"crash worker alive" in body, body
    (pid,) = platform.workers()["tenants/crash"]["pids"]
    return pid


@pytest.mark.parametrize("path", ["/crash", "/exit", "/exception"])
def test_failing_worker_is_500_exception_then_recovers(platform, path):
    before = platform.workers()["tenants/crash"]["errors"]
    status, resp, body = platform.get(path, host=CRASH)
    assert status == 500
    rid = error_page(resp, body, 500, "exception", errno=1101)
    line = request_log(platform, rid)
    assert line.startswith("worker tenants/crash: exception (500): "), line
    # The next request is served (by a new process if the old one died).
    _alive_pid(platform)
    assert platform.workers()["tenants/crash"]["errors"] >= before + 1


def _running(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def test_crashed_process_is_replaced(platform):
    """tenants/crash runs one process: after it aborts, a new one serves."""
    old = _alive_pid(platform)
    assert platform.get("/crash", host=CRASH)[0] == 500
    new = _alive_pid(platform)
    assert new != old
    assert not _running(old)
    assert platform.workers()["tenants/crash"]["pids"] == [new]


def test_handler_exception_keeps_the_process(platform):
    """A handler that returns < 0 is an exception for that request only."""
    pid = _alive_pid(platform)
    assert platform.get("/exception", host=CRASH)[0] == 500
    assert _alive_pid(platform) == pid


def test_two_tenants_run_in_different_processes(platform):
    assert platform.get("/", host="alice.example.com")[0] == 200
    assert platform.get("/", host="bob.example.com")[0] == 200
    crash_pid = _alive_pid(platform)
    w = platform.workers()
    alice, bob = set(w["tenants/alice"]["pids"]), set(w["tenants/bob"]["pids"])
    crash = set(w["tenants/crash"]["pids"])
    disp = set(w["platform/dispatcher"]["pids"])
    assert alice and bob and crash and disp
    assert not (alice & bob) and not (alice & crash) and not (bob & crash)
    assert not (disp & (alice | bob | crash))
    assert crash_pid in crash
    # Each process runs its own tenant's executable.
    for pid in alice:
        assert _cmp_exe(pid, EXAMPLES / "alice")
    for pid in bob:
        assert _cmp_exe(pid, EXAMPLES / "bob")


def _cmp_exe(pid, original):
    with open(f"/proc/{pid}/exe", "rb") as a, open(original, "rb") as b:
        return a.read() == b.read()


def test_status_counts_requests(platform):
    before = platform.workers()["tenants/bob"]["requests"]
    for _ in range(5):
        assert platform.get("/bob/count")[0] == 200
    assert platform.workers()["tenants/bob"]["requests"] >= before + 5


def test_crashing_dispatcher_is_500_logged_under_its_id(make_platform):
    """A dispatch worker that fails gets the router's own error page; the
    supervisor's log names it under the page's request id."""
    p = make_platform(deploys={})
    p.ctl_ok("deploy", "platform/dispatcher", EXAMPLES / "crash")
    status, resp, body = p.get("/crash", host="alice.example.com")
    assert status == 500
    rid = error_page(resp, body, 500, "exception", errno=1101)
    line = request_log(p, rid)
    assert line.startswith("worker platform/dispatcher: exception (500): "), \
        line
    assert "SIGSEGV" in line, line
    status, _, body = p.get("/", host="alice.example.com")
    assert status == 200 and b"crash worker alive" in body


def test_full_queue_sheds_load_with_503(make_platform):
    """The dispatcher gets one process and one queue slot, and relays
    (ws_dispatch): a request to a tenant that sleeps holds that process,
    the next waits in the queue until queue_timeout_ms and is shed; the
    one after that finds the queue full at once. The events name the
    dispatcher under each shed request's id."""
    deploys = {"tenants/hello": (EXAMPLES / "hello", "default", []),
               "tenants/sleepy": (EXAMPLES / "limits", "default", [])}
    p = make_platform(dispatcher_plan="small", deploys=deploys,
                      dispatcher_env=["DISPATCH_MODE=relay"])
    p.ctl_ok("events", "--ring", "on")
    results = {}

    def slow():
        results["slow"] = p.get("/sleep?ms=2000", host="sleepy.example.com")

    def queued():
        results["queued"] = p.get("/", host="hello.example.com")

    holder = threading.Thread(target=slow)
    holder.start()
    time.sleep(0.3)  # the request holds the dispatcher's process
    t = threading.Thread(target=queued)
    t.start()
    time.sleep(0.1)
    status, resp, body = p.get("/", host="hello.example.com")
    t.join(30)
    holder.join(30)
    assert status == 503, body
    assert resp.getheader("Retry-After") is not None
    shed = [error_page(resp, body, 503, "loadShed")]
    q_status, q_resp, q_body = results["queued"]
    assert q_status == 503, q_body
    shed.append(error_page(q_resp, q_body, 503, "loadShed"))
    for rid in shed:
        r = p.ctl_ok("events", "--json", "--request-id", rid)
        [e] = [json.loads(line) for line in r.stdout.splitlines()]
        assert e["requestId"] == rid and e["outcome"] == "loadShed", e
        assert e["scriptName"] == "platform/dispatcher", e
    s_status, _, s_body = results["slow"]
    assert s_status == 200 and s_body == b"slept 2000 ms\n", s_body
