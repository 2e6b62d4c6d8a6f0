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
# shellcheck source=lib/casino.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/casino.sh"
require_postgres_url backup_postgres.sh "backup"
find_casino backup_postgres.sh

exec "${casino[@]}" backup create "$@"
