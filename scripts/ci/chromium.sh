#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing.
# Idempotent; prints the browser's path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || { echo "chromium.sh: chromium is missing and I am not root: apt-get install chromium" >&2; exit 1; }
	echo "chromium.sh: installing Debian's chromium" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq chromium >&2
fi
command -v chromium
