"""Integration fixtures: a real Switchyard platform in a temporary directory.

Nothing is built here (`make integration` builds first); $SY_BUILD names the
build directory whose programs are tested (build/ or build-san/).

A Platform writes a config (free loopback port, state/run dirs inside its own
temporary directory, the example dispatcher and tenants deployed at start),
runs switchyard-supervisor in the foreground as a child, and waits until the
port accepts and `yardctl status` answers. Stopping it is itself checked:
exit status 0, no process of the platform left, no socket file left, no
sanitizer report in its log.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SY_BUILD", REPO / "build")).resolve()
EXAMPLES = BUILD / "examples"
HOSTILE = BUILD / "hostile"   # tests/hostile/*.c, for test_jail.py
TENANTS = ("alice", "bob", "echo", "crash", "hello")
# The dispatcher's routes are data in this KV namespace (docs/dispatch.md),
# reached through its read-only binding ROUTES.
ROUTES_NS = "routes"
DISPATCHER_KV = [f"ROUTES={ROUTES_NS}:ro"]
# A worker calls only what its deployment binds (docs/security.md): the
# dispatcher calls, and gives context to, every worker of `tenants`.
DISPATCHER_BINDS = {"dispatch_namespace": ["tenants"]}
START_TIMEOUT = 20.0   # seconds until the platform must be serving
STOP_TIMEOUT = 15.0    # seconds until SIGTERM must have stopped it
HTTP_TIMEOUT = 30.0    # any single HTTP exchange

SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "LeakSanitizer has encountered a fatal error",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
    # our own processes' seccomp filters: the router or supervisor doing a
    # system call its profile does not allow is a bug, even while stopping
    "router killed by signal 31 (SIGSYS)",
)

DEFAULT_ROUTER = {
    "max_header_bytes": "16k",
    "max_body_bytes": "16m",
    "header_timeout_ms": "10000",
    "idle_timeout_ms": "60000",
    "max_connections": "1024",
}

# instances, queue, queue_timeout_ms, idle_timeout_s[, {other key: value}]
# (the optional dict holds the jail's keys: memory_mb, cpu_pct, pids,
# tmp_mb, nofile, seccomp)
DEFAULT_PLANS = {
    "default": (2, 256, 10000, 60),
    "small": (1, 1, 300, 60),
    "single": (1, 64, 10000, 60),
    # The dispatch worker relays whole bodies (8 MiB in test_http.py) both
    # ways; under ASan on a slow CI core that alone can pass 50 ms of CPU.
    # It decides up to 8 requests per wake-up (plan concurrency), as the
    # demo's does: every test through the dispatcher exercises that.
    "platform": (2, 256, 10000, 60, {"cpu_ms": 2000, "concurrency": 8}),
}
# The crash tenant gets one process, so a crash visibly replaces it; echo
# copies multi-MiB bodies, so it gets the platform's CPU budget too.
TENANT_PLANS = {"crash": "single", "echo": "platform"}

_live = []  # platforms currently running, for failure reports


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_stat(pid):
    """(ppid, sid, state, starttime) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[3]), rest[0], int(rest[19])


def _all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def descendants(root):
    """{pid: starttime} of every live descendant of root."""
    children = {}
    for pid in _all_pids():
        st = _proc_stat(pid)
        if st:
            children.setdefault(st[0], []).append((pid, st[3]))
    found, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            if pid not in found:
                found[pid] = start
                todo.append(pid)
    return found


