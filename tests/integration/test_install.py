"""`make install`: the tree it writes, the systemd unit, and readiness
notification (the sd_notify protocol, which the unit's Type=notify relies
on), checked without a running systemd.

The tree is installed from the build under test ($SY_BUILD) with
`make -o all install`: nothing is rebuilt, so what is installed is exactly
what the other tests ran."""

import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BUILD, REPO, Platform, descendants

PREFIX = "/usr"
NOTIFY_TIMEOUT = 20.0

# path under DESTDIR: (kind, mode); kind "f" file, "d" directory, "l" link
EXPECTED = {
    "usr/bin/yardctl": ("f", 0o755),
    "usr/sbin/switchyard-supervisor": ("f", 0o755),
    "usr/sbin/switchyard-router": ("f", 0o755),
    "usr/lib/libworkershim.a": ("f", 0o644),
    "usr/lib/libworkershim.so.1": ("f", 0o755),
    "usr/lib/libworkershim.so": ("l", "libworkershim.so.1"),
    "usr/include/workershim.h": ("f", 0o644),
    "usr/lib/pkgconfig/workershim.pc": ("f", 0o644),
    "usr/lib/systemd/system/switchyard.service": ("f", 0o644),
    "usr/share/doc/switchyard/operations.md": ("f", 0o644),
    "usr/share/switchyard/examples": ("d", 0o755),
    "etc/switchyard": ("d", 0o755),
    "etc/switchyard/switchyard.ini": ("f", 0o644),
    "etc/switchyard/seccomp": ("d", 0o755),
    "var/lib/switchyard": ("d", 0o755),
}
EXAMPLES = ("hello", "alice", "bob", "echo", "crash", "dispatcher")


def make_args():
    """Makes `make install` use the build under test, with its flags."""
    args = [f"B={BUILD}"]
    if BUILD.name == "build-san":
        args.append("SAN=1")
    return args


