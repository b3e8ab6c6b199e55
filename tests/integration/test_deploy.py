"""Deploying new versions at run time, and keeping deployments across a
restart of the platform."""

import shutil
import signal
import time

from conftest import EXAMPLES, error_page


def _running(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def test_new_version_takes_effect_without_restart(make_platform):
    p = make_platform()
    sup = p.proc.pid
    status, resp, body = p.get("/", host="alice.example.com")
    assert status == 200 and b"Hello from alice!" in body
    w = p.workers()["tenants/alice"]
    assert w["version"] == 1
    old_pids = list(w["pids"])
    assert old_pids

    r = p.ctl_ok("deploy", "tenants/alice", EXAMPLES / "hello")
    assert "tenants/alice" in r.stdout + r.stderr
    status, resp, body = p.get("/", host="alice.example.com")
    assert status == 200
    assert body.strip() == b"hello world"
    assert resp.getheader("X-Worker") is None
    assert p.running and p.proc.pid == sup
    w = p.workers()["tenants/alice"]
    assert w["version"] == 2
    # The previous version's idle processes are stopped.
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in old_pids):
        assert time.monotonic() < deadline, "old version's processes remain"
        time.sleep(0.1)
    assert not set(old_pids) & set(p.workers()["tenants/alice"]["pids"])


def test_deploy_new_worker_and_source_file_independence(make_platform,
                                                        tmp_path):
    p = make_platform()
    # the dispatcher forwards to tenants/greet, which is not there yet
    status, resp, body = p.get("/", host="greet.example.com")
    error_page(resp, body, 404, "scriptNotFound")

    exe = tmp_path / "greet"
    shutil.copy(EXAMPLES / "hello", exe)
    p.ctl_ok("deploy", "tenants/greet", exe)
    status, _, body = p.get("/", host="greet.example.com")
    assert status == 200 and body.strip() == b"hello world"

    # The platform runs its own copy: changing the file deploys nothing.
    shutil.copy(EXAMPLES / "bob", exe)
    status, _, body = p.get("/", host="greet.example.com")
    assert body.strip() == b"hello world"
    assert p.workers()["tenants/greet"]["version"] == 1


def test_deploy_env_reaches_the_worker(make_platform):
    p = make_platform()
    assert p.get("/", host="alice.example.org")[0] == 404
    p.ctl_ok("deploy", "platform/dispatcher", EXAMPLES / "dispatcher",
             "--env", "BASE_DOMAIN=example.org",
             "--kv", "ROUTES=routes:ro", "--dispatch-namespace", "tenants")
    status, _, body = p.get("/", host="alice.example.org")
    assert status == 200 and b"Hello from alice!" in body
    assert p.get("/", host="alice.example.com")[0] == 404
    # the new version reads the same KV routes through its binding
    status, _, body = p.get("/", host="alice.test")
    assert status == 200 and b"Hello from alice!" in body


def test_deploy_with_plan(make_platform):
    p = make_platform()
    p.ctl_ok("deploy", "tenants/solo", EXAMPLES / "hello", "--plan", "single")
    assert p.get("/", host="solo.example.com")[0] == 200
    w = p.workers()["tenants/solo"]
    assert w["plan"] == "single"
    assert len(w["pids"]) <= 1


def test_restart_keeps_deployed_workers(make_platform, tmp_path):
    p = make_platform()
    exe = tmp_path / "newbie"
    shutil.copy(EXAMPLES / "hello", exe)
    p.ctl_ok("deploy", "tenants/newbie", exe)
    p.ctl_ok("deploy", "tenants/bob", EXAMPLES / "alice")
    exe.unlink()
    before = p.workers()

    # Restart with a config that deploys nothing: state_dir is the record.
    p.restart(with_deploys=False)
    assert "[deploy" not in p.config.read_text()
    status, _, body = p.get("/", host="newbie.example.com")
    assert status == 200 and body.strip() == b"hello world"
    status, _, body = p.get("/", host="bob.example.com")
    assert status == 200 and b"Hello from alice!" in body
    status, _, body = p.get("/", host="alice.example.com")
    assert status == 200 and b"Hello from alice!" in body
    after = p.workers()
    assert set(after) == set(before)
    for name, w in before.items():
        assert after[name]["version"] == w["version"], name
        assert after[name]["sha256"] == w["sha256"], name


def test_restart_with_same_config_adds_no_version(make_platform):
    p = make_platform()
    before = {n: w["version"] for n, w in p.workers().items()}
    p.restart()
    after = {n: w["version"] for n, w in p.workers().items()}
    assert after == before
    assert all(v == 1 for v in after.values())


def test_stop_with_sigint_after_traffic(make_platform):
    """Ctrl-C in the README's foreground run: every worker has been started,
    and the stop is checked like every other (exit 0, nothing left)."""
    p = make_platform()
    for host in ("alice", "bob", "echo", "crash", "hello"):
        assert p.get("/", host=f"{host}.example.com")[0] == 200
    assert all(w["pids"] for w in p.workers().values())
    p.stop(sig=signal.SIGINT)
