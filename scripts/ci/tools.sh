#!/usr/bin/env bash
# Installs the command-line tools the tests run for real, when missing:
# openssl (verifies signed backup manifests without casino), age (decrypts
# encrypted backups with the stock CLI) and promtool (checks and unit-tests
# the shipped alert rules; Debian ships it in the prometheus package, whose
# service is kept from starting). Idempotent.
set -euo pipefail
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v age >/dev/null 2>&1 || missing+=(age)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "tools.sh: ${missing[*]} missing and I am not root: apt-get install ${missing[*]}" >&2; exit 1; }
	echo "tools.sh: installing Debian's ${missing[*]}" >&2
	# policy-rc.d stops a package from starting its own service.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
