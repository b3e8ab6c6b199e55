#!/bin/bash
# Installs what Switchyard needs, builds it, and runs the demo platform
# (examples/demo.ini) in the foreground on 127.0.0.1:8080 with the example
# dispatcher and tenants deployed. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
make -j"$(nproc)"

SOCK=/run/switchyard-demo/control.sock
# The dispatcher's routes are data in KV (docs/dispatch.md): a helper loads
# them as soon as the control socket answers, then exits. It runs in this
# terminal's process group, so a Ctrl-C during start stops it too, and it
# gives up if the supervisor ($$, which exec makes it) exits first.
load_routes() {
	local i
	for i in $(seq 200); do
		kill -0 $$ 2>/dev/null || return 0
		if build/yardctl -s "$SOCK" status >/dev/null 2>&1; then
			build/yardctl -s "$SOCK" kv import routes examples/dispatcher/routes.jsonl >&2 ||
				echo "up.sh: loading the routes failed" >&2
			return 0
		fi
		sleep 0.1
	done
	echo "up.sh: the platform did not answer in 20 s; routes not loaded" >&2
}
load_routes &
echo "up.sh: serving on http://127.0.0.1:8080/ (Ctrl-C stops)" >&2
exec build/switchyard-supervisor -c examples/demo.ini
