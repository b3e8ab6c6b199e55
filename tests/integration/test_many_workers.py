"""More workers than one control frame can describe: `yardctl status` and
`list` of all of them arrive in parts (supervisor/control.c) and are put
back together (ctl/client.c), the ordinary way for a host of many tenants.
One platform, booted once: 700 workers sharing one executable (deployments
are content-addressed), each with 8 long tags so that their descriptions
(~700 bytes each) take two or three 256 KiB frames."""

import json

import pytest

from conftest import EXAMPLES, run_platform, Platform

N = 700
TAGS = [f"tag{t}-" + "x" * 58 for t in range(8)]


@pytest.fixture(scope="module")
def many():
    deploys = {f"tenants/w{i:04d}": (EXAMPLES / "hello", "default", [])
               for i in range(N)}
    plat = Platform(deploys=deploys)
    text = plat.render_config()
    for i in range(N):
        head = f"[deploy tenants/w{i:04d}]\n"
        text = text.replace(head, head + "".join(f"tag = {t}\n"
                                                 for t in TAGS))
    plat.config.write_text(text)
    yield from run_platform(plat)


def test_status_of_every_worker_arrives_whole(many):
    r = many.ctl_ok("--json", "status", "-l")
    assert len(r.stdout) > 2 * 256 * 1024  # so it took several frames
    ws = json.loads(r.stdout)["workers"]
    names = [f"{w['ns']}/{w['name']}" for w in ws]
    assert len(names) == len(set(names)) == N + 1  # and the dispatcher
    assert {f"tenants/w{i:04d}" for i in range(N)} <= set(names)
    assert all(w["tags"] == TAGS for w in ws if w["ns"] == "tenants")
    lines = many.ctl_ok("status").stdout.splitlines()
    assert len(lines) == N + 2  # a header, the dispatcher, the tenants


def test_list_of_every_worker_and_one_still_answers(many):
    r = many.ctl_ok("--json", "list", "--tag", TAGS[3])
    assert len(json.loads(r.stdout)["workers"]) == N
    status, _, body = many.get("/", host="w0123.example.com")
    assert status == 200 and body == b"hello world\n"
