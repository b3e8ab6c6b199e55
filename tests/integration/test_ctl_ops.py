"""yardctl's operator commands (after supervisorctl), through the real
processes: status states and exit codes, start, stop (drains), restart,
signal, pid, tail [-f], avail, reread/update/reload (and SIGHUP), shutdown,
top, and the interactive shell in a pseudo-terminal."""

import json
import os
import pty
import select
import signal
import subprocess
import threading
import time

import pytest

from conftest import BUILD, EXAMPLES, platform_fixture

LIMITS = EXAMPLES / "limits"
DEPLOYS = {
    "tenants/alice": (EXAMPLES / "alice", "default", []),
    "tenants/bob": (EXAMPLES / "bob", "default", []),
    "tenants/crash": (EXAMPLES / "crash", "single", []),
    "tenants/sleepy": (LIMITS, "single", []),
    "tenants/spare": (EXAMPLES / "hello", "default", []),
}

p = platform_fixture(deploys=DEPLOYS)


def get(p, name, path="/", timeout=30):
    status, _, body = p.get(path, host=f"{name}.example.com", timeout=timeout)
    return status, body.decode(errors="replace")


def pids(p, worker):
    r = p.ctl_ok("pid", worker)
    return [int(x) for x in r.stdout.split()]


def state(p, worker):
    return p.workers()[worker]["state"]


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


# ---- status, pid, exit codes ----

def test_status_idle_is_not_an_error_and_lists_states(p):
    r = p.ctl("status")
    assert r.returncode == 0, r.stderr
    assert "tenants/spare" in r.stdout
    r = p.ctl_ok("status", "-l", "all")
    assert r.stdout.splitlines()[0].split()[-3:] == ["UPTIME", "PIDS", "CPU"]
    assert p.ctl("status", "tenants/nope").returncode == 4
    assert p.ctl("status", "Bad Name").returncode == 5
    assert p.ctl("status", "a", "b").returncode == 2


def test_pid_of_the_supervisor_and_of_a_worker(p):
    r = p.ctl_ok("pid")
    assert int(r.stdout) == p.proc.pid
    assert get(p, "alice")[0] == 200
    assert pids(p, "tenants/alice")
    assert p.ctl("pid", "tenants/nope").returncode == 4


