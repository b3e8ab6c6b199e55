#!/bin/bash
# bench/limits.sh [BUILD_DIR]: how far past its CPU limit a spinning worker
# gets before the supervisor stops it. Runs N requests to examples/limits
# /spin (which would spin for a second) under plans with cpu_ms = each of
# CPU_MS, reads "CPU time limit of L ms exceeded (used U ms)" from every
# answer and prints the overshoot (U - L) distribution: p50, p99, max.
# Then, in the same run, req/s of a trivial request to the same tenant
# (wrk, if installed) with the default limits, for the cost of watching.
#
# Knobs: N [100] spins per limit, CPU_MS ["10 50"], DURATION [5] seconds of
# wrk. Loopback only; everything started here is stopped at exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-$REPO/build}
N=${N:-100}
CPU_MS=${CPU_MS:-10 50}
DURATION=${DURATION:-5}

. "$REPO/bench/lib.sh"
bench_init limits
bench_need "$B/switchyard-supervisor" "$B/examples/dispatcher" "$B/examples/limits"

PORT=$(bench_free_port)
{
	bench_switchyard_ini "$PORT"
	cat <<EOF
[plan.default]
instances = 2
queue = 1024

[deploy platform/dispatcher]
exe = $B/examples/dispatcher

[deploy tenants/plain]
exe = $B/examples/limits
EOF
	for l in $CPU_MS; do
		printf '\n[plan.cpu%s]\ninstances = 1\ncpu_ms = %s\n' "$l" "$l"
		printf '\n[deploy tenants/spin%s]\nexe = %s\nplan = cpu%s\n' \
			"$l" "$B/examples/limits" "$l"
	done
} >"$T/switchyard.ini"

ready() {
	curl -s -m 2 -H 'Host: plain.example.com' \
		"http://127.0.0.1:$PORT/remaining" | grep -q '^rc=0'
}
bench_start ready

# p50/p99/max of the numbers on stdin, one a line
dist() {
	sort -n | awk '{a[NR]=$1} END {
		if (NR == 0) { print "no samples"; exit }
		i50 = int(NR * 0.50 + 0.5); if (i50 < 1) i50 = 1
		i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR
		printf "n=%d p50=%.3f ms p99=%.3f ms max=%.3f ms min=%.3f ms\n",
			NR, a[i50], a[i99], a[NR], a[1] }'
}

echo "## CPU limit overshoot: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus, kernel $(uname -r)"
for l in $CPU_MS; do
	: >"$T/over.$l"
	for i in $(seq "$N"); do
		body=$(curl -s -m 10 -H "Host: spin$l.example.com" \
			"http://127.0.0.1:$PORT/spin?ms=1000" || true)
		used=$(sed -n 's/.*exceeded (used \([0-9.]*\) ms).*/\1/p' <<<"$body")
		if [ -z "$used" ]; then
			log "cpu_ms=$l: unexpected answer: $body"
			continue
		fi
		awk -v u="$used" -v l="$l" 'BEGIN { printf "%.3f\n", u - l }' >>"$T/over.$l"
	done
	echo "cpu_ms=$l overshoot: $(dist <"$T/over.$l")"
done

if command -v wrk >/dev/null; then
	url="http://127.0.0.1:$PORT/remaining"
	timeout 30 wrk -t2 -c16 -d1s -H 'Host: plain.example.com' "$url" >/dev/null 2>&1 || true
	rps=$(timeout $((DURATION + 30)) wrk -t2 -c16 -d"${DURATION}s" \
		-H 'Host: plain.example.com' "$url" 2>&1 | awk '/Requests\/sec/ {print $2}')
	echo "wrk -t2 -c16 ${DURATION}s GET /remaining (limits watched): ${rps:-?} req/s"
fi
