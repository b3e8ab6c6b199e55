"""The deploy side of yardctl: tags and list, delete, versions and
rollback, secrets, and the [deploy] keys kv, tag and tail_consumer; each
through the real supervisor, with requests through the router where a
worker answers."""

import json
import os
import stat
import subprocess

import pytest

from conftest import (BUILD, EXAMPLES, Platform, error_page, pb_str,
                      platform_fixture, raw_ctl)

SECRET = "s3cr3t-Value-7f1c"  # must never show up outside the worker

dp = platform_fixture(deploys={})


def ctl_in(p, *args, stdin=""):
    """yardctl with stdin, as an operator piping a secret in."""
    return subprocess.run(
        [str(BUILD / "yardctl"), "-s", str(p.socket)] + [str(a) for a in args],
        input=stdin, capture_output=True, text=True, timeout=15)


def body_of(p, host, path="/"):
    status, _, body = p.get(path, host=host)
    return status, body.decode(errors="replace").strip()


def test_tags_list_and_delete_by_tag(dp):
    for name, tags in (("t1", ["grp", "a:b.c-d_e"]), ("t2", ["grp"]),
                       ("t3", [])):
        args = [a for t in tags for a in ("--tag", t)]
        dp.ctl_ok("deploy", f"tagged/{name}", EXAMPLES / "hello", *args)
    r = dp.ctl_ok("list", "--tag", "grp")
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0] == ["NAME", "VERSION", "PLAN", "TAGS"]
    assert [row[0] for row in rows[1:]] == ["tagged/t1", "tagged/t2"]
    assert rows[1][3] == "grp,a:b.c-d_e"
    data = json.loads(dp.ctl_ok("--json", "list", "tagged").stdout)
    assert {w["name"]: w["tags"] for w in data["workers"]} == \
        {"t1": ["grp", "a:b.c-d_e"], "t2": ["grp"], "t3": []}
    assert body_of(dp, "t1.tagged.example.com")[0] in (200, 404)

    r = dp.ctl_ok("delete", "--tag", "grp")
    assert r.stdout.split() == ["tagged/t1:", "deleted", "tagged/t2:",
                                "deleted"]
    left = json.loads(dp.ctl_ok("--json", "list", "tagged").stdout)
    assert [w["name"] for w in left["workers"]] == ["t3"]
    assert dp.ctl("delete", "--tag", "grp").returncode == 4


def test_delete_stops_forgets_and_stays_deleted(make_platform):
    p = make_platform(deploys={})
    p.ctl_ok("deploy", "tenants/gone", EXAMPLES / "hello")
    assert body_of(p, "gone.example.com") == (200, "hello world")
    pids = p.workers()["tenants/gone"]["pids"]
    uid = p.workers()["tenants/gone"]["uid"]
    assert pids

    r = p.ctl_ok("delete", "tenants/gone")
    assert r.stdout.strip() == "tenants/gone: deleted"
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}/exe") or \
            "Z" in open(f"/proc/{pid}/stat").read().split()[2]
    status, resp, body = p.get("/", host="gone.example.com")
    error_page(resp, body, 404, "scriptNotFound")
    r = p.ctl("status", "tenants/gone")
    assert r.returncode == 4 and "tenants/gone" in r.stderr
    state = (p.state_dir / "deployments.json").read_text()
    assert "tenants/gone" not in state and '"gone"' not in state
    # its executable went with it (hello is used by no other worker)
    assert not list((p.state_dir / "exe").glob("*")) or all(
        f.name in state for f in (p.state_dir / "exe").iterdir())
    # its uid is never given to another worker
    p.ctl_ok("deploy", "tenants/next", EXAMPLES / "hello")
    if p.workers()["tenants/next"]["jailed"]:
        assert p.workers()["tenants/next"]["uid"] != uid

    p.restart()
    assert p.ctl("status", "tenants/gone").returncode == 4
    assert body_of(p, "gone.example.com")[0] == 404


def test_delete_dispatch_worker_refused(dp):
    r = dp.ctl("delete", "platform/dispatcher")
    assert r.returncode == 5
    # naming the key that makes it so, as the configuration spells it
    assert f"delete platform/dispatcher: it is the dispatch worker " \
        f"([switchyard] dispatch_worker in {dp.config})" in r.stderr, r.stderr
    assert "platform/dispatcher" in dp.workers()


