#!/bin/bash
# Installs what Switchyard needs, builds it, and runs the demo platform
# (examples/demo.ini) in the foreground on 127.0.0.1:8080 with the example
# dispatcher and tenants deployed. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
make -j"$(nproc)"
# The dispatcher reads its host map from where demo.ini's HOSTMAP_FILE says.
install -D -m 0644 examples/dispatcher/hosts.map /var/lib/switchyard-demo/hosts.map
echo "up.sh: serving on http://127.0.0.1:8080/ (Ctrl-C stops)" >&2
exec build/switchyard-supervisor -c examples/demo.ini
