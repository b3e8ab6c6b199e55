#!/bin/bash
# bench/run.sh BUILD_DIR: requests/s and latency of hello world through the
# whole Switchyard path (router -> supervisor -> dispatch worker -> tenant
# worker), and, in the same run, of nginx -> php-fpm over a Unix socket
# (../shared/bench/anchors.sh, case php_static2), then their ratio.
# `make bench` builds first and calls this; nothing here builds Switchyard.
#
# Knobs: DURATION [10] seconds per wrk run, RUNS [1] runs per measurement
# (median taken), INSTANCES [2] processes per worker (php_static2 has 2
# children), ANCHORS [../shared/bench/anchors.sh]. Loopback only; everything
# started here is stopped at exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-$REPO/build}
DURATION=${DURATION:-10}
RUNS=${RUNS:-1}
INSTANCES=${INSTANCES:-2}
ANCHORS=${ANCHORS:-$REPO/../shared/bench/anchors.sh}
REPORT_LUA=$(dirname "$ANCHORS")/anchors/report.lua

. "$REPO/bench/lib.sh"
bench_init bench
bench_need "$B/switchyard-supervisor" "$B/examples/dispatcher" "$B/examples/hello"
[ -f "$ANCHORS" ] || die "$ANCHORS not found"
if ! command -v wrk >/dev/null; then
	[ "$(id -u)" = 0 ] || die "wrk is not installed; run as root to install it"
	log "installing wrk"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi

write_config() { # PORT
	{
		bench_switchyard_ini "$1"
		cat <<EOF
[plan.default]
instances = $INSTANCES
queue = 1024
queue_timeout_ms = 10000
idle_timeout_s = 300

[deploy platform/dispatcher]
exe = $B/examples/dispatcher
dispatch_namespace = tenants

[deploy tenants/hello]
exe = $B/examples/hello
EOF
	} >"$T/switchyard.ini"
}

hello_answers() { # PORT
	[ "$(curl -s -m 2 -H 'Host: hello.example.com' "http://127.0.0.1:$1/")" = "hello world" ]
}

start_platform() { # PORT
	write_config "$1"
	bench_start hello_answers "$1"
}

median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print "-";exit} if(NR%2)print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"; }

run_wrk() { # CONNS THREADS OUTFILE URL [wrk args]
	local c=$1 t=$2 out=$3 url=$4
	shift 4
	timeout $((DURATION + 30)) wrk -t"$t" -c"$c" -d"${DURATION}s" --latency \
		-s "$REPORT_LUA" "$@" "$url" 2>&1 | grep '^ANCHOR' >>"$out" ||
		log "wrk produced no result for $url (-c$c)"
}

summary() { # RAWFILE -> "rps p50 p99 errors"
	local f=$1
	echo "$(field "$f" rps | median) $(field "$f" p50 | median)" \
		"$(field "$f" p99 | median)" \
		"$( (field "$f" sockerr; field "$f" non2xx) | awk '{s+=$1} END{print s+0}')"
}

bench_switchyard() {
	local port url r
	port=$(bench_free_port)
	start_platform "$port"
	url="http://127.0.0.1:$port/"
	log "switchyard on 127.0.0.1:$port: warm-up"
	timeout 30 wrk -t2 -c64 -d2s -H 'Host: hello.example.com' "$url" >/dev/null 2>&1 || true
	: >"$T/sy.c64"
	: >"$T/sy.c1"
	for r in $(seq "$RUNS"); do
		run_wrk 64 2 "$T/sy.c64" "$url" -H 'Host: hello.example.com'
	done
	for r in $(seq "$RUNS"); do
		run_wrk 1 1 "$T/sy.c1" "$url" -H 'Host: hello.example.com'
	done
	bench_stop
}

bench_php() {
	log "nginx -> php-fpm (anchors.sh php_static2)"
	# COLD_N=1, not 0: with 0, anchors.sh exits before it copies RESULTS.
	CASES=php_static2 RUNS=$RUNS DURATION=$DURATION COLD_N=1 CONNS=64 \
		THREADS=2 BASEPORT=$(bench_free_port) RESULTS="$T/anchors" \
		bash "$ANCHORS" >"$T/anchors.out" 2>"$T/anchors.err" || true
	# The raw results are the verdict, not its exit status.
	[ -s "$T/anchors/raw/php_static2.c64" ] && [ -s "$T/anchors/raw/php_static2.c1" ] ||
		{ tail -n 20 "$T/anchors.err" >&2; die "anchors.sh produced no results"; }
	cp "$T/anchors/raw/php_static2.c64" "$T/php.c64"
	cp "$T/anchors/raw/php_static2.c1" "$T/php.c1"
}

num() { awk -v v="$1" 'BEGIN{ if (v == "-" || v == "") print "-"; else printf "%.0f", v }'; }
us() { awk -v v="$1" 'BEGIN{ if (v == "-" || v == "") print "-"; else if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%d us", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

row() { # LABEL rps p50 p99 errs (c64) rps p50 p99 errs (c1)
	echo "| $1 | $(num "$2") | $(us "$3") | $(us "$4") | $(num "$6") |" \
		"$(us "$7") | $(us "$8") | $(($5 + $9)) |"
}

report() {
	local sy64 sy1 php64 php1
	read -r -a sy64 <<<"$(summary "$T/sy.c64")"
	read -r -a sy1 <<<"$(summary "$T/sy.c1")"
	read -r -a php64 <<<"$(summary "$T/php.c64")"
	read -r -a php1 <<<"$(summary "$T/php.c1")"
	echo
	echo "## hello world on loopback: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus, kernel $(uname -r)"
	echo "wrk -t2 -c64 and -t1 -c1, ${DURATION}s each, median of $RUNS run(s); $INSTANCES processes per worker"
	echo
	echo "| path | c64 req/s | c64 p50 | c64 p99 | c1 req/s | c1 p50 | c1 p99 | errors |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	row "switchyard: router -> supervisor -> dispatcher -> hello" \
		"${sy64[@]}" "${sy1[@]}"
	row "nginx -> php-fpm (unix socket, static 2)" "${php64[@]}" "${php1[@]}"
	echo
	echo "switchyard / php-fpm: c64 req/s x$(ratio "${sy64[0]}" "${php64[0]}")," \
		"p50 x$(ratio "${sy64[1]}" "${php64[1]}"), p99 x$(ratio "${sy64[2]}" "${php64[2]}");" \
		"c1 req/s x$(ratio "${sy1[0]}" "${php1[0]}")," \
		"p50 x$(ratio "${sy1[1]}" "${php1[1]}"), p99 x$(ratio "${sy1[2]}" "${php1[2]}")"
}

bench_switchyard
bench_php
report
