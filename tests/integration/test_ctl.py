"""yardctl: output, and the exit-code contract (0 ok, 1 other failure,
2 usage, 3 supervisor unreachable, 4 unknown worker, 5 bad input), with
errors that name the object they are about."""

import json
import os
import shutil

import pytest

from conftest import EXAMPLES


def test_help(platform):
    r = platform.ctl("help")
    assert r.returncode == 0
    assert "deploy" in r.stdout and "status" in r.stdout
    r = platform.ctl("help", "deploy")
    assert r.returncode == 0
    assert "--plan" in r.stdout and "--env" in r.stdout


def test_status_lists_every_worker(platform):
    r = platform.ctl_ok("status")
    lines = r.stdout.splitlines()
    header = lines[0].split()
    assert header == ["NAME", "STATE", "VERSION", "PROCS", "REQUESTS",
                      "ERRORS", "VIOLATIONS", "CPU_P50/P99", "UPTIME", "PIDS"]
    names = {line.split()[0] for line in lines[1:]}
    assert names == {"platform/dispatcher", "tenants/alice", "tenants/bob",
                     "tenants/echo", "tenants/crash", "tenants/hello"}


def test_status_of_one_worker(platform):
    assert platform.get("/", host="bob.example.com")[0] == 200
    r = platform.ctl_ok("status", "tenants/bob")
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    assert len(rows) == 1
    name, state, version, procs = rows[0][:4]
    assert (name, state, version) == ("tenants/bob", "RUNNING", "1")
    live = int(procs.split("/")[0])
    pids = rows[0][9].split(",")
    assert live >= 1 and len(pids) == live
    for pid in pids:
        assert os.path.exists(f"/proc/{pid}")


def test_status_json(platform):
    r = platform.ctl_ok("--json", "status", "tenants/alice")
    data = json.loads(r.stdout)
    assert data["code"] == 0
    (w,) = data["workers"]
    assert (w["ns"], w["name"], w["version"]) == ("tenants", "alice", 1)
    assert w["plan"] == "default"
    assert len(w["sha256"]) == 64
    for key in ("state", "live", "busy", "queued", "requests", "errors",
                "uptime_s", "pids"):
        assert key in w


def test_socket_from_environment(platform):
    r = platform.ctl("status", sock=False,
                     env={"SWITCHYARD_SOCKET": str(platform.socket)})
    assert r.returncode == 0, r.stderr
    assert "tenants/alice" in r.stdout


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["deploy"],
    ["deploy", "tenants/x"],
    ["deploy", "tenants/x", "/bin/true", "extra"],
    ["deploy", "tenants/x", "/bin/true", "--bogus"],
    ["deploy", "tenants/x", "/bin/true", "--env", "NOEQUALS"],
    ["deploy", "tenants/x", "/bin/true", "--plan"],
    ["status", "a/b", "c/d"],
    ["--bogus", "status"],
])
def test_usage_errors_exit_2(platform, args):
    r = platform.ctl(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip(), "no explanation on stderr"


def test_unknown_command_is_named(platform):
    r = platform.ctl("frobnicate")
    assert "frobnicate" in r.stderr


def test_unreachable_supervisor_exits_3(platform, tmp_path):
    missing = tmp_path / "no-such.sock"
    r = platform.ctl("-s", missing, "status", sock=False)
    assert r.returncode == 3
    assert str(missing) in r.stderr
    r = platform.ctl("status", sock=False,
                     env={"SWITCHYARD_SOCKET": str(missing)})
    assert r.returncode == 3
    assert str(missing) in r.stderr


def test_unknown_worker_exits_4(platform):
    r = platform.ctl("status", "tenants/nosuch")
    assert r.returncode == 4
    assert "tenants/nosuch" in r.stderr
    r = platform.ctl("--json", "status", "tenants/nosuch")
    assert r.returncode == 4
    assert json.loads(r.stdout)["code"] == 4


def test_deploy_missing_file_exits_5(platform, tmp_path):
    missing = tmp_path / "nothere"
    r = platform.ctl("deploy", "tenants/x", missing)
    assert r.returncode == 5
    assert str(missing) in r.stderr and "tenants/x" in r.stderr


def test_deploy_non_executable_exits_5(platform, tmp_path):
    exe = tmp_path / "noexec"
    shutil.copy(EXAMPLES / "hello", exe)
    exe.chmod(0o644)
    r = platform.ctl("deploy", "tenants/x", exe)
    assert r.returncode == 5
    assert str(exe) in r.stderr
    r = platform.ctl("deploy", "tenants/x", tmp_path)
    assert r.returncode == 5
    assert str(tmp_path) in r.stderr


@pytest.mark.parametrize("name", ["noslash", "tenants/Bad Name",
                                  "tenants/", "/alice", "a/b/c",
                                  "tenants/" + "x" * 80])
def test_deploy_invalid_name_exits_5(platform, name):
    r = platform.ctl("deploy", name, EXAMPLES / "hello")
    assert r.returncode == 5, (r.stdout, r.stderr)
    assert r.stderr.strip()


def test_deploy_unknown_plan_exits_5(platform):
    r = platform.ctl("deploy", "tenants/x", EXAMPLES / "hello",
                     "--plan", "nosuchplan")
    assert r.returncode == 5
    assert "nosuchplan" in r.stderr


def test_failed_deploys_change_nothing(platform):
    assert platform.ctl("status", "tenants/x").returncode == 4
    assert set(platform.workers()) == {
        "platform/dispatcher", "tenants/alice", "tenants/bob",
        "tenants/echo", "tenants/crash", "tenants/hello"}


def test_status_of_one_namespace(platform):
    r = platform.ctl_ok("status", "tenants/*")
    names = {line.split()[0] for line in r.stdout.splitlines()[1:]}
    assert names == {"tenants/alice", "tenants/bob", "tenants/echo",
                     "tenants/crash", "tenants/hello"}


def test_command_abbreviation(platform):
    r = platform.ctl_ok("st", "tenants/alice")
    assert "tenants/alice" in r.stdout


def test_status_shows_errors_by_outcome(platform):
    before = platform.workers()["tenants/crash"]
    status, _, _ = platform.get("/exception", host="crash.example.com")
    assert status == 500
    after = platform.workers()["tenants/crash"]
    assert after["errors"] == before["errors"] + 1
    assert after["outcomes"].get("exception", 0) == \
        before["outcomes"].get("exception", 0) + 1
    row = platform.ctl_ok("status", "tenants/crash").stdout.splitlines()[1]
    assert f"(exception={after['outcomes']['exception']}" in row, row
