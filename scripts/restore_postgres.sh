#!/usr/bin/env bash
# Restore the casino database from a backup: the checklist's Scenario B line
#
#   ./scripts/restore_postgres.sh backups/casino_db_YYYYMMDD_HHMMSS.sql.gz
#
# against DATABASE_URL, then restart the backend. A thin wrapper over
# `casino restore FILE --yes`, which verifies the file, takes a safety backup
# (backups/pre_restore_casino_db_...), restores into a scratch database,
# checks it, carries the live state over, and swaps it in atomically,
# keeping the old database aside (`casino restore --undo` swaps it back).
# It refuses while the backend is still connected: contain first, or pass
# --terminate-connections. Extra flags pass through (e.g. --dry-run,
# --target URL, --no-safety-backup, --terminate-connections). See
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
# shellcheck source=lib/casino.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/casino.sh"
require_postgres_url restore_postgres.sh "restore"
find_casino restore_postgres.sh

exec "${casino[@]}" restore "$file" --yes "$@"
