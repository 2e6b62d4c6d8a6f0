#!/usr/bin/env bash
# Back up the casino database (DATABASE_URL) into backups/:
#
#   ./scripts/backup_postgres.sh [--dir backups] [--compress zstd] [--json]
#
# writes backups/casino_db_YYYYMMDD_HHMMSS.sql.gz (plain SQL, `gunzip -c F |
# psql` restores it) and its .manifest.json. A thin wrapper over
# `casino backup create`. See docs/ops/backup_restore.md.
set -euo pipefail

usage() {
	cat >&2 <<'USAGE'
usage: scripts/backup_postgres.sh [casino backup create flags...]

  --dir DIR          backup folder (default backups, env CASINO_BACKUP_DIR)
  --compress zstd    faster, .sql.zst instead of .sql.gz
  --json             machine-readable result

Backs up DATABASE_URL (required).
USAGE
	exit 2
}

case "${1:-}" in -h|--help) usage ;; esac
for a in "$@"; do
	case "$a" in -*) ;; *) [ "${prev:-}" = --dir ] || [ "${prev:-}" = --compress ] || [ "${prev:-}" = --level ] || [ "${prev:-}" = --kind ] || { echo "backup_postgres.sh: unexpected argument: $a" >&2; usage; } ;; esac
	prev="$a"
done
if [ -z "${DATABASE_URL:-}" ]; then
	echo "backup_postgres.sh: DATABASE_URL is not set (postgres://user:pass@host:5432/dbname)" >&2
	usage
fi

# The casino binary: $CASINO_BIN, then PATH, then a build of the repo's source
# (always current), then a ./casino built at the repo root.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -n "${CASINO_BIN:-}" ]; then
	casino=("$CASINO_BIN")
elif command -v casino >/dev/null 2>&1; then
	casino=(casino)
elif command -v go >/dev/null 2>&1 && [ -f "$here/../go.mod" ]; then
	# Build the current source (incremental, cached) and run it here, so
	# relative paths mean what they say.
	bin="${TMPDIR:-/tmp}/casino-scripts-$(id -u)/casino"
	(cd "$here/.." && go build -o "$bin" ./cmd/casino)
	casino=("$bin")
elif [ -x "$here/../casino" ]; then
	casino=("$here/../casino")
else
	echo "backup_postgres.sh: no casino binary (set CASINO_BIN, put casino on PATH, or install Go)" >&2
	exit 1
fi

exec "${casino[@]}" backup create "$@"
