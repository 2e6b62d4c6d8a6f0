#!/usr/bin/env bash
# Drill benchmark (issue 13): a whole `casino dr drill` of a seeded
# PostgreSQL backup against the bare `gunzip -c | psql` of the same backup
# into an empty database, in the same run, on the same file [target: the
# drill at most 1.2x the bare load].
#
# Usage:  bench/drill/run.sh [SIZE_MB]        (default 1024, ~1 GB of audit events)
#
# Env: BENCH_PG_URL  admin URL of a PostgreSQL server (default: the test
#                    server of scripts/ci/postgres.sh)
#      BENCH_DIR     work folder (default a fresh mktemp -d; removed at exit)
#      BENCH_OUT     also write the markdown result to this file
#      RUNS          runs per side, interleaved (default 3); medians compared
#
# The drill does what the bare load does not: it picks the backup from its
# signed manifest, checks the signature, size and sha256, builds the schema
# from casino's migrations and loads only the dump's data (checking every
# statement), compares row counts with the manifest, migrates, boots casino
# on the copy (a one-time owner password hashed with the production
# Argon2id parameters), runs the must-pass checks over HTTP, drops the copy
# and writes a hash-chained proof and a drills row. The phase breakdown of
# the median drill is printed. Not a test: it measures, it does not assert.
set -euo pipefail

SIZE_MB="${1:-1024}"
RUNS="${RUNS:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${BENCH_DIR:-$(mktemp -d /tmp/casino-bench-drill-XXXXXX)}"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK"
cd "$WORK"

log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

log "building casino"
(cd "$ROOT" && go build -o "$WORK/casino" ./cmd/casino)
CASINO="$WORK/casino"
"$CASINO" backup keygen --out "$WORK/keys" >/dev/null 2>&1
export CASINO_BACKUP_SIGNING_KEY="$WORK/keys/backup-signing.key"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
export PATH="$PGBIN:$PATH"

ADMIN="${BENCH_PG_URL:-$(bash "$ROOT/scripts/ci/postgres.sh" url)}"
dburl() { echo "$ADMIN" | sed -E "s#/[^/?]*(\?|$)#/$1\1#"; }
SRC=bench_drill_src
psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)" -c "CREATE DATABASE $SRC"
export DATABASE_URL="$(dburl $SRC)"
log "seeding PostgreSQL (~${SIZE_MB} MiB)"
"$CASINO" dev seed --size-mb "$SIZE_MB" >/dev/null
# The drill logs in as the owner of the copy: the seed has tenants and
# their admins, the owner is what casino serve would create.
psql -X -q "$DATABASE_URL" -c "INSERT INTO users (email, password_hash, role, created_at, updated_at) SELECT 'owner@bench.test', 'x', 'owner', now(), now() WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'owner')"
log "database size: $(psql -X -At "$ADMIN" -c "SELECT pg_size_pretty(pg_database_size('$SRC'))")"
"$CASINO" backup create --dir backups >/dev/null 2>&1
FILE="$(ls backups/casino_db_*.sql.gz | head -n1)"
log "backup: $FILE ($(stat -c %s "$FILE") bytes)"

peer_times=() drill_times=() drill_json=()
peer() {
	psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS bench_drill_peer WITH (FORCE)" -c "CREATE DATABASE bench_drill_peer"
	sync
	local t0 t1
	t0=$(now)
	gunzip -c "$FILE" | psql -X -q -v ON_ERROR_STOP=1 "$(dburl bench_drill_peer)" >/dev/null
	t1=$(now)
	peer_times+=("$(printf '%.2f' "$(echo "$t1 - $t0" | bc -l)")")
	log "gunzip -c | psql: ${peer_times[-1]}s"
	psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS bench_drill_peer WITH (FORCE)"
}
drill() {
	sync
	local t0 t1 out
	t0=$(now)
	out="$("$CASINO" dr drill --dir backups --proof-dir proofs --json 2>/dev/null)" || { log "drill failed: $out"; exit 1; }
	t1=$(now)
	drill_times+=("$(printf '%.2f' "$(echo "$t1 - $t0" | bc -l)")")
	drill_json+=("$out")
	log "casino dr drill: ${drill_times[-1]}s"
}
for i in $(seq "$RUNS"); do
	if [ $((i % 2)) -eq 1 ]; then peer; drill; else drill; peer; fi
done
pm=$(median "${peer_times[@]}")
dm=$(median "${drill_times[@]}")
# the phases of the run whose time is the median
for i in "${!drill_times[@]}"; do
	[ "${drill_times[$i]}" = "$dm" ] && MED_JSON="${drill_json[$i]}" && break
done
{
	echo "| what | casino dr drill | gunzip -c \\| psql | ratio | target |"
	echo "|---|---|---|---|---|"
	echo "| PostgreSQL, $(psql -X -At "$ADMIN" -c "SELECT pg_size_pretty(pg_database_size('$SRC'))") seed, backup $(du -h "$FILE" | cut -f1) (median of $RUNS; runs: drill ${drill_times[*]}, peer ${peer_times[*]}) | $dm s | $pm s | $(ratio "$dm" "$pm")x | <= 1.2x |"
	echo
	echo "Phases of the median drill:"
	echo
	echo "| phase | seconds |"
	echo "|---|---|"
	echo "$MED_JSON" | python3 -c 'import json,sys; d=json.load(sys.stdin); [print("| %s | %.2f |" % (p["name"], p["seconds"])) for p in d["phases"]]; print("| recovery (select..validate) | %.2f |" % d["recovery_seconds"])'
} | tee "${BENCH_OUT:-/dev/null}"
psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)"
