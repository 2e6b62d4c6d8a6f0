#!/usr/bin/env bash
# Installs the command-line tools the tests run for real, when missing:
# openssl (verifies signed backup manifests without casino) and age
# (decrypts encrypted backups with the stock CLI). Idempotent.
set -euo pipefail
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v age >/dev/null 2>&1 || missing+=(age)
if [ "${#missing[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "tools.sh: ${missing[*]} missing and I am not root: apt-get install ${missing[*]}" >&2; exit 1; }
	echo "tools.sh: installing Debian's ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq "${missing[@]}" >&2
fi