def test_versions_and_rollback(dp):
    dp.ctl_ok("deploy", "tenants/rb", EXAMPLES / "hello", "--tag", "one")
    dp.ctl_ok("deploy", "tenants/rb", EXAMPLES / "alice")
    assert "Hello from alice!" in body_of(dp, "rb.example.com")[1]

    rows = [line.split() for line in
            dp.ctl_ok("versions", "tenants/rb").stdout.splitlines()]
    assert rows[0] == ["VERSION", "DEPLOYED", "SHA256", "PLAN", "TAGS"]
    assert [row[0] for row in rows[1:]] == ["1", "2*"]
    assert rows[1][1].endswith("Z") and len(rows[1][2]) == 12
    assert rows[1][4] == "one" and rows[2][4] == "-"

    r = dp.ctl_ok("rollback", "tenants/rb")
    assert "version 1 is current" in r.stdout
    assert body_of(dp, "rb.example.com") == (200, "hello world")
    data = json.loads(dp.ctl_ok("--json", "versions", "tenants/rb").stdout)
    assert [(v["number"], v["current"]) for v in data["versions"]] == \
        [(1, True), (2, False)]
    assert data["versions"][0]["tags"] == ["one"]

    dp.ctl_ok("rollback", "tenants/rb", "2")
    assert "Hello from alice!" in body_of(dp, "rb.example.com")[1]
    r = dp.ctl("rollback", "tenants/rb", "9")
    assert r.returncode == 5 and "no version 9" in r.stderr


def test_old_versions_are_pruned(dp):
    for i in range(22):
        dp.ctl_ok("deploy", "tenants/many",
                  EXAMPLES / ("hello" if i % 2 else "alice"),
                  "--env", f"N={i}")
    data = json.loads(dp.ctl_ok("--json", "versions", "tenants/many").stdout)
    assert [v["number"] for v in data["versions"]] == list(range(3, 23))
    assert data["versions"][-1]["current"]
    dp.ctl_ok("rollback", "tenants/many", "3")
    r = dp.ctl("rollback", "tenants/many", "2")
    assert r.returncode == 5 and "no version 2" in r.stderr
    dp.ctl_ok("delete", "tenants/many")


def test_secrets_reach_the_worker_and_nothing_else(dp):
    r = ctl_in(dp, "deploy", "tenants/envecho", EXAMPLES / "envecho",
               "--env", "PLAIN=visible", "--secret", "TOKEN",
               stdin=SECRET + "\n")
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    host = "envecho.example.com"
    assert body_of(dp, host, "/?TOKEN") == (200, SECRET)
    assert body_of(dp, host, "/?PLAIN") == (200, "visible")

    r = dp.ctl_ok("--json", "status", "-l", "tenants/envecho")
    assert SECRET not in r.stdout
    (w,) = json.loads(r.stdout)["workers"]
    assert w["secret_names"] == ["TOKEN"]
    assert "TOKEN" in dp.ctl_ok("status", "-l", "tenants/envecho").stdout
    assert dp.ctl_ok("secret", "list", "tenants/envecho").stdout.split() \
        == ["TOKEN"]

    # a new version keeps the worker's secrets
    dp.ctl_ok("deploy", "tenants/envecho", EXAMPLES / "envecho")
    assert body_of(dp, host, "/?TOKEN") == (200, SECRET)
    # put replaces the processes with ones that see the new value
    r = ctl_in(dp, "secret", "put", "tenants/envecho", "TOKEN",
               stdin="second-" + SECRET)
    assert r.returncode == 0, r.stderr
    assert body_of(dp, host, "/?TOKEN") == (200, "second-" + SECRET)
    dp.ctl_ok("secret", "delete", "tenants/envecho", "TOKEN")
    assert body_of(dp, host, "/?TOKEN")[0] == 404
    assert dp.ctl("secret", "delete", "tenants/envecho", "TOKEN") \
        .returncode == 5

    secrets = dp.state_dir / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert SECRET not in (dp.state_dir / "deployments.json").read_text()
    assert SECRET not in dp.log_text()


def test_secret_file_and_misuse(dp, tmp_path):
    f = tmp_path / "key"
    f.write_text("from-file\n")
    dp.ctl_ok("deploy", "tenants/envfile", EXAMPLES / "envecho",
              "--secret-file", f"API_KEY={f}")
    assert body_of(dp, "envfile.example.com", "/?API_KEY") == \
        (200, "from-file")
    r = ctl_in(dp, "deploy", "tenants/envfile", EXAMPLES / "envecho",
               "--secret", "A", "--secret", "B", stdin="x")
    assert r.returncode == 2 and "at most one --secret" in r.stderr
    assert dp.ctl("secret", "list", "tenants/nope").returncode == 4
    assert dp.ctl("secret", "frob", "tenants/envfile").returncode == 2
    assert dp.ctl("secret", "put", "tenants/envfile", "9BAD").returncode == 2


def test_malformed_secret_is_never_echoed(dp):
    """Behind yardctl, which always sends KEY=VALUE: an entry without '='
    or with a garbled name may be the value itself, so the refusal names
    its place, never its text."""
    dp.ctl_ok("deploy", "tenants/envsec", EXAMPLES / "envecho")
    for entry in ("sk_live_NOEQUALS", "sk live TOKEN=v"):
        put = pb_str(1, "secret") + pb_str(2, "put") + \
            pb_str(2, "tenants/envsec") + bytes([0xfa, 0x01]) + \
            bytes([len(entry)]) + entry.encode()       # secrets = 31
        fd = os.open("/dev/null", os.O_RDONLY)
        try:
            res = raw_ctl(dp, put, fd)
        finally:
            os.close(fd)
        assert res[:2] == bytes([0x08, 5]), res       # CTL_BAD_INPUT
        assert b"secret entry 1" in res, res
        assert b"NOEQUALS" not in res and b"TOKEN" not in res, res
        assert "NOEQUALS" not in dp.log_text() and \
            "TOKEN" not in dp.log_text()


