# Sourced by the operator scripts (backup_postgres.sh, restore_postgres.sh).
# find_casino sets the array `casino` to the casino binary to run:
# $CASINO_BIN, then PATH, then a build of the repo's source (always current,
# incremental), then a ./casino built at the repo root.
# require_postgres_url checks DATABASE_URL names PostgreSQL.

find_casino() {
	local me="$1" root
	root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
	if [ -n "${CASINO_BIN:-}" ]; then
		casino=("$CASINO_BIN")
	elif command -v casino >/dev/null 2>&1; then
		casino=(casino)
	elif command -v go >/dev/null 2>&1 && [ -f "$root/go.mod" ]; then
		local bin="${TMPDIR:-/tmp}/casino-scripts-$(id -u)/casino"
		(cd "$root" && go build -o "$bin" ./cmd/casino)
		casino=("$bin")
	elif [ -x "$root/casino" ]; then
		casino=("$root/casino")
	else
		echo "$me: no casino binary (set CASINO_BIN, put casino on PATH, or install Go)" >&2
		exit 1
	fi
}

require_postgres_url() {
	local me="$1"
	if [ -z "${DATABASE_URL:-}" ]; then
		echo "$me: DATABASE_URL is not set (postgres://user:pass@host:5432/dbname)" >&2
		usage
	fi
	case "$DATABASE_URL" in
	postgres://* | postgresql://*) ;;
	*) echo "$me: DATABASE_URL is not a postgres:// URL; use 'casino ${2:-restore}' for SQLite" >&2; exit 2 ;;
	esac
}
