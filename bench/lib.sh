# bench/lib.sh: what every benchmark script needs to run one Switchyard
# platform on loopback and leave nothing behind. Sourced, not run:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init NAME            # log prefix, $T (temp dir), exit trap
#   PORT=$(bench_free_port)
#   { bench_switchyard_ini "$PORT"; cat <<EOF ... EOF; } >"$T/switchyard.ini"
#   bench_start CHECK...       # start; wait until the command CHECK succeeds
#   bench_stop                 # stop it (the exit trap does it too)
#
# $B, the build directory the script was given, is made absolute here: the
# generated configuration lives in a temporary directory, so a relative
# path would name executables that are not there.

if [ -n "${B:-}" ]; then
	BENCH_B=$(cd "$B" 2>/dev/null && pwd) ||
		{ echo "${0##*/}: build directory not found: $B" >&2; exit 2; }
	B=$BENCH_B
fi

bench_init() { # NAME
	BENCH_NAME=$1
	T=$(mktemp -d "/tmp/sy-$1.XXXXXX")
	# Workers run as their own uids and must reach their files here.
	chmod 755 "$T"
	SUP=""
	trap bench_cleanup EXIT INT TERM
}

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_need() { # FILE... : executables that must be built
	local f
	for f in "$@"; do
		[ -x "$f" ] || die "$f not built (run make)"
	done
}

bench_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The [switchyard] section of a platform living in $T; the admin listener is
# off so that no benchmark fights over its default port.
bench_switchyard_ini() { # PORT
	cat <<EOF
[switchyard]
listen = 127.0.0.1:$1
state_dir = $T/state
run_dir = $T/run
control_socket = $T/run/control.sock
dispatch_worker = platform/dispatcher
router_user = nobody
admin_listen =
log_level = warn

EOF
}

bench_start() { # CHECK... : a command that succeeds once the platform serves
	local i
	setsid "$B/switchyard-supervisor" -c "$T/switchyard.ini" \
		>"$T/supervisor.log" 2>&1 </dev/null &
	SUP=$!
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$SUP" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$T/supervisor.log" >&2
	die "the platform did not come up (waited for: $*)"
}

bench_stop() {
	local i
	[ -n "$SUP" ] || return 0
	kill -TERM "$SUP" 2>/dev/null || true
	for i in $(seq 150); do
		kill -0 "$SUP" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SUP" 2>/dev/null; then
		log "supervisor ignored SIGTERM; killing its process group"
		kill -KILL -- "-$SUP" 2>/dev/null || true
	fi
	wait "$SUP" 2>/dev/null || true
	SUP=""
}

bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bench_stop
	rm -rf "$T"
	exit $rc
}
