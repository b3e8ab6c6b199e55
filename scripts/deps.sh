#!/bin/bash
# Installs the Debian packages Switchyard needs to build, test and run.
# Idempotent: when everything is present it does not touch apt at all.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config
	node-llhttp libprotobuf-c-dev protobuf-c-compiler
	libseccomp-dev libcap-dev libbsd-dev libmd-dev liblmdb-dev
	libinih-dev libjansson-dev libcurl4-openssl-dev libedit-dev
	libcmocka-dev python3-pytest curl
	ca-certificates openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root (sudo)" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