@pytest.fixture(scope="module")
def destdir():
    d = Path(tempfile.mkdtemp(prefix="sy-install-", dir="/tmp"))
    d.chmod(0o755)  # the installed router and workers run as other users
    try:
        r = subprocess.run(
            ["make", "-C", str(REPO), "-o", "all", "install",
             f"DESTDIR={d}", f"PREFIX={PREFIX}"] + make_args(),
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        assert r.returncode == 0, \
            f"make install: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
        yield d
    finally:
        if os.environ.get("SY_KEEP_TMP") != "1":
            shutil.rmtree(d, ignore_errors=True)


# ---- the tree ----

def check_entry(root, rel, kind, mode):
    p = root / rel
    st = p.lstat()  # raises with the path if missing
    if kind == "l":
        assert stat.S_ISLNK(st.st_mode), f"{rel}: not a symlink"
        assert os.readlink(p) == mode, f"{rel} -> {os.readlink(p)}"
        return
    want = stat.S_ISDIR if kind == "d" else stat.S_ISREG
    assert want(st.st_mode), f"{rel}: wrong file type {oct(st.st_mode)}"
    assert stat.S_IMODE(st.st_mode) == mode, \
        f"{rel}: mode {oct(stat.S_IMODE(st.st_mode))}, want {oct(mode)}"


def test_tree(destdir):
    for rel, (kind, mode) in EXPECTED.items():
        check_entry(destdir, rel, kind, mode)
    for name in EXAMPLES:
        check_entry(destdir, f"usr/share/switchyard/examples/{name}", "f",
                    0o755)
    policies = sorted(p.name for p in (REPO / "policies/seccomp")
                      .glob("*.policy"))
    assert policies, "no policies/seccomp/*.policy in the source tree"
    for name in policies:
        check_entry(destdir, f"etc/switchyard/seccomp/{name}", "f", 0o644)
        assert (destdir / "etc/switchyard/seccomp" / name).read_bytes() == \
            (REPO / "policies/seccomp" / name).read_bytes()
    assert (destdir / "etc/switchyard/switchyard.ini").read_bytes() == \
        (REPO / "policies/switchyard.ini").read_bytes()
    check_entry(destdir, "etc/switchyard/egress.ini", "f", 0o644)
    assert (destdir / "etc/switchyard/egress.ini").read_bytes() == \
        (REPO / "policies/egress.ini").read_bytes()
    for name in ("switchyard-supervisor", "switchyard-router"):
        assert (destdir / "usr/sbin" / name).read_bytes() == \
            (BUILD / name).read_bytes(), f"{name} is not the tested build"


def test_default_config_matches_service_dirs(destdir):
    """The unit's StateDirectory/RuntimeDirectory are the ini's dirs."""
    ini = (destdir / "etc/switchyard/switchyard.ini").read_text()
    unit = (destdir / "usr/lib/systemd/system/switchyard.service").read_text()
    assert re.search(r"^state_dir = /var/lib/switchyard$", ini, re.M)
    assert re.search(r"^run_dir = /run/switchyard$", ini, re.M)
    assert re.search(r"^StateDirectory=switchyard$", unit, re.M)
    assert re.search(r"^RuntimeDirectory=switchyard$", unit, re.M)


def test_reinstall_keeps_edited_config(destdir):
    ini = destdir / "etc/switchyard/switchyard.ini"
    original = ini.read_bytes()
    try:
        ini.write_bytes(original + b"; edited by the operator\n")
        r = subprocess.run(
            ["make", "-C", str(REPO), "-o", "all", "install",
             f"DESTDIR={destdir}", f"PREFIX={PREFIX}"] + make_args(),
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert ini.read_bytes().endswith(b"; edited by the operator\n")
    finally:
        ini.write_bytes(original)


# ---- the library, as a tenant uses it ----

def pc_vars(text):
    return dict(re.findall(r"^(\w+)=(.*)$", text, re.M))


def test_pkgconfig_points_at_prefix(destdir):
    pc = (destdir / "usr/lib/pkgconfig/workershim.pc").read_text()
    v = pc_vars(pc)
    assert v == {"prefix": PREFIX, "includedir": f"{PREFIX}/include",
                 "libdir": f"{PREFIX}/lib"}, v
    assert str(destdir) not in pc and str(REPO) not in pc


def pkg_config(destdir, *args):
    env = dict(os.environ,
               PKG_CONFIG_SYSROOT_DIR=str(destdir),
               PKG_CONFIG_PATH=str(destdir / "usr/lib/pkgconfig"))
    r = subprocess.run(["pkg-config", *args, "workershim"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"pkg-config {args}: {r.stderr}"
    return r.stdout.split()


def test_worker_builds_against_installed_shim(destdir, tmp_path):
    """pkg-config with the DESTDIR as sysroot gives the installed header
    and library (not the source tree's); a worker compiles and links."""
    src = tmp_path / "greet.c"
    src.write_text(
        "#include <workershim.h>\n"
        "static int greet(ws_request *req, ws_response *res, void *ctx)\n"
        "{\n\tws_res_printf(res, \"hi %s\\n\", ws_req_path(req));\n"
        "\treturn 0;\n}\n"
        "int main(void)\n{\n\treturn ws_serve(greet, NULL) < 0;\n}\n")
    cflags = pkg_config(destdir, "--cflags")
    libs = pkg_config(destdir, "--libs")
    assert f"-I{destdir}/usr/include" in cflags, cflags
    assert f"-L{destdir}/usr/lib" in libs and "-lworkershim" in libs, libs
    exe = tmp_path / "greet"
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-o", str(exe),
                        str(src), *cflags, *libs],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"cc: {r.stderr}"
    dyn = subprocess.run(["readelf", "-d", str(exe)], capture_output=True,
                         text=True, timeout=30).stdout
    assert "[libworkershim.so.1]" in dyn, dyn
    soname = subprocess.run(
        ["readelf", "-d", str(destdir / "usr/lib/libworkershim.so.1")],
        capture_output=True, text=True, timeout=30).stdout
    assert "Library soname: [libworkershim.so.1]" in soname, soname
    # The static archive, as the examples link it.
    static = tmp_path / "greet-static"
    protobuf = subprocess.run(
        ["pkg-config", "--static", "--libs", "libprotobuf-c"],
        capture_output=True, text=True, timeout=30).stdout.split()
    r = subprocess.run(["cc", "-std=c11", "-static", "-o", str(static),
                        str(src), f"-I{destdir}/usr/include",
                        str(destdir / "usr/lib/libworkershim.a"), *protobuf],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"cc -static: {r.stderr}"


# ---- the systemd unit ----

def test_unit_contents(destdir):
    unit = (destdir / "usr/lib/systemd/system/switchyard.service").read_text()
    assert "@" not in re.sub(r"(?m)^#.*$", "", unit), \
        "an @VARIABLE@ was left unsubstituted"
    for line in ("Type=notify", "NotifyAccess=main", "Delegate=yes",
                 "KillMode=mixed", "OOMPolicy=continue",
                 "Restart=on-failure",
                 f"ExecStart={PREFIX}/sbin/switchyard-supervisor -c "
                 "/etc/switchyard/switchyard.ini",
                 f"Documentation=file:{PREFIX}/share/doc/switchyard/"
                 "operations.md"):
        assert re.search(rf"^{re.escape(line)}$", unit, re.M), line
    # These would break the jail: a read-only cgroup tree, no new
    # namespaces, no worker uids.
    for key in ("ProtectControlGroups", "RestrictNamespaces",
                "PrivateUsers"):
        assert not re.search(rf"^{key}=", unit, re.M), key


def test_unit_verifies(destdir, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (Debian package "
                    "`systemd`): the unit was not verified")
    # verify checks that ExecStart= is executable: point it at the
    # installed tree instead of PREFIX on this host.
    unit = (destdir / "usr/lib/systemd/system/switchyard.service").read_text()
    sbin = f"{PREFIX}/sbin/"
    assert sbin in unit
    (tmp_path / "switchyard.service").write_text(
        unit.replace(sbin, f"{destdir}{sbin}"))
    r = subprocess.run([analyze, "verify", "--man=no",
                        str(tmp_path / "switchyard.service")],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    # verify only warns about unknown keys or bad values: any line about
    # the unit is a failure.
    about_unit = [line for line in out.splitlines()
                  if "switchyard.service" in line]
    assert r.returncode == 0 and not about_unit, \
        f"systemd-analyze verify: rc {r.returncode}\n{out}"


# ---- readiness notification ----

class NotifyListener:
    """The service manager's end of NOTIFY_SOCKET: a datagram socket that
    records each message with its sender's pid (SO_PASSCRED), as systemd
    does for NotifyAccess=main."""

    def __init__(self, abstract=False):
        self.dir = tempfile.mkdtemp(prefix="sy-notify-", dir="/tmp")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if abstract:
            name = f"sy-notify-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.name = "@" + name
        else:
            self.name = os.path.join(self.dir, "notify")
            self.sock.bind(self.name)
        self.messages = []  # (sender pid, {key: value})

    def wait_for(self, key, timeout=NOTIFY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            for pid, fields in self.messages:
                if key in fields:
                    return pid, fields
            left = deadline - time.monotonic()
            assert left > 0, f"no {key} in {timeout}s: {self.messages}"
            self.sock.settimeout(left)
            try:
                self._receive()
            except socket.timeout:
                pass

    def _receive(self):
        ucred = struct.calcsize("iII")
        data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:ucred])[0]
        fields = dict(line.split("=", 1) for line in
                      data.decode().split("\n") if line)
        self.messages.append((pid, fields))

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def environ_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return [e.decode(errors="replace") for e in f.read().split(b"\0")]


def router_pid(sup_pid):
    for pid in descendants(sup_pid):
        try:
            if os.readlink(f"/proc/{pid}/exe").endswith("switchyard-router"):
                return pid
        except OSError:
            pass
    raise AssertionError("no switchyard-router under the supervisor")


@pytest.mark.parametrize("abstract", [False, True],
                         ids=["path", "abstract"])
def test_ready_and_stopping_notifications(make_platform, monkeypatch,
                                          abstract):
    listener = NotifyListener(abstract)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", listener.name)
        p = make_platform()
        sup = p.proc.pid
        sender, ready = listener.wait_for("READY")
        assert ready["READY"] == "1"
        assert ready.get("MAINPID") == str(sup), ready
        assert sender == sup, f"READY=1 sent by pid {sender}, not the " \
            f"supervisor ({sup}): systemd would ignore it"
        assert ready.get("STATUS"), ready
        # The supervisor alone speaks for the service.
        router = router_pid(sup)
        assert not [e for e in environ_of(router)
                    if e.startswith("NOTIFY_SOCKET=")], \
            "the router inherited NOTIFY_SOCKET"
        # It is really serving once READY=1 is out.
        status, _, body = p.get("/", host="alice.example.com")
        assert status == 200, body
        p.stop()
        sender, stopping = listener.wait_for("STOPPING", timeout=1)
        assert stopping["STOPPING"] == "1" and sender == sup, stopping
        assert not [f for _, f in listener.messages if "READY" in f][1:], \
            f"READY=1 sent more than once: {listener.messages}"
    finally:
        listener.close()


def test_no_notify_socket_no_change(make_platform, monkeypatch):
    """Without NOTIFY_SOCKET (not under systemd) nothing is sent and
    nothing is logged about it."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    p = make_platform()
    p.stop()
    assert "NOTIFY_SOCKET" not in p.log_text()


def test_bad_notify_socket_is_reported_not_fatal(make_platform,
                                                 monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/sy-notify")
    p = make_platform()
    p.stop()
    assert re.search(r"switchyard-supervisor\[\d+\]: warning: "
                     r"NOTIFY_SOCKET /nonexistent/sy-notify: sendto: ",
                     p.log_text()), p.log_tail()


def test_installed_tree_starts_and_notifies(destdir, monkeypatch):
    """The installed supervisor, router, policies and default
    configuration (its listen address and directories moved into the
    test's own) start and report ready, as systemd would see it."""
    p = Platform(deploys={})
    ini = (destdir / "etc/switchyard/switchyard.ini").read_text()
    for key, value in (("listen", f"127.0.0.1:{p.port}"),
                       ("state_dir", p.state_dir), ("run_dir", p.run_dir),
                       ("control_socket", p.socket)):
        ini, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", ini)
        assert n == 1, f"{key} not set in the installed switchyard.ini"
    # seccomp_dir = seccomp stays relative: /etc/switchyard/seccomp.
    config = destdir / "etc/switchyard/test.ini"
    config.write_text(ini)
    listener = NotifyListener()
    proc = None
    try:
        with open(p.log_path, "ab") as log:
            proc = subprocess.Popen(
                [str(destdir / "usr/sbin/switchyard-supervisor"), "-c",
                 str(config)],
                env=dict(os.environ, NOTIFY_SOCKET=listener.name),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, cwd=p.tmp)
        sender, ready = listener.wait_for("READY")
        assert sender == proc.pid and ready["MAINPID"] == str(proc.pid)
        log = p.log_text()
        assert f"seccomp profile {destdir}/etc/switchyard/seccomp/" \
               "supervisor" in log, log
        assert f"listening on 127.0.0.1:{p.port}" in log, log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, p.log_tail()
        listener.wait_for("STOPPING", timeout=1)
        assert not p.sanitizer_reports(), p.log_tail()
    finally:
        if proc is not None and proc.poll() is None:
            for pid in list(descendants(proc.pid)) + [proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            proc.wait(timeout=5)
        listener.close()
        p.cleanup()


def test_journal_priorities_only_when_stderr_is_the_journal(make_platform,
                                                             monkeypatch):
    """Under systemd (JOURNAL_STREAM naming our stderr) each line starts
    with its syslog priority, so `journalctl -p warning` selects by level;
    anywhere else the lines stay plain."""
    def as_journal(p):
        p.log_path.touch()
        st = os.stat(p.log_path)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")

    p = make_platform(prepare=as_journal)
    p.stop()
    lines = [l for l in p.log_text().splitlines()
             if "switchyard-supervisor[" in l]
    assert lines and all(l.startswith(("<3>", "<4>", "<6>", "<7>"))
                         for l in lines), lines[:5]
    assert any(l.startswith("<6>switchyard-supervisor[") and ": info: " in l
               for l in lines)

    monkeypatch.setenv("JOURNAL_STREAM", "1:1")
    q = make_platform()
    q.stop()
    assert not any(l.startswith("<") for l in q.log_text().splitlines()
                   if "switchyard-supervisor[" in l)
