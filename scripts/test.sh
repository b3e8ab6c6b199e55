#!/bin/bash
# The whole test suite: Debian packages, then `make check` (unit and
# integration tests under AddressSanitizer and UBSan, then a plain -Werror
# build). CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
# Build both configurations in parallel first; `make check` then only runs
# the tests, one after the other, so timing-sensitive ones are not crowded.
make -j"$(nproc)" SAN=1 all
make -j"$(nproc)" all
make check
