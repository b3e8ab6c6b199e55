#!/bin/bash
# bench/dispatch.sh [BUILD_DIR]: does the dispatch worker slow down as the
# number of routed hostnames grows? (docs/dispatch.md)
# One platform: the KV dispatcher (examples/dispatcher, routes in the KV
# namespace "routes") in front of tenants/hello. wrk sends every request
# to a random hostname among those loaded (the Lua script below), first
# with SMALL [10] hostnames in KV, then after `yardctl kv import` of HOSTS
# [1000000]: requests/s and p99 of both, and their ratio. Each request
# costs the dispatcher one KV read of host:NAME, its JSON metadata, and
# one ws_dispatch. For reference, the same with hello.example.com, which
# no route names (one KV miss, then the subdomain fallback).
# The dispatcher's shim caches what it reads (docs/kv.md, "Read cache"):
# the last column is the share of requests for which the supervisor
# served it a KV get (switchyard_kv_requests_total from the admin
# listener), i.e. the cache's miss rate.
# Knobs: DURATION [10] seconds per wrk run, CONNS [64], THREADS [2],
# INSTANCES [2] processes per worker, KV_CACHE_MB [unset: the shim's
# default] the dispatcher's WS_KV_CACHE_MB (0: no read cache). Loopback only; everything started
# here is stopped at exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-$REPO/build}
DURATION=${DURATION:-10}
SMALL=${SMALL:-10}
HOSTS=${HOSTS:-1000000}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
INSTANCES=${INSTANCES:-2}

. "$REPO/bench/lib.sh"
bench_init dispatch-bench
bench_need "$B/switchyard-supervisor" "$B/yardctl" "$B/examples/dispatcher" \
	"$B/examples/hello"
if ! command -v wrk >/dev/null; then
	[ "$(id -u)" = 0 ] || die "wrk is not installed; run as root to install it"
	log "installing wrk"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
fi

PORT=$(bench_free_port)
APORT=$(bench_free_port)
{
	bench_switchyard_ini "$PORT" |
		sed "s/^admin_listen =\$/admin_listen = 127.0.0.1:$APORT/"
	cat <<EOF
[plan.default]
instances = $INSTANCES
queue = 1024
queue_timeout_ms = 10000
idle_timeout_s = 300

[deploy platform/dispatcher]
exe = $B/examples/dispatcher
dispatch_namespace = tenants
kv = ROUTES=routes:ro
${KV_CACHE_MB:+env = WS_KV_CACHE_MB=$KV_CACHE_MB}

[deploy tenants/hello]
exe = $B/examples/hello
EOF
} >"$T/switchyard.ini"
CTL=("$B/yardctl" -s "$T/run/control.sock")
bench_start "${CTL[@]}" status

# Hosts hN.bench.test for N in [0, SY_HOSTS): the list wrk picks from.
cat >"$T/hosts.lua" <<'LUA'
local count = tonumber(os.getenv("SY_HOSTS"))

function init(args)
	-- one Lua state per wrk thread: seed each differently
	math.randomseed(os.time() + math.floor(os.clock() * 1e6) +
	                tonumber(tostring({}):match("0x(%x+)"), 16) % 1000003)
end

function request()
	local host = "h" .. math.random(0, count - 1) .. ".bench.test"
	if count == 0 then
		host = "hello.example.com" -- the subdomain fallback: no route
	end
	return wrk.format("GET", "/", { Host = host })
end

function done(summary, latency, requests)
	local s = summary.duration / 1e6
	io.write(string.format("RESULT n=%d rps=%.0f p50_ms=%.3f " ..
	         "p99_ms=%.3f non2xx=%d sockerr=%d\n", summary.requests,
	         summary.requests / s,
	         latency:percentile(50) / 1000, latency:percentile(99) / 1000,
	         summary.errors.status, summary.errors.connect +
	         summary.errors.read + summary.errors.write +
	         summary.errors.timeout))
end
LUA

load_hosts() { # COUNT: routes h0..h(COUNT-1).bench.test to tenants/hello
	local last="h$(($1 - 1)).bench.test"
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "host:h%d.bench.test\t{\"worker\":\"hello\",\"plan\":\"pro\",\"customer_id\":\"cus_%d\"}\n", i, i % 1000 }' >"$T/hosts.tsv"
	"${CTL[@]}" kv import routes "$T/hosts.tsv" >&2
	rm -f "$T/hosts.tsv"
	[ "$(curl -sS -m 5 -H "Host: $last" "http://127.0.0.1:$PORT/")" = "hello world" ] ||
		die "$last is not routed to tenants/hello"
}

# KV gets the supervisor served the dispatcher so far.
kv_gets() {
	curl -sS -m 5 "http://127.0.0.1:$APORT/metrics" | awk '
		/^switchyard_kv_requests_total\{namespace="platform",worker="dispatcher",kv_namespace="routes",op="get"\}/ { n = $2 }
		END { print n + 0 }'
}

measure() { # COUNT -> the RESULT line of wrk, plus kvgets=N
	local url="http://127.0.0.1:$PORT/" g0 r
	SY_HOSTS=$1 timeout 30 wrk -t"$THREADS" -c"$CONNS" -d2s \
		-s "$T/hosts.lua" "$url" >/dev/null 2>&1 || true
	g0=$(kv_gets)
	r=$(SY_HOSTS=$1 timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" \
		-d"${DURATION}s" --latency -s "$T/hosts.lua" "$url" 2>&1 |
		grep '^RESULT') || die "wrk produced no result with $1 hostnames"
	echo "$r kvgets=$(($(kv_gets) - g0))"
}

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

log "loading $SMALL hostnames"
load_hosts "$SMALL"
small=$(measure "$SMALL")
fallback=$(measure 0)
log "loading $HOSTS hostnames"
start=$(date +%s.%N)
load_hosts "$HOSTS"
end=$(date +%s.%N)
log "generated and imported in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') s; store: $(du -sh "$T/state/kv" | cut -f1)"
big=$(measure "$HOSTS")

echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, a random Host per request; $INSTANCES processes per worker"
printf '%-10s %10s %10s %10s %8s %10s\n' hostnames req/s p50_ms p99_ms errors \
	kv_asks/req
for row in "$SMALL|$small" "$HOSTS|$big" "fallback|$fallback"; do
	n=${row%%|*} r=${row#*|}
	printf '%-10s %10s %10s %10s %8s %10s\n' "$n" "$(field "$r" rps)" \
		"$(field "$r" p50_ms)" "$(field "$r" p99_ms)" \
		"$(($(field "$r" non2xx) + $(field "$r" sockerr)))" \
		"$(awk -v g="$(field "$r" kvgets)" -v n="$(field "$r" n)" \
			'BEGIN { printf "%.4f", n ? g / n : 0 }')"
done
awk -v a="$(field "$small" rps)" -v b="$(field "$big" rps)" \
	-v c="$(field "$small" p99_ms)" -v d="$(field "$big" p99_ms)" \
	-v n="$HOSTS" -v s="$SMALL" 'BEGIN { printf "ratio %d/%d hostnames: req/s x%.3f, p99 x%.3f\n", n, s, b / a, d / c }'
