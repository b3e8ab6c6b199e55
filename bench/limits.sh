#!/bin/bash
# bench/limits.sh [BUILD_DIR]: how far past its CPU limit a spinning worker
# gets before the supervisor stops it. Runs N requests to examples/limits
# /spin (which would spin for a second) under plans with cpu_ms = each of
# CPU_MS, reads "CPU time limit of L ms exceeded (used U ms)" from every
# answer and prints the overshoot (U - L) distribution: p50, p99, max.
# Then, in the same run, the cost of enforcement (wrk, if installed):
# req/s of the same executable deployed twice, under the default limits
# (cpu_ms 50, wall_ms 30000, subrequests 50) and under a plan whose limits
# are the largest the config accepts (cpu_ms 3600000, wall_ms 86400000,
# subrequests 100000), for a trivial request (GET /remaining) and for one
# that burns CPU (GET /spin?ms=SPIN_MS under cpu_ms = SPIN_CPU_MS: on two
# CPUs the timer fires mid-request and re-reads the clock), and the ratios.
#
# What "without limits" can honestly mean (supervisor/limits.c): every call
# reads the serving process's CPU counter (a perf task clock; its CPU clock
# where perf is unavailable) when it starts and ends (that is also how
# cpuTime is measured) and arms one timer for the nearer of its
# wall deadline and cpu_ms / ncpus. A huge plan still arms that timer, but
# it never fires; there is no switch that skips it. So the trivial ratio is
# the cost of the limits' values (expected ~1.0), and the spin ratio adds
# the timer firing and re-arming while a request runs.
#
# Knobs: N [100] spins per limit, CPU_MS ["10 50"], DURATION [5] seconds per
# wrk run, ROUNDS [2] runs per side, SPIN_MS [2], SPIN_CPU_MS [7] (more
# than SPIN_MS plus what a request costs besides its work on a busy host,
# and plus a 4 ms tick where the old clock stands in: docs/limits.md).
# Loopback only; everything started here is stopped at exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-$REPO/build}
N=${N:-100}
CPU_MS=${CPU_MS:-10 50}
DURATION=${DURATION:-5}
SPIN_MS=${SPIN_MS:-2}
SPIN_CPU_MS=${SPIN_CPU_MS:-7}
ROUNDS=${ROUNDS:-2}

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
dispatch_namespace = tenants

[deploy tenants/plain]
exe = $B/examples/limits

[plan.unlimited]
instances = 2
queue = 1024
cpu_ms = 3600000
wall_ms = 86400000
subrequests = 100000

[deploy tenants/unlimited]
exe = $B/examples/limits
plan = unlimited

[plan.spinlimit]
instances = 2
queue = 1024
cpu_ms = $SPIN_CPU_MS

[deploy tenants/spinlimit]
exe = $B/examples/limits
plan = spinlimit
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

# HOST PATH OUT: one wrk -t2 -c16 run of DURATION seconds; appends
# "req/s non2xx" to OUT
wrk_once() {
	timeout $((DURATION + 30)) wrk -t2 -c16 -d"${DURATION}s" \
		-H "Host: $1.example.com" "http://127.0.0.1:$PORT$2" 2>&1 |
		awk '/Requests\/sec/ {r = $2} /Non-2xx/ {e = $NF}
		     END {print r + 0, e + 0}' >>"$3"
}

# LABEL HOST_ON HOST_OFF PATH: ROUNDS pairs in alternating order (on off,
# off on, ...) so that drift favours neither; prints one table row
compare() {
	local i
	: >"$T/on"; : >"$T/off"
	for h in "$2" "$3"; do
		timeout 30 wrk -t2 -c16 -d1s -H "Host: $h.example.com" \
			"http://127.0.0.1:$PORT$4" >/dev/null 2>&1 || true
	done
	for i in $(seq "$ROUNDS"); do
		if [ $((i % 2)) = 1 ]; then
			wrk_once "$2" "$4" "$T/on"; wrk_once "$3" "$4" "$T/off"
		else
			wrk_once "$3" "$4" "$T/off"; wrk_once "$2" "$4" "$T/on"
		fi
	done
	awk -v label="$1" '
		FNR == 1 { f++ }
		{ r[f] += $1; e[f] += $2; n[f]++ }
		END {
			on = r[1] / n[1]; off = r[2] / n[2]
			printf "| %s | %.0f | %.0f | %.3f | %d |\n", label, on, off,
				(off > 0 ? on / off : 0), e[1] + e[2]
		}' "$T/on" "$T/off"
}

if ! command -v wrk >/dev/null; then
	log "wrk is not installed: no enforcement cost measured"
	exit 0
fi
echo
echo "## Cost of enforcement: wrk -t2 -c16, $ROUNDS x ${DURATION}s each side (mean), alternating, same run, same executable"
echo "| request | limits enforced (req/s) | huge limits (req/s) | enforced / huge | non-2xx |"
echo "|---|---:|---:|---:|---:|"
compare "GET /remaining (trivial; default cpu_ms 50)" plain unlimited /remaining
compare "GET /spin?ms=$SPIN_MS (cpu_ms $SPIN_CPU_MS: the timer fires mid-request)" \
	spinlimit unlimited "/spin?ms=$SPIN_MS"
