#!/bin/bash
# The floor plan, checked (docs/DESIGN.md): folders are layers and an
# #include only names a file of its own layer or of one below it.
#
#   lib/, proto/              shared by every program; include nothing else
#   supervisor/jail/          < state/ < serve/ < control/ < main.c
#   router/, ctl/, worker-shim/, examples/
#                             programs: lib/ and proto/ and their own files,
#                             never another program's
#
# Supervisor files name the layer of what they include ("serve/pool.h");
# a bare name must be a header of lib/, proto/ or the generated protocol.
# Prints one line per violation and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LAYERS="jail state serve control"
bad=0

rank() { # LAYER -> its position, bottom = 1
	local i=1 l
	for l in $LAYERS; do
		[ "$l" = "$1" ] && { echo $i; return; }
		i=$((i + 1))
	done
	echo 0
}

shared_header() { # NAME -> 0 if it is a header of lib/, proto/ or gen
	[ -f "lib/$1" ] || [ -f "proto/$1" ] || [ "$1" = switchyard.pb-c.h ]
}

complain() {
	echo "$1" >&2
	bad=1
}

# file:line:name for every quoted include of the given files
includes() {
	grep -Hn '^#include "' "$@" 2>/dev/null |
		sed 's/^\([^:]*\):\([0-9]*\):#include "\([^"]*\)".*/\1:\2:\3/'
}

check_shared() {
	local f l n
	while IFS=: read -r f l n; do
		shared_header "$n" ||
			complain "$f:$l: includes \"$n\": lib/ and proto/ include only lib/ and proto/"
	done < <(includes lib/*.[ch] proto/*.[ch])
}

check_supervisor() {
	local f l n own want
	while IFS=: read -r f l n; do
		case $f in
		supervisor/main.c) own=99 ;;
		supervisor/*/*) own=$(rank "$(basename "$(dirname "$f")")") ;;
		*) own=0 ;;
		esac
		case $n in
		*/*)
			want=$(rank "${n%%/*}")
			if [ "$want" = 0 ]; then
				complain "$f:$l: includes \"$n\": not a layer of the supervisor"
			elif [ "$want" -gt "$own" ]; then
				complain "$f:$l: includes \"$n\": ${n%%/*}/ is above $(basename "$(dirname "$f")")/"
			fi ;;
		*)
			shared_header "$n" ||
				complain "$f:$l: includes \"$n\": name its layer (\"state/$n\") or use lib/ and proto/ only" ;;
		esac
	done < <(includes supervisor/main.c supervisor/*/*.[ch])
}

check_program() { # DIR
	local f l n
	while IFS=: read -r f l n; do
		case $n in
		../*|*/*) complain "$f:$l: includes \"$n\": a program includes only lib/, proto/ and its own files" ;;
		*) [ -f "$1/$n" ] || shared_header "$n" || [ "$n" = workershim.h ] ||
			complain "$f:$l: includes \"$n\": not in $1/, lib/ or proto/" ;;
		esac
	done < <(includes "$1"/*.[ch])
}

check_shared
check_supervisor
for d in router ctl worker-shim; do
	check_program "$d"
done
[ $bad = 0 ] && echo "layers: every include goes down (lib proto < $LAYERS < main.c)"
exit $bad
