"""The README, run: the demo that scripts/up.sh brings up (examples/demo.ini,
then Ctrl-C), and every command of "Write your first worker".

Code blocks are taken from README.md by their `<!-- test: NAME -->` marker.
In a shell block, each line is a command and the `# ...` lines after it are
lines its output must contain. The only changes made before running them
are the demo's fixed addresses, replaced by this test's (each replacement
is checked to apply, so the README cannot drift unnoticed)."""

import os
import re
import shutil
import signal
import subprocess

from conftest import BUILD, REPO

README = REPO / "README.md"
DEMO_INI = REPO / "examples" / "demo.ini"
UP_SH = REPO / "scripts" / "up.sh"
END = "@@sy-command-done"


def readme_block(name):
    m = re.search(r"<!-- test: %s -->\n```\w*\n(.*?)```" % re.escape(name),
                  README.read_text(), re.S)
    assert m, f"README.md has no block marked <!-- test: {name} -->"
    return m.group(1)


def commands(block):
    """[(command, [expected output lines])] from a shell block."""
    out = []
    for line in block.splitlines():
        if line.startswith("# "):
            assert out, f"expected output before any command: {line!r}"
            out[-1][1].append(line[2:])
        elif line.strip():
            out.append((line, []))
    return out


def replace(text, old, new):
    assert old in text, f"{old!r} no longer appears where the test expects"
    return text.replace(old, new)


def run_session(cmds, cwd, env, timeout=120):
    """Runs the commands in one bash session (exports and cd carry over);
    returns [(command, exit status, output)]."""
    script = "".join(f"{c}\nprintf '\\n{END} %d\\n' $?\n" for c, _ in cmds)
    r = subprocess.run(["bash", "-c", script], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    parts = re.split(rf"\n{END} (\d+)\n", r.stdout)
    results = []
    for i, (c, _) in enumerate(cmds):
        assert 2 * i + 1 < len(parts), \
            f"session stopped before {c!r}\nstdout: {r.stdout}\n" \
            f"stderr: {r.stderr}"
        results.append((c, int(parts[2 * i + 1]), parts[2 * i]))
    return results, r.stderr


def check_results(cmds, results, stderr):
    for (c, want), (_, rc, out) in zip(cmds, results):
        assert rc == 0, f"{c!r} exited {rc}\noutput: {out}\nstderr: {stderr}"
        for line in want:
            assert line in out, f"{c!r}: {line!r} not in output:\n{out}"


# ---- the demo: scripts/up.sh with examples/demo.ini ----

def demo_config(p):
    """demo.ini with this test's port, directories and build tree."""
    text = DEMO_INI.read_text()
    text = replace(text, "127.0.0.1:8080", f"127.0.0.1:{p.port}")
    text = replace(text, "/run/switchyard-demo/control.sock", str(p.socket))
    text = replace(text, "/run/switchyard-demo", str(p.run_dir))
    text = replace(text, "/var/lib/switchyard-demo", str(p.tmp / "var"))
    exes = re.findall(r"^exe = (.*)$", text, re.M)
    assert exes and all(e.startswith("../build/examples/") for e in exes)
    return text.replace("exe = ../build/", f"exe = {BUILD}/")


def load_demo_routes(p):
    """What up.sh does once the platform answers: import the dispatcher's
    routes into the KV namespace its demo.ini binding names."""
    up = UP_SH.read_text()
    m = re.search(r'yardctl -s "\$SOCK" kv import (\S+) (\S+)', up)
    assert m, "up.sh no longer imports the dispatcher's routes"
    ns, src = m.groups()
    assert f"kv = ROUTES={ns}:ro" in DEMO_INI.read_text()
    assert "SOCK=/run/switchyard-demo/control.sock" in up
    assert "build/switchyard-supervisor -c examples/demo.ini" in up
    p.ctl_ok("kv", "import", ns, REPO / src)


def test_readme_demo_and_ctrl_c(make_platform):
    def prepare(p):
        p.config.write_text(demo_config(p))

    p = make_platform(prepare=prepare)
    load_demo_routes(p)
    block = replace(readme_block("demo"), "127.0.0.1:8080",
                    f"127.0.0.1:{p.port}")
    cmds = commands(block)
    results, stderr = run_session(cmds, p.tmp, dict(os.environ))
    check_results(cmds, results, stderr)
    # The routes up.sh loaded are in use.
    status, _, body = p.get("/", host="shop.test")
    assert status == 200 and b"Hello from alice!" in body
    # Every worker has a process now; Ctrl-C must stop them all.
    for host in ("bob", "echo", "crash", "hello"):
        assert p.get("/", host=f"{host}.example.com")[0] == 200
    p.stop(sig=signal.SIGINT)


# ---- "Write your first worker" ----

def test_write_your_first_worker(platform, tmp_path):
    repo = tmp_path / "checkout"
    repo.mkdir()
    (repo / "build").symlink_to(BUILD)
    workdir = tmp_path / "greet"

    setup = readme_block("walkthrough-setup")
    setup = replace(setup, "/run/switchyard-demo/control.sock",
                    str(platform.socket))
    setup = replace(setup, "/tmp/greet", str(workdir))
    run = replace(readme_block("walkthrough-run"), "127.0.0.1:8080",
                  f"127.0.0.1:{platform.port}")
    source = readme_block("walkthrough-greet.c")
    assert "greet.c" in run

    cmds = commands(setup)
    # "Save this as greet.c", in the directory the setup moved to.
    cmds.append(("cat > greet.c <<'SY_EOF'\n" + source + "SY_EOF", []))
    cmds += commands(run)
    env = dict(os.environ)
    env.pop("SWITCHYARD_SOCKET", None)
    env.pop("PKG_CONFIG_PATH", None)
    results, stderr = run_session(cmds, repo, env)
    check_results(cmds, results, stderr)
    assert platform.workers()["tenants/greet"]["version"] == 1
    # The platform runs its own copy, not the file in the newcomer's dir.
    shutil.rmtree(workdir)
    status, _, body = platform.get("/again", host="greet.example.com")
    assert status == 200 and body == b"Hello, again!\n"

