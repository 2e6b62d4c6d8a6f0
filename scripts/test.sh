#!/usr/bin/env bash
# Runs every test of casino. It installs and starts what the tests need
# (Debian's postgresql on 127.0.0.1 with a throwaway data directory, Debian's
# chromium), then runs go test over the whole module. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

CASINO_TEST_PG_URL="$(bash scripts/ci/postgres.sh url)"
export CASINO_TEST_PG_URL
CASINO_CHROMIUM="$(bash scripts/ci/chromium.sh)"
export CASINO_CHROMIUM
bash scripts/ci/tools.sh

go vet ./...
go test -count=1 -timeout 14m "$@" ./...