def test_usage_errors_exit_2(p):
    for args in (["start"], ["stop", "a/b", "c/d"], ["signal", "TERM"],
                 ["tail"], ["avail", "x"], ["shutdown", "now"],
                 ["frobnicate"]):
        r = p.ctl(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("yardctl: ")


def test_unreachable_exits_3(p, tmp_path):
    r = p.ctl("-s", tmp_path / "nothing.sock", "pid", sock=False)
    assert r.returncode == 3 and "nothing.sock" in r.stderr


# ---- start, stop, restart ----

def test_start_prespawns_the_plans_instances(p):
    p.ctl_ok("stop", "tenants/spare")
    assert pids(p, "tenants/spare") == []
    r = p.ctl_ok("start", "tenants/spare")
    assert "tenants/spare: started" in r.stdout
    got = pids(p, "tenants/spare")
    assert len(got) == 2 and all(alive(x) for x in got)
    assert state(p, "tenants/spare") == "RUNNING"


def test_stop_drains_and_the_worker_stays_stopped(p):
    assert get(p, "sleepy", "/sleep?ms=10")[0] == 200
    result = {}

    def slow():
        result["r"] = get(p, "sleepy", "/sleep?ms=1500")

    t = threading.Thread(target=slow)
    t.start()
    wait_for(lambda: p.workers()["tenants/sleepy"]["busy"] == 1,
             what="the slow request to be in flight")
    t0 = time.monotonic()
    r = p.ctl_ok("stop", "tenants/sleepy")
    waited = time.monotonic() - t0
    t.join(30)
    assert result["r"][0] == 200, result
    assert waited > 0.5, waited  # it waited for the request to finish
    assert "tenants/sleepy: stopped" in r.stdout
    assert pids(p, "tenants/sleepy") == []
    status, body = get(p, "sleepy", "/sleep?ms=1")
    assert status == 503 and "loadShed" in body, body
    r = p.ctl("status", "tenants/sleepy")
    assert r.returncode == 6, (r.stdout, r.stderr)
    assert "STOPPED" in r.stdout and "not running" in r.stderr
    assert p.ctl("status", "tenants/alice").returncode == 0
    p.ctl_ok("start", "tenants/sleepy")
    assert get(p, "sleepy", "/sleep?ms=1")[0] == 200
    assert p.ctl("status", "tenants/sleepy").returncode == 0


def test_restart_gives_new_pids(p):
    p.ctl_ok("start", "tenants/bob")
    before = set(pids(p, "tenants/bob"))
    assert before
    p.ctl_ok("restart", "tenants/bob")
    after = set(pids(p, "tenants/bob"))
    assert after and not (before & after)
    assert get(p, "bob")[0] == 200


def test_start_and_stop_unknown_worker_exit_4(p):
    for cmd in ("start", "stop", "restart"):
        r = p.ctl(cmd, "tenants/nope")
        assert r.returncode == 4 and "tenants/nope" in r.stderr
    assert p.ctl("stop", "nope/*").returncode == 4


# ---- signal ----

def test_signal_term_kills_a_process_and_it_is_respawned(p):
    assert get(p, "crash", "/")[0] == 200
    (pid,) = pids(p, "tenants/crash")
    r = p.ctl_ok("signal", "TERM", "tenants/crash")
    assert "SIGTERM" in r.stdout
    wait_for(lambda: not alive(pid), what=f"process {pid} to die")
    assert get(p, "crash", "/")[0] == 200
    assert pids(p, "tenants/crash") != [pid]


def test_signal_refuses_other_signals(p):
    for sig in ("STOP", "SEGV", "9x", "0"):
        r = p.ctl("signal", sig, "tenants/alice")
        assert r.returncode == 5, (sig, r.stderr)
    assert p.ctl("signal", "15", "tenants/nope").returncode == 4


# ---- tail ----

def test_tail_shows_what_the_worker_logged(p):
    get(p, "alice")  # the dispatcher has started
    r = p.ctl_ok("tail", "platform/dispatcher", "stderr")
    assert "host map" in r.stdout
    r = p.ctl_ok("tail", "platform/dispatcher")  # stdout: nothing
    assert "host map" not in r.stdout
    assert p.ctl("tail", "tenants/nope").returncode == 4
    assert p.ctl("tail", "tenants/alice", "stdin").returncode == 2


def test_tail_follow_streams_new_lines(p):
    proc = subprocess.Popen(
        [str(BUILD / "yardctl"), "-s", str(p.socket), "tail", "-f",
         "tenants/crash", "stderr"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        status, _ = get(p, "crash", "/crash")
        assert status == 500
        buf = ""
        deadline = time.monotonic() + 10
        while "crashing on purpose" not in buf and \
                time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                buf += os.read(proc.stdout.fileno(), 4096).decode()
        assert "crashing on purpose" in buf
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(5) == 0


# ---- avail, top ----

def test_avail_lists_plans_and_workers(p):
    r = p.ctl_ok("avail")
    assert "plan single:" in r.stdout
    assert "worker tenants/alice:" in r.stdout


def test_top_not_on_a_terminal_prints_one_snapshot(p):
    r = p.ctl_ok("top")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("yardctl top") and "load average" in lines[0]
    assert "NAME" in lines[1] and "REQ/s" in lines[1]
    assert any("tenants/alice" in x for x in lines)


def run_in_pty(p, args, steps, timeout=15):
    """Runs yardctl in a pty; steps: (text to send or None, text to wait
    for). Returns everything read."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(str(BUILD / "yardctl"),
                 ["yardctl", "-s", str(p.socket)] + list(args))
    out = b""
    try:
        for send, want in steps:
            if send is not None:
                os.write(fd, send.encode())
            deadline = time.monotonic() + timeout
            while want.encode() not in out:
                left = deadline - time.monotonic()
                assert left > 0, f"no {want!r} in {out[-2000:]!r}"
                ready, _, _ = select.select([fd], [], [], left)
                if ready:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
        _, st = os.waitpid(pid, 0)
        return out.decode(errors="replace"), os.waitstatus_to_exitcode(st)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        os.close(fd)


def test_top_in_a_terminal_quits_on_q(p):
    out, rc = run_in_pty(p, ["top", "-d", "0.3"],
                         [(None, "tenants/alice"), (None, "REQ/s"),
                          ("q", "\n")])
    assert rc == 0
    assert "yardctl top" in out and "load average" in out


def test_interactive_shell(p):
    out, rc = run_in_pty(p, [], [
        (None, "yardctl> "),
        ("help\n", "exit codes"),
        ("sta\t", "status  start"),
        ("\x15pid tenants/ali\t", "ce "),
        ("\n", "yardctl> "),
        ("status tenants/alice\n", "RUNNING"),
        ("quit\n", "quit"),
    ])
    assert rc == 0, out
    assert "start" in out and "status" in out


def test_shell_survives_ctrl_c_of_a_follow(p):
    """tail -f (and events -f, top) end on Ctrl-C; in the shell that
    returns to the prompt instead of leaving the shell."""
    # the dispatcher's first line says how it routes: once it shows, the
    # follow is running and Ctrl-C is its to take
    out, rc = run_in_pty(p, [], [
        (None, "yardctl> "),
        ("tail -f platform/dispatcher stderr\n", "routing:"),
        # whatever is typed after Ctrl-C is the shell's again
        ("\x03help pid\n", "the supervisor's pid"),
        ("quit\n", "quit"),
    ])
    assert rc == 0, out


# ---- reread, update, reload, shutdown (their own platforms) ----

def test_reread_and_update_after_editing_the_config(make_platform):
    q = make_platform(deploys={"tenants/hello": (EXAMPLES / "hello",
                                                  "single", [])})
    r = q.ctl_ok("reread")
    assert "no changes" in r.stdout
    q.plans["single"] = (2, 64, 10000, 60)
    q.plans["extra"] = (1, 1, 300, 60)
    q.config.write_text(q.render_config())
    r = q.ctl_ok("reread")
    assert "plan single: changed (instances 1 -> 2)" in r.stdout
    assert "plan extra: added" in r.stdout
    assert q.ctl_ok("avail").stdout.count("plan single: instances 1") == 1
    r = q.ctl_ok("update")
    assert "plan single: changed" in r.stdout
    assert "plan single: instances 2" in q.ctl_ok("avail").stdout
    q.ctl_ok("start", "tenants/hello")
    assert len(pids(q, "tenants/hello")) == 2
    assert "no changes" in q.ctl_ok("reread").stdout
    # fewer instances: the excess idle process stops
    q.plans["single"] = (1, 64, 10000, 60)
    q.config.write_text(q.render_config())
    os.kill(q.proc.pid, signal.SIGHUP)
    wait_for(lambda: len(pids(q, "tenants/hello")) == 1,
             what="one process after SIGHUP")
    # a removed plan still in use is refused
    del q.plans["single"]
    q.config.write_text(q.render_config(with_deploys=False))
    r = q.ctl("update")
    assert r.returncode == 5 and "tenants/hello" in r.stderr, r.stderr
    assert get(q, "hello")[0] == 200
    bad = q.config.read_text().replace("[switchyard]", "[switchyard")
    q.config.write_text(bad)
    assert q.ctl("reload").returncode == 5


def test_shutdown_stops_the_platform(make_platform):
    q = make_platform(deploys={"tenants/hello": (EXAMPLES / "hello",
                                                  "default", [])})
    assert get(q, "hello")[0] == 200
    tree_pid = q.proc.pid
    r = q.ctl_ok("shutdown")
    assert "shutting down" in r.stdout
    assert q.proc.wait(15) == 0
    q.proc = None
    problems = q.leftovers(tree_pid, {})
    assert not problems, problems
    assert q.ctl("pid").returncode == 3


def test_json_lines(p):
    data = json.loads(p.ctl_ok("--json", "pid").stdout)
    assert data["lines"] == [str(p.proc.pid)]


def test_sighup_sends_reloading_then_ready(make_platform, monkeypatch,
                                           tmp_path):
    import socket as sk
    path = tmp_path / "notify.sock"
    s = sk.socket(sk.AF_UNIX, sk.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        q = make_platform(deploys={})
        got = []
        while not any(m.startswith(b"READY=1") for m in got):
            got.append(s.recv(4096))
        os.kill(q.proc.pid, signal.SIGHUP)
        first = s.recv(4096).decode()
        assert first.startswith("RELOADING=1\nMONOTONIC_USEC="), first
        assert s.recv(4096).decode().startswith("READY=1"), "no READY"
    finally:
        s.close()
