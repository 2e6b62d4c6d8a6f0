#!/usr/bin/env bash
# Restore the casino database from a backup: the checklist's Scenario B line
#
#   ./scripts/restore_postgres.sh backups/casino_db_YYYYMMDD_HHMMSS.sql.gz
#
# against DATABASE_URL, then restart the backend. A thin wrapper over
# `casino restore FILE --yes`, which verifies the file, takes a safety backup
# (backups/pre_restore_casino_db_...), restores into a scratch database,
# checks it, and swaps it in atomically. Extra flags pass through
# (e.g. --dry-run, --target URL, --no-safety-backup). See
# docs/ops/backup_restore.md.
set -euo pipefail

usage() {
	cat >&2 <<'USAGE'
usage: scripts/restore_postgres.sh BACKUP_FILE [casino restore flags...]

  BACKUP_FILE   backups/casino_db_YYYYMMDD_HHMMSS.sql.gz (with its .manifest.json)

Restores into DATABASE_URL (required). Then restart the backend:
  docker compose -f docker-compose.prod.yml restart backend
USAGE
	exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h|--help|"") usage ;; esac
file="$1"
shift
[ -f "$file" ] || { echo "restore_postgres.sh: no such backup file: $file" >&2; usage; }
if [ -z "${DATABASE_URL:-}" ]; then
	echo "restore_postgres.sh: DATABASE_URL is not set (postgres://user:pass@host:5432/dbname)" >&2
	usage
fi
case "$DATABASE_URL" in
postgres://* | postgresql://*) ;;
*) echo "restore_postgres.sh: DATABASE_URL is not a postgres:// URL; use 'casino restore' for SQLite" >&2; exit 2 ;;
esac

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
	echo "restore_postgres.sh: no casino binary (set CASINO_BIN, put casino on PATH, or install Go)" >&2
	exit 1
fi

exec "${casino[@]}" restore "$file" --yes "$@"
