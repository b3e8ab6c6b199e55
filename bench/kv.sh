#!/bin/bash
# bench/kv.sh [BUILD_DIR]: the KV store's numbers (docs/kv.md).
#  1. ws_kv_get latency from inside a worker (examples/kv /bench: N gets of
#     one key, then N calls through an undeclared binding, which the
#     supervisor refuses without touching the store: one bare IPC round
#     trip to compare with), p50/p99 in microseconds: cached (the shim's
#     read cache answers all but the first) and uncached (the same worker
#     deployed with WS_KV_CACHE_MB=0: every get asks the supervisor).
#  2. The same for a 1 MiB value (the largest; it travels in KV_VALUE
#     frames), BIG_GETS calls.
#  3. `yardctl kv import` of KEYS [1000000] KEY<TAB>VALUE lines generated
#     in a temporary file, wall seconds, then a few gets to check it.
# Knobs: KEYS, GETS [20000], BIG_GETS [500]. Everything started here is
# stopped at exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${1:-$REPO/build}
KEYS=${KEYS:-1000000}
GETS=${GETS:-20000}
BIG_GETS=${BIG_GETS:-500}

. "$REPO/bench/lib.sh"
bench_init kv-bench
bench_need "$B/switchyard-supervisor" "$B/yardctl" "$B/examples/dispatcher" \
	"$B/examples/kv"

PORT=$(bench_free_port)
{
	bench_switchyard_ini "$PORT"
	cat <<EOF
[plan.default]
instances = 1
queue = 1024
queue_timeout_ms = 10000
idle_timeout_s = 300
wall_ms = 60000
cpu_ms = 60000

[deploy platform/dispatcher]
exe = $B/examples/dispatcher
dispatch_namespace = tenants
EOF
} >"$T/switchyard.ini"
CTL=("$B/yardctl" -s "$T/run/control.sock")
bench_start "${CTL[@]}" pid
"${CTL[@]}" deploy tenants/kvbench "$B/examples/kv" --kv C=bench >/dev/null
"${CTL[@]}" deploy tenants/kvnocache "$B/examples/kv" --kv C=bench \
	--env WS_KV_CACHE_MB=0 >/dev/null
get() { curl -sS -m 120 -H "Host: ${HOST:-kvbench}.example.com" "http://127.0.0.1:$PORT$1"; }

"${CTL[@]}" kv put bench hot "$(head -c 100 /dev/zero | tr '\0' x)"
get "/get?b=C&k=hot" >/dev/null
HOST=kvnocache get "/get?b=C&k=hot" >/dev/null
log "ws_kv_get, $GETS calls from one worker (100-byte value), uncached:"
HOST=kvnocache get "/bench?b=C&k=hot&n=$GETS"
log "ws_kv_get, $GETS calls from one worker (100-byte value), cached:"
get "/bench?b=C&k=hot&n=$GETS"

head -c 1048576 /dev/urandom >"$T/big"
"${CTL[@]}" kv put bench big --file "$T/big"
[ "$(get "/get?b=C&k=big" | cmp - "$T/big" && echo same)" = same ] ||
	die "the 1 MiB value did not come back intact"
log "ws_kv_get, $BIG_GETS calls from one worker (1 MiB value: too large to cache):"
get "/bench?b=C&k=big&n=$BIG_GETS"

log "generating $KEYS KEY<TAB>VALUE lines"
awk -v n="$KEYS" 'BEGIN { for (i = 0; i < n; i++) printf "key%08d\tvalue-%d-abcdefghijklmnop\n", i, i }' >"$T/import.tsv"
log "file: $(du -h "$T/import.tsv" | cut -f1)"
start=$(date +%s.%N)
"${CTL[@]}" kv import bench "$T/import.tsv"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$KEYS" 'BEGIN { printf "import: %d keys in %.2f s (%.0f keys/s)\n", n, e - s, n / (e - s) }'
for k in 0 $((KEYS / 2)) $((KEYS - 1)); do
	key=$(printf 'key%08d' "$k")
	[ "$(get "/get?b=C&k=$key")" = "value-$k-abcdefghijklmnop" ] || die "$key not imported"
done
log "store size: $(du -sh "$T/state/kv" | cut -f1)"
log "ws_kv_get after the import ($KEYS-key database, one key), uncached:"
HOST=kvnocache get "/bench?b=C&k=$(printf 'key%08d' $((KEYS / 3)))&n=$GETS"
