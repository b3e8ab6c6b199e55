#!/bin/bash
# bench/run.sh BUILD_DIR: the dynamic-dispatch path against its peers, all
# measured the same way in one run (`make bench` builds first and calls
# this; nothing here builds Switchyard).
#
# Cases (CASES, default all that the build supports; CASES= runs none, for
# the cold start alone):
#   sy_relay          router -> supervisor -> dispatcher -> (ws_dispatch)
#                     -> hello, the response relayed back through the
#                     dispatcher (examples/dispatcher, DISPATCH_MODE=relay)
#   sy_forward        the same dispatcher deciding, then forwarding: the
#                     supervisor hands the request to hello and hello's
#                     response straight to the router (DISPATCH_MODE=forward)
#   sy_cache          sy_forward with the decision cache on: the
#                     dispatcher's forward is reused for the same Host
#   php_static2       nginx -> php-fpm, unix socket, pm static 2 (our peer)
#   workerd_dispatch  Cloudflare's workerd: dispatch worker -> user worker
#                     by service binding, one process
#   workerd_direct    workerd: the user worker served directly
# The last three are set up by ../shared/bench/anchors.sh, whose functions
# this script uses, so that every case is started, loaded and measured alike.
#
# For each case: wrk -t2 -c64 and -t1 -c1, DURATION seconds each, RUNS runs
# (medians), after a 2 s warm-up; requests/s, p50, p99; the CPU time of the
# server's processes per request (c64; utime+stime from /proc, wrk
# excluded); context switches per request of the server's processes, c64
# and c1 (voluntary + involuntary, from /proc/PID/status). Then the ratios
# against php_static2 and workerd_dispatch, and Switchyard's cold start: the
# first request to a worker whose process was reaped for idleness, against
# a warm one (curl connect-to-last-byte, median of COLD_N), once with
# warm_processes = 0 (the first request waits for a spawn) and once at
# its default (a fresh process waits for it: docs/operations.md).
#
# Knobs: DURATION [10], RUNS [1], INSTANCES [2] processes per tenant worker
# (php_static2 has 2 children), CONCURRENCY [16] requests per dispatcher
# process (its plan's concurrency; 1: one at a time), CASES, COLD_N [8], ANCHORS
# [../shared/bench/anchors.sh]. Loopback only; everything started here is
# stopped at exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-$REPO/build}
DURATION=${DURATION:-10}
RUNS=${RUNS:-1}
INSTANCES=${INSTANCES:-2}
CONCURRENCY=${CONCURRENCY:-16}
COLD_N=${COLD_N:-8}
ANCHORS=${ANCHORS:-$REPO/../shared/bench/anchors.sh}
SY_CASES="sy_relay sy_forward sy_cache"
PEER_CASES="php_static2 workerd_dispatch workerd_direct"
CASES=${CASES-$SY_CASES $PEER_CASES}
CONNS=64
THREADS=2

. "$REPO/bench/lib.sh"
bench_init bench
bench_need "$B/switchyard-supervisor" "$B/yardctl" "$B/examples/dispatcher" \
	"$B/examples/hello"
[ -f "$ANCHORS" ] || die "$ANCHORS not found"

# anchors.sh ends by running its main; everything before is functions and
# settings, which this script shares (setup_case, run_wrk, summarize, ...).
[ "$(tail -n 1 "$ANCHORS")" = 'main "$@"' ] ||
	die "$ANCHORS does not end with its main call: cannot use its functions"
BENCH_T=$T
BENCH_CASES=$CASES # anchors.sh reads an empty CASES as "all of its own"
# shellcheck disable=SC1090
. <(sed '$d' "$ANCHORS")
T=$BENCH_T
CASES=$BENCH_CASES
SRC=$(dirname "$ANCHORS")/anchors
log() { printf '[bench] %s\n' "$*" >&2; }
# anchors' servers are stopped too, whatever ends the script
all_cleanup() {
	local rc=$?
	stop_all 2>/dev/null || true
	(exit $rc)
	bench_cleanup
}
trap all_cleanup EXIT INT TERM
ensure_packages
PHP_FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -n1)
mkdir -p "$T/bin" "$T/www" "$T/raw"
cp "$SRC/hello.php" "$T/www/hello.php"
chmod 755 "$T/www"
chmod 644 "$T/www/hello.php"