def _exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Platform:
    """One switchyard-supervisor with its router and workers."""

    def __init__(self, router=None, plans=None, deploys=None,
                 dispatcher_plan="platform", dispatcher_env=None,
                 hostmap="www.bob-shop.test bob\nalice.test alice\n",
                 routes=None, switchyard=None):
        """hostmap: "hostname worker" lines, loaded as KV routes without
        metadata beyond the worker; routes: more {KV key: value (a dict is
        written as JSON)}, e.g. {"host:a.test": {"worker": "alice"}};
        switchyard: more [switchyard] keys, e.g. {"warm_processes": 2}."""
        self.switchyard = dict(switchyard or {})
        self.tmp = Path(tempfile.mkdtemp(prefix="sy-it-", dir="/tmp"))
        # Workers may run as another user: let them reach their files.
        self.tmp.chmod(0o755)
        self.port = free_port()
        # the admin listener (test_admin.py); its own free port, never the
        # default 9090, so platforms never collide on it
        self.admin_port = free_port()
        self.state_dir = self.tmp / "state"
        self.run_dir = self.tmp / "run"
        self.socket = self.run_dir / "control.sock"
        self.routes = {f"host:{h.lower()}": {"worker": w}
                       for h, w in (line.split() for line in
                                    hostmap.splitlines() if line.strip())}
        self.routes.update(routes or {})
        self.routes_loaded = False
        self.router = dict(DEFAULT_ROUTER, **(router or {}))
        self.plans = dict(DEFAULT_PLANS, **(plans or {}))
        if deploys is None:
            deploys = {f"tenants/{t}": (EXAMPLES / t,
                                        TENANT_PLANS.get(t, "default"), [])
                       for t in TENANTS}
        self.deploys = dict({"platform/dispatcher":
                             (EXAMPLES / "dispatcher", dispatcher_plan,
                              list(dispatcher_env or []), DISPATCHER_KV,
                              DISPATCHER_BINDS)},
                            **deploys)
        self.config = self.tmp / "switchyard.ini"
        self.config.write_text(self.render_config())
        self.log_path = self.tmp / "supervisor.log"
        self.proc = None

    # ---- configuration ----

    def render_config(self, with_deploys=True):
        lines = [
            "[switchyard]",
            f"listen = 127.0.0.1:{self.port}",
            f"admin_listen = 127.0.0.1:{self.admin_port}",
            f"state_dir = {self.state_dir}",
            f"run_dir = {self.run_dir}",
            f"control_socket = {self.socket}",
            "dispatch_worker = platform/dispatcher",
            "router_user = nobody",
            "log_level = info",
        ]
        lines += [f"{k} = {v}" for k, v in self.switchyard.items()]
        lines += [
            "",
            "[router]",
        ]
        lines += [f"{k} = {v}" for k, v in self.router.items()]
        for name, plan in self.plans.items():
            inst, queue, qtimeout, idle = plan[:4]
            lines += ["", f"[plan.{name}]", f"instances = {inst}",
                      f"queue = {queue}", f"queue_timeout_ms = {qtimeout}",
                      f"idle_timeout_s = {idle}"]
            lines += [f"{k} = {v}" for k, v in
                      (plan[4] if len(plan) > 4 else {}).items()]
        if with_deploys:
            # (exe, plan, env[, kv bindings[, {key: [values]}]]), the
            # last for more [deploy] keys: service, dispatch_namespace...
            for worker, (exe, plan, env, *rest) in self.deploys.items():
                lines += ["", f"[deploy {worker}]", f"exe = {exe}",
                          f"plan = {plan}"]
                lines += [f"env = {e}" for e in env]
                lines += [f"kv = {b}" for b in (rest[0] if rest else [])]
                for key, values in (rest[1] if len(rest) > 1
                                    else {}).items():
                    lines += [f"{key} = {v}" for v in values]
        return "\n".join(lines) + "\n"

    # ---- life cycle ----

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [str(BUILD / "switchyard-supervisor"), "-c", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, cwd=self.tmp)
        finally:
            log.close()
        _live.append(self)
        self.wait_ready()
        if not self.routes_loaded:
            self.load_routes(self.routes)
            self.routes_loaded = True
        return self

    def load_routes(self, routes):
        """Writes {KV key: value} into the routes namespace in one
        `yardctl kv import` (dict values as JSON), as an operator would."""
        if not routes:
            return
        path = self.tmp / "routes.tsv"
        path.write_text("".join(
            f"{k}\t{json.dumps(v) if isinstance(v, dict) else v}\n"
            for k, v in routes.items()))
        self.ctl_ok("kv", "import", ROUTES_NS, path)

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last = "port not accepting"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._forget()
                raise AssertionError(
                    f"supervisor exited with {self.proc.returncode} during "
                    f"start\n{self.log_tail()}")
            if self._port_accepts():
                r = self.ctl("status", timeout=5)
                if r.returncode == 0:
                    return
                last = f"yardctl status: rc {r.returncode}: {r.stderr.strip()}"
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"platform not ready after {START_TIMEOUT}s "
                             f"({last})\n{self.log_tail()}")

    def _port_accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM):
        """Stops the platform and checks it stopped cleanly."""
        proc = self.proc
        if proc is None:
            return
        tree = descendants(proc.pid)
        problems = []
        if proc.poll() is not None:
            problems.append(f"supervisor had already exited with "
                            f"{proc.returncode} before it was stopped")
        else:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"supervisor still running {STOP_TIMEOUT}s "
                                f"after {signal.Signals(sig).name}")
                self.kill()
        self.proc = None
        self._forget()
        if proc.returncode != 0 and not problems:
            problems.append(f"supervisor exited with status "
                            f"{proc.returncode}, want 0")
        problems += self.leftovers(proc.pid, tree)
        problems += self.sanitizer_reports()
        if problems:
            raise AssertionError("unclean stop:\n  " + "\n  ".join(problems)
                                 + "\n" + self.log_tail())

    def leftovers(self, sup_pid, tree):
        problems = []
        for pid in _all_pids():
            st = _proc_stat(pid)
            if st is None or st[2] == "Z":
                continue
            why = None
            if tree.get(pid) == st[3]:
                why = "was part of the platform's process tree"
            elif st[1] == sup_pid:
                why = "is in the supervisor's session"
            elif _exe(pid).startswith(str(self.tmp)):
                why = "runs an executable from the platform's state_dir"
            if why:
                problems.append(f"process {pid} still running after stop "
                                f"({why}): {_cmdline(pid)}")
        if self.socket.exists() or self.socket.is_symlink():
            problems.append(f"control socket {self.socket} left behind")
        if self.run_dir.is_dir():
            left = sorted(p.name for p in self.run_dir.iterdir())
            if left:
                problems.append(f"run_dir {self.run_dir} not empty after "
                                f"stop: {left}")
        for root, _, files in os.walk(self.tmp):
            for name in files:
                p = Path(root) / name
                if stat.S_ISSOCK(p.lstat().st_mode):
                    problems.append(f"socket file {p} left behind")
        return problems

    def sanitizer_reports(self):
        found = []
        for p in sorted(set([self.log_path] + list(self.tmp.rglob("*.log")))):
            if not p.is_file():
                continue
            text = p.read_text(errors="replace")
            for mark in SANITIZER_MARKS:
                if mark in text:
                    found.append(f"sanitizer report in {p}: {mark!r}")
        return found

    def kill(self):
        """Last resort: SIGKILL everything of this platform."""
        if self.proc is None:
            return
        for pid in list(descendants(self.proc.pid)) + [self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        self._forget()

    def _forget(self):
        if self in _live:
            _live.remove(self)

    def restart(self, with_deploys=True):
        """Stops cleanly, rewrites the config (optionally without deploy
        sections) and starts again on the same port and state_dir."""
        self.stop()
        self.config.write_text(self.render_config(with_deploys))
        return self.start()

    def cleanup(self):
        if os.environ.get("SY_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=60):
        tail = self.log_text().splitlines()[-lines:]
        return f"--- {self.log_path} (last {len(tail)} lines) ---\n" + \
            "\n".join(tail)

    # ---- clients ----

    def ctl(self, *args, env=None, timeout=15, sock=True):
        cmd = [str(BUILD / "yardctl")]
        if sock:
            cmd += ["-s", str(self.socket)]
        full_env = dict(os.environ)
        full_env.pop("SWITCHYARD_SOCKET", None)
        full_env.update(env or {})
        return subprocess.run(cmd + [str(a) for a in args], env=full_env,
                              capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def ctl_ok(self, *args):
        r = self.ctl(*args)
        assert r.returncode == 0, \
            f"yardctl {' '.join(map(str, args))}: rc {r.returncode}\n" \
            f"stdout: {r.stdout}\nstderr: {r.stderr}"
        return r

    def workers(self):
        """`yardctl --json status`, as {"ns/name": worker dict}."""
        r = self.ctl_ok("--json", "status")
        data = json.loads(r.stdout)
        if isinstance(data, dict):
            data = data.get("workers", [])
        return {f"{w['ns']}/{w['name']}": w for w in data}

    def conn(self, timeout=HTTP_TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, path, host=None, body=None, headers=None,
                timeout=HTTP_TIMEOUT):
        """One request on a new connection: (status, headers, body)."""
        c = self.conn(timeout)
        try:
            h = dict(headers or {})
            if host is not None:
                h["Host"] = host
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r, r.read()
        finally:
            c.close()

    def get(self, path="/", host=None, **kw):
        return self.request("GET", path, host=host, **kw)

    def curl(self, *args, timeout=30):
        return subprocess.run(
            ["curl", "-sS", "--max-time", str(timeout - 5)] +
            [str(a) for a in args],
            capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def raw(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.port), timeout)


# ---- request ids: what a client is told, and where the details live ----

REQUEST_ID_HEADER = "Switchyard-Request-Id"
REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")
# What an error page may not tell a client (docs/security.md).
PAGE_SECRETS = ("SIGSEGV", "SIGSYS", "signal", "memory cap", "MiB",
                "CPU time", "wall time", "used ", " ms", "killed", "pid",
                "violation", "protocol", "syscall")


def request_id(resp):
    """The id in a response's Switchyard-Request-Id header (an
    http.client response or a RawResponse), checked for its shape."""
    rid = (resp.getheader(REQUEST_ID_HEADER) if hasattr(resp, "getheader")
           else resp.header(REQUEST_ID_HEADER))
    assert rid is not None and REQUEST_ID.match(rid), \
        f"{REQUEST_ID_HEADER}: {rid!r}"
    return rid


def error_page(resp, body, status, outcome, errno=None):
    """Checks a platform error page: exactly the status, the outcome, its
    error number and the request id of the header, nothing else (no
    worker, signal, cap or CPU figure). Returns the request id."""
    rid = request_id(resp)
    text = body.decode(errors="replace") if isinstance(body, bytes) \
        else body
    num = f" (error {errno})" if errno else ""
    reason = {499: "Client Closed Request"}.get(
        status, http.client.responses.get(status))
    want = f"{status} {reason}: {outcome}{num}\nrequest id: {rid}\n"
    assert text == want, f"error page {text!r}, want {want!r}"
    for secret in PAGE_SECRETS + ("/",):
        assert secret not in text, f"{secret!r} on the error page {text!r}"
    return rid


def events_of(p, rid, want=2, timeout=10.0):
    """The request events under request id rid, {scriptName: event}, once
    at least `want` of them arrived (the events ring must be on)."""
    deadline = time.monotonic() + timeout
    while True:
        r = p.ctl_ok("events", "--json", "--request-id", rid)
        evs = [json.loads(line) for line in r.stdout.splitlines()]
        if len(evs) >= want or time.monotonic() > deadline:
            return {e["scriptName"]: e for e in evs}
        time.sleep(0.1)


def request_log(p, rid, timeout=5.0):
    """The supervisor's log line about failed request rid: "request RID:
    worker NS/NAME: OUTCOME (STATUS): reason[; violation: V]"."""
    deadline = time.monotonic() + timeout
    pat = re.compile(rf"^.*: request {rid}: (worker .*)$", re.M)
    while True:
        m = pat.search(p.log_text())
        if m or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert m, f"no log line about request {rid}\n" + p.log_tail()
    return m.group(1)


# ---- raw HTTP parsing for pipelining and malformed-request tests ----

# ---- the control socket below yardctl ----

def raw_ctl(p, payload, fd):
    """One CTL_REQUEST (payload: a packed CtlRequest) with fd passed, as
    yardctl sends it; returns the CtlResponse payload. For what yardctl
    itself would refuse to send."""
    hdr = len(payload).to_bytes(4, "big") + bytes([16, 1, 0, 0]) + \
        (1).to_bytes(4, "big")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(p.socket))
        socket.send_fds(s, [hdr + payload], [fd])
        data = b""
        while len(data) < 12 or len(data) < 12 + \
                int.from_bytes(data[:4], "big"):
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
    assert data[4] == 17  # CTL_RESPONSE
    return data[12:]


def pb_str(field, s):
    b = s.encode()
    return bytes([field << 3 | 2, len(b)]) + b


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (lower-case name, value)
        self.body = body

    def header(self, name):
        for n, v in self.headers:
            if n == name.lower():
                return v
        return None


def read_response(f, head_only=False):
    """Reads one HTTP/1.1 response from a binary file object; None at EOF."""
    line = f.readline(65536)
    if not line:
        return None
    parts = line.decode("latin-1").split(" ", 2)
    assert parts[0].startswith("HTTP/1."), f"bad status line {line!r}"
    status = int(parts[1])
    headers = []
    while True:
        h = f.readline(65536)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    resp = RawResponse(status, headers, b"")
    if head_only or status in (204, 304) or 100 <= status < 200:
        return resp
    if (resp.header("transfer-encoding") or "").lower() == "chunked":
        resp.body = _read_chunked(f)
    elif resp.header("content-length") is not None:
        n = int(resp.header("content-length"))
        resp.body = f.read(n)
        assert len(resp.body) == n, "response body cut short"
    else:
        resp.body = f.read()
    return resp


def _read_chunked(f):
    out = []
    while True:
        size = int(f.readline(1024).split(b";")[0].strip(), 16)
        if size == 0:
            while f.readline(65536) not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(out)
        out.append(f.read(size))
        f.readline(16)


def closed_by_peer(sock, timeout=5.0):
    """True if the peer closes sock (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


# ---- fixtures ----

@pytest.fixture(scope="session", autouse=True)
def _built():
    missing = [p for p in (BUILD / "switchyard-supervisor",
                           BUILD / "switchyard-router", BUILD / "yardctl",
                           EXAMPLES / "dispatcher")
               if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"not built (run make): {', '.join(map(str, missing))}",
                    pytrace=False)


def run_platform(p):
    """For module fixtures that configure a Platform themselves:
    `yield from run_platform(p)` starts it unless running, yields it, then
    stops it (checking it stopped cleanly), killing it if that failed, and
    removes its files."""
    try:
        if not p.running:
            p.start()
        yield p
        p.stop()
    finally:
        if p.running:
            p.kill()
        p.cleanup()


def platform_fixture(**kw):
    """A module-scoped fixture running one Platform configured with kw."""
    @pytest.fixture(scope="module")
    def fixture():
        yield from run_platform(Platform(**kw))
    return fixture


platform = platform_fixture()


@pytest.fixture
def make_platform():
    """Factory for function-scoped platforms (tests that break or restart
    things); each is stopped and checked at the end of the test.
    prepare(platform), if given, runs before the platform starts."""
    made = []

    def make(prepare=None, **kw):
        p = Platform(**kw)
        made.append(p)
        if prepare:
            prepare(p)
        return p.start()

    yield make
    problems = []
    for p in made:
        try:
            if p.running:
                p.stop()
        except AssertionError as e:
            problems.append(str(e))
        finally:
            if p.running:
                p.kill()
            p.cleanup()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when == "call":
        for p in list(_live):
            rep.sections.append((f"switchyard log {p.log_path}",
                                 p.log_tail(80)))