def test_failed_deploy_changes_no_secret(dp, tmp_path):
    f = tmp_path / "key"
    f.write_text("kept\n")
    dp.ctl_ok("deploy", "tenants/envkeep", EXAMPLES / "envecho",
              "--secret-file", f"K={f}")
    bad = tmp_path / "not-an-executable"
    bad.write_bytes(b"neither ELF nor script\n")
    bad.chmod(0o755)
    r = ctl_in(dp, "deploy", "tenants/envkeep", bad, "--secret", "K",
               stdin="replaced")
    assert r.returncode == 5, r.stderr
    # a new worker whose first deploy failed keeps no secrets either
    r = ctl_in(dp, "deploy", "tenants/envnew", bad, "--secret", "K",
               stdin="orphan")
    assert r.returncode == 5, r.stderr
    assert "orphan" not in (dp.state_dir / "secrets.json").read_text()
    assert "replaced" not in (dp.state_dir / "secrets.json").read_text()
    # fresh processes still see the old value
    dp.ctl_ok("restart", "tenants/envkeep")
    assert body_of(dp, "envkeep.example.com", "/?K") == (200, "kept")


@pytest.mark.parametrize("args, code", [
    (("list", "a", "b"), 2),
    (("list", "--bogus"), 2),
    (("delete",), 2),
    (("delete", "tenants/x", "--tag", "t"), 2),
    (("delete", "tenants/nope"), 4),
    (("versions",), 2),
    (("versions", "tenants/nope"), 4),
    (("rollback", "tenants/nope"), 4),
    (("rollback", "tenants/x", "first"), 2),
    (("deploy", "tenants/x", EXAMPLES / "hello", "--tag", "bad tag"), 5),
    (("deploy", "tenants/x", EXAMPLES / "hello", "--tag", "a", "--tag",
      "a"), 5),
    (("deploy", "tenants/x", EXAMPLES / "hello", "--tail-consumer",
      "tenants/x"), 5),
    (("deploy", "tenants/x", EXAMPLES / "hello", "--tail-consumer",
      "nons"), 2),
    (("deploy", "tenants/x", EXAMPLES / "hello") +
     tuple(a for i in range(9) for a in ("--tag", f"t{i}")), 2),
])
def test_misuse_exit_codes(dp, args, code):
    r = dp.ctl(*args)
    assert r.returncode == code, r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2 and r.stderr.strip()
    assert "tenants/x" not in dp.workers()


@pytest.mark.parametrize("cmd", ["list", "delete", "versions", "rollback",
                                 "secret", "deploy"])
def test_help_of_each_command(dp, cmd):
    r = dp.ctl_ok("help", cmd)
    assert r.stdout.startswith(f"usage: yardctl {cmd}")


def _config_keys(p):
    text = p.config.read_text()
    p.config.write_text(text + "kv = DATA=stuff:ro\ntag = from-config\n"
                        "tail_consumer = tenants/sink\n")


def test_config_deploy_keys_are_loaded(make_platform):
    p = make_platform(prepare=_config_keys, deploys={
        "tenants/cfg": (EXAMPLES / "hello", "default", [])})
    w = p.workers()["tenants/cfg"]
    assert w["tags"] == ["from-config"]
    assert w["tail_consumers"] == ["tenants/sink"]
    state = json.loads((p.state_dir / "deployments.json").read_text())
    (cfg,) = [x for x in state["workers"] if x["name"] == "cfg"]
    assert cfg["versions"][0]["kv"] == [{"name": "DATA", "ns": "stuff",
                                         "ro": True}]
    # unchanged config: no new version at reread/update
    r = p.ctl_ok("reread")
    assert "tenants/cfg" not in r.stdout
    p.config.write_text(p.config.read_text().replace(
        "tag = from-config", "tag = changed"))
    r = p.ctl_ok("reread")
    assert "deploy tenants/cfg: changed (tag)" in r.stdout
    p.ctl_ok("update")
    w = p.workers()["tenants/cfg"]
    assert (w["version"], w["tags"]) == (2, ["changed"])


@pytest.mark.parametrize("line, key", [
    ("tag = no spaces allowed", "tag"),
    ("tail_consumer = tenants/cfg", "tail_consumer"),
    ("kv = 1=", "kv"),
])
def test_bad_config_deploy_key_fails_start(line, key):
    p = Platform(deploys={"tenants/cfg": (EXAMPLES / "hello", "default",
                                          [])})
    try:
        p.config.write_text(p.config.read_text() + line + "\n")
        r = subprocess.run([str(BUILD / "switchyard-supervisor"), "-c",
                            str(p.config)], capture_output=True, text=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        assert r.returncode != 0
        assert f"{key} =" in r.stderr and str(p.config) in r.stderr
    finally:
        p.cleanup()