# ---- counting what the server's processes did ----

# Process ids of pid and all its descendants.
tree_pids() {
	local pid=$1 kid
	echo "$pid"
	for kid in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		tree_pids "$kid"
	done
}

# "ticks switches" of the given processes: utime+stime (+ reaped
# children's) and voluntary+involuntary context switches.
count_pids() {
	local pid line rest ticks=0 sw=0 v
	for pid in "$@"; do
		{ line=$(<"/proc/$pid/stat"); } 2>/dev/null || continue
		rest=${line##*) }
		set -- $rest
		ticks=$((ticks + ${12} + ${13} + ${14} + ${15}))
		v=$(awk '/^(non)?voluntary_ctxt_switches:/ {s += $2} END {print s+0}' \
			"/proc/$pid/status" 2>/dev/null || echo 0)
		sw=$((sw + v))
	done
	echo "$ticks $sw"
}

# The server's processes: Switchyard's supervisor and its descendants, or
# the process groups anchors.sh started.
server_count() {
	local pids g
	if [ -n "$SUP" ]; then
		pids=$(tree_pids "$SUP")
	else
		pids=$(for g in "${GROUPS_STARTED[@]:-}"; do
			[ -n "$g" ] && pgrep -g "$g"
		done)
	fi
	# shellcheck disable=SC2086
	count_pids $pids
}

# ---- Switchyard's cases ----

sy_config() { # PORT MODE CACHE_S
	bench_switchyard_ini "$1"
	# still [switchyard]: warm processes (default 8) unless
	# WARM_PROCESSES says
	[ -z "${WARM_PROCESSES:-}" ] ||
		printf 'warm_processes = %s\n\n' "$WARM_PROCESSES"
	cat <<EOF
[plan.default]
instances = $INSTANCES
queue = 1024
queue_timeout_ms = 10000
idle_timeout_s = 300

[plan.platform]
instances = 2
concurrency = $CONCURRENCY
queue = 4096
queue_timeout_ms = 10000
idle_timeout_s = 300
cpu_ms = 1000

[plan.idle]
instances = 1
idle_timeout_s = 1

[deploy platform/dispatcher]
exe = $B/examples/dispatcher
plan = platform
dispatch_namespace = tenants
env = DISPATCH_MODE=$2
env = DECISION_CACHE_S=$3

[deploy tenants/hello]
exe = $B/examples/hello

[deploy tenants/cold]
exe = $B/examples/hello
plan = idle
EOF
}

hello_answers() { # PORT
	[ "$(curl -s -m 2 -H 'Host: hello.example.com' "http://127.0.0.1:$1/")" = "hello world" ]
}

sy_start() { # CASE PORT
	local mode=relay cache=0
	case $1 in
	sy_forward) mode=forward ;;
	sy_cache) mode=forward cache=60 ;;
	esac
	sy_config "$2" "$mode" "$cache" >"$T/switchyard.ini"
	bench_start hello_answers "$2"
}

# ---- one case, any kind ----

rows=()
declare -A RPS64 P50_1 P99_64 CPU SW64

measure() { # CASE
	local c=$1 port url host=() hi lo c0 c1 s0 s1 s2 r reqs reqs1
	port=$(bench_free_port)
	url="http://127.0.0.1:$port/"
	SUP=""
	case $c in
	sy_*) sy_start "$c" "$port"
	      host=(-H 'Host: hello.example.com') ;;
	*) setup_case "$c" "$port"
	   [ "$c" = workerd_dispatch ] && url+="hello/"
	   wait_http "$url" || { stop_all; rows+=("$c|FAILED|-|-|-|-|-|-|-|-|-"); return 0; } ;;
	esac
	timeout 30 wrk -t"$THREADS" -c"$CONNS" -d2s "${host[@]}" "$url" >/dev/null 2>&1 || true
	hi="$T/raw/$c.c$CONNS"
	lo="$T/raw/$c.c1"
	: >"$hi"
	: >"$lo"
	read -r c0 s0 <<<"$(server_count)"
	for r in $(seq "$RUNS"); do
		run_wrk "$url" "$THREADS" "$CONNS" "$DURATION" "$hi" "${host[@]}"
	done
	read -r c1 s1 <<<"$(server_count)"
	for r in $(seq "$RUNS"); do
		run_wrk "$url" 1 1 "$DURATION" "$lo" "${host[@]}"
	done
	read -r _ s2 <<<"$(server_count)"
	[ -n "$SUP" ] && bench_stop || stop_all
	read -r hrps hp50 hp99 herr <<<"$(summarize "$hi")"
	read -r lrps lp50 lp99 lerr <<<"$(summarize "$lo")"
	reqs=$(field "$hi" reqs | awk '{s+=$1} END{print s+0}')
	reqs1=$(field "$lo" reqs | awk '{s+=$1} END{print s+0}')
	CPU[$c]=$(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
		'BEGIN{ if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print "-" }')
	SW64[$c]=$(awk -v d=$((s1 - s0)) -v n="$reqs" 'BEGIN{ if (n > 0) printf "%.2f", d / n; else print "-" }')
	local sw1
	sw1=$(awk -v d=$((s2 - s1)) -v n="$reqs1" 'BEGIN{ if (n > 0) printf "%.2f", d / n; else print "-" }')
	RPS64[$c]=$hrps
	P50_1[$c]=$lp50
	P99_64[$c]=$hp99
	rows+=("$c|$(label "$c")|$(fmt_int "$hrps")|$(fmt_us "$hp50")|$(fmt_us "$hp99")|$(fmt_int "$lrps")|$(fmt_us "$lp50")|$(fmt_us "$lp99")|${CPU[$c]}|${SW64[$c]} / $sw1|$((herr + lerr))")
	log "$c: c64 $(fmt_int "$hrps") req/s p99 $(fmt_us "$hp99"), c1 p50 $(fmt_us "$lp50"), CPU ${CPU[$c]} us/req, switches ${SW64[$c]}/$sw1 per req"
}

label() {
	case $1 in
	sy_relay) echo 'switchyard: dispatcher relays (ws_dispatch) to hello' ;;
	sy_forward) echo 'switchyard: dispatcher forwards to hello' ;;
	sy_cache) echo 'switchyard: forward, decision cached' ;;
	*) describe "$1" ;;
	esac
}

# anchors.sh's run_wrk takes no extra wrk arguments; this one does (Host).
run_wrk() { # URL THREADS CONNS DURATION OUTFILE [wrk args]
	local url=$1 t=$2 c=$3 d=$4 out=$5 line
	shift 5
	line=$(timeout $((d + 30)) wrk -t"$t" -c"$c" -d"${d}s" --latency \
		-s "$SRC/report.lua" "$@" "$url" 2>&1 | grep '^ANCHOR' || true)
	[ -n "$line" ] || { log "wrk produced no result for $url"; return 0; }
	echo "$line" >>"$out"
}

# ---- cold start ----

# samples: the worker tenants/cold (plan idle) reaped each time;
# WARM_PROCESSES is the platform's warm_processes ("": its default)
cold_start() {
	local port i t old
	port=$(bench_free_port)
	sy_start sy_forward "$port"
	: >"$T/cold.txt"
	: >"$T/warm.txt"
	for i in $(seq "$COLD_N"); do
		"$B/yardctl" -s "$T/run/control.sock" stop tenants/cold >/dev/null 2>&1 || true
		"$B/yardctl" -s "$T/run/control.sock" start tenants/cold >/dev/null 2>&1 || true
		sleep 0.3
		old=$("$B/yardctl" -s "$T/run/control.sock" pid tenants/cold 2>/dev/null || true)
		# idle_timeout_s = 1: wait until that process was reaped for
		# idleness (and replaced by a warm one, if the platform keeps one)
		for t in $(seq 50); do
			[ "$("$B/yardctl" -s "$T/run/control.sock" pid tenants/cold 2>/dev/null || true)" != "$old" ] && break
			sleep 0.1
		done
		curl -s -o /dev/null -m 5 -w '%{time_total}\n' -H 'Host: cold.example.com' \
			"http://127.0.0.1:$port/" >>"$T/cold.txt"
		curl -s -o /dev/null -m 5 -w '%{time_total}\n' -H 'Host: cold.example.com' \
			"http://127.0.0.1:$port/" >>"$T/warm.txt"
	done
	bench_stop
	COLD=$(awk '{print $1 * 1e6}' "$T/cold.txt" | median)
	WARM=$(awk '{print $1 * 1e6}' "$T/warm.txt" | median)
	COLD_RANGE=$(span "$T/cold.txt")
	WARM_RANGE=$(span "$T/warm.txt")
}

span() { # FILE of seconds: "min-max" in the table's units
	local lo hi
	lo=$(awk '{print $1 * 1e6}' "$1" | sort -n | head -n 1)
	hi=$(awk '{print $1 * 1e6}' "$1" | sort -n | tail -n 1)
	echo "$(fmt_us "$lo")-$(fmt_us "$hi")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || a == "" || b == "" || b == 0) print "-"; else printf "x%.2f", a / b }'; }

supported() { # CASE: does this build's dispatcher know the mode?
	case $1 in
	sy_forward | sy_cache) grep -qa DISPATCH_MODE "$B/examples/dispatcher" ;;
	*) return 0 ;;
	esac
}

for c in $CASES; do
	if ! supported "$c"; then
		log "$c: this build's dispatcher cannot forward; skipped"
		continue
	fi
	log "case $c"
	measure "$c"
done
COLD=""
WARM=""
NOWARM_COLD=""
# a build from before warm processes knows no such key, and keeps none
knows_warm() { # not grep -q: under pipefail, strings would die of SIGPIPE
	strings "$B/switchyard-supervisor" | grep -x warm_processes >/dev/null
}
if [ "$COLD_N" -gt 0 ]; then
	# without warm processes first: every first request waits for a spawn
	if knows_warm; then
		WARM_PROCESSES=0
		cold_start
		NOWARM_COLD=$COLD NOWARM_WARM=$WARM
		NOWARM_COLD_RANGE=$COLD_RANGE NOWARM_WARM_RANGE=$WARM_RANGE
	fi
	WARM_PROCESSES=""
	cold_start
fi

{
	echo
	echo "## The dispatch path on loopback: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus, kernel $(uname -r)"
	echo "wrk -t$THREADS -c$CONNS and -t1 -c1, ${DURATION}s each, median of $RUNS run(s) after a 2 s warm-up; $INSTANCES processes per tenant worker; server CPU and context switches counted over the server's processes only"
	echo
	echo "| case | setup | c$CONNS req/s | c$CONNS p50 | c$CONNS p99 | c1 req/s | c1 p50 | c1 p99 | server CPU us/req | switches/req c$CONNS / c1 | errors |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for row in "${rows[@]}"; do echo "| ${row//|/ | } |"; done
	echo
	for c in $SY_CASES; do
		[ -n "${RPS64[$c]:-}" ] || continue
		for peer in php_static2 workerd_dispatch; do
			[ -n "${RPS64[$peer]:-}" ] || continue
			echo "- $c / $peer: c64 req/s $(ratio "${RPS64[$c]}" "${RPS64[$peer]}"), c1 p50 $(ratio "${P50_1[$c]}" "${P50_1[$peer]}"), c64 p99 $(ratio "${P99_64[$c]}" "${P99_64[$peer]}"), CPU/req $(ratio "${CPU[$c]}" "${CPU[$peer]}")"
		done
	done
	if [ -n "$COLD" ]; then
		echo
		echo "- cold start: first request to a worker reaped for idleness $(fmt_us "$COLD"), warm $(fmt_us "$WARM"): $(fmt_us "$(awk -v a="$COLD" -v b="$WARM" 'BEGIN{printf "%d", a - b}')") more (curl connect-to-last-byte, median of $COLD_N; cold $COLD_RANGE, warm $WARM_RANGE; $(knows_warm && echo "warm_processes at its default" || echo "a build without warm processes"))"
		if [ -n "$NOWARM_COLD" ]; then
			echo "- cold start without warm processes (warm_processes = 0: the first request waits for a spawn): $(fmt_us "$NOWARM_COLD"), warm $(fmt_us "$NOWARM_WARM"): $(fmt_us "$(awk -v a="$NOWARM_COLD" -v b="$NOWARM_WARM" 'BEGIN{printf "%d", a - b}')") more (median of $COLD_N; cold $NOWARM_COLD_RANGE, warm $NOWARM_WARM_RANGE)"
		fi
	fi
} | tee "$T/table.md"
