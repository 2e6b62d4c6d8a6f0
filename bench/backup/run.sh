#!/usr/bin/env bash
# Backup/restore benchmark: casino against the peer tools, in the same run,
# on the same data, reporting time ratios (issue 5 targets in brackets):
#
#   PostgreSQL backup   casino backup create      vs  pg_dump | gzip        [<= 0.7x]
#     signed (always), median of BACKUP_RUNS        vs  pg_dump | gzip        [<= 0.3x, issue 10]
#     signed + age --encrypt-to                     vs  signed, unencrypted   [<= 1.10x, issue 10]
#   PostgreSQL restore  casino restore --yes      vs  gunzip -c | psql      [<= 0.8x, issue 10]
#                                                 vs  pg_restore -j2 of a custom-format dump (info)
#   SQLite backup       casino backup create      vs  sqlite3 .backup+gzip  (info)
#                                                 vs  cp                    [<= 1.5x]
#
# Usage:  bench/backup/run.sh [SIZE_MB]        (default 1024, ~1 GB of audit events)
#
# Env: BENCH_PG_URL  admin URL of a PostgreSQL server (default: the test
#                    server of scripts/ci/postgres.sh)
#      BENCH_DIR     work folder (default a fresh mktemp -d; removed at exit)
#      BENCH_OUT     also write the markdown result table to this file
#      BENCH_ENGINES "postgres sqlite" (default both)
#      BACKUP_RUNS   backups per variant for the signing/age medians (default 3)
#      BENCH_BACKUP_ONLY=1  skip the restores (backup figures only)
#      BENCH_RESTORE_ONLY=1 skip the backup rounds (restore figures only)
#      BENCH_JOBS    casino restore --jobs (default: casino's default, the CPU count)
#      RESTORE_RUNS  restore runs per tool (default 3); medians are compared
#
# Every backup is signed: the run makes a key pair with casino backup keygen
# (and an age identity with age-keygen for the encrypted variant).
#
# The casino restore includes what gunzip|psql skips: the sha256 check, a
# scratch database whose schema casino's migrations build, the check of
# every dump statement against pg_dump's DDL for that schema, the row-count
# check, the catalog comparison, the migration check and the swap.
# The restore runs with --no-safety-backup (the safety backup is a backup,
# measured above). Not a test: it measures, it does not assert.
set -euo pipefail

SIZE_MB="${1:-1024}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENGINES="${BENCH_ENGINES:-postgres sqlite}"
WORK="${BENCH_DIR:-$(mktemp -d /tmp/casino-bench-XXXXXX)}"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK"
cd "$WORK"

log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
# timeit VAR cmd...: runs cmd (via bash -c) and stores seconds in VAR
timeit() {
	local var=$1 t0 t1
	shift
	sync
	t0=$(now)
	bash -c "$1" >/dev/null
	t1=$(now)
	printf -v "$var" '%.2f' "$(echo "$t1 - $t0" | bc -l)"
	log "$var = ${!var}s  ($1)"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }

log "building casino"
(cd "$ROOT" && go build -o "$WORK/casino" ./cmd/casino)
CASINO="$WORK/casino"
"$CASINO" backup keygen --out "$WORK/keys" >/dev/null 2>&1
export CASINO_BACKUP_SIGNING_KEY="$WORK/keys/backup-signing.key"
AGE_RECIPIENT=""
if command -v age-keygen >/dev/null; then
	age-keygen -o "$WORK/age.key" 2>/dev/null
	AGE_RECIPIENT="$(age-keygen -y "$WORK/age.key")"
fi
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
export PATH="$PGBIN:$PATH"

rows=()
if [[ " $ENGINES " == *" postgres "* ]]; then
	ADMIN="${BENCH_PG_URL:-$(bash "$ROOT/scripts/ci/postgres.sh" url)}"
	dburl() { echo "$ADMIN" | sed -E "s#/[^/?]*(\?|$)#/$1\1#"; }
	SRC=bench_src
	psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)" -c "CREATE DATABASE $SRC"
	log "seeding PostgreSQL (~${SIZE_MB} MiB)"
	DATABASE_URL="$(dburl $SRC)" "$CASINO" dev seed --size-mb "$SIZE_MB"
	log "database size: $(psql -X -At "$ADMIN" -c "SELECT pg_size_pretty(pg_database_size('$SRC'))")"
	export DATABASE_URL="$(dburl $SRC)"

	timeit pg_peer_backup "pg_dump --no-owner --no-privileges '$DATABASE_URL' | gzip > peer.sql.gz"
	timeit pg_casino_backup "'$CASINO' backup create --dir pgb"
	timeit pg_casino_backup_zstd "'$CASINO' backup create --dir pgz --compress zstd"
	FILE="$(ls pgb/casino_db_*.sql.gz | head -n1)"
	# Both peers restore the same data: the plain peer reads casino's own
	# .sql.gz (plain pg_dump output), pg_restore a custom-format dump.
	pg_dump -Fc --no-owner --no-privileges -f peer.dump "$DATABASE_URL"
	log "sizes: casino $(stat -c %s "$FILE") custom $(stat -c %s peer.dump)"
	JOBS_FLAG=""
	[ -z "${BENCH_JOBS:-}" ] || JOBS_FLAG="--jobs $BENCH_JOBS"

	# Signing and age: BACKUP_RUNS rounds of (peer, signed, signed+age), the
	# order rotating each round, medians compared.
	sp=() ss=() se=()
	# BENCH_RESTORE_ONLY=1 skips these rounds (restore figures only).
	[ -z "${BENCH_RESTORE_ONLY:-}" ] || BACKUP_RUNS=0
	for i in $(seq "${BACKUP_RUNS:-3}"); do
		for which in $(case $((i % 3)) in 1) echo p s e;; 2) echo s e p;; 0) echo e p s;; esac); do
			case $which in
			p) timeit t "pg_dump --no-owner --no-privileges '$DATABASE_URL' | gzip > peer.sql.gz"; sp+=("$t") ;;
			s) rm -rf pgs; timeit t "'$CASINO' backup create --dir pgs"; ss+=("$t") ;;
			e) if [ -n "$AGE_RECIPIENT" ]; then rm -rf pge; timeit t "'$CASINO' backup create --dir pge --encrypt-to '$AGE_RECIPIENT'"; se+=("$t"); fi ;;
			esac
		done
	done
	if [ "${#ss[@]}" -gt 0 ]; then
		log "backup runs: pg_dump|gzip ${sp[*]}; signed ${ss[*]}; signed+age ${se[*]:-}"
		pg_peer_med=$(median "${sp[@]}") pg_signed_med=$(median "${ss[@]}")
		rows+=("| PostgreSQL backup, signed (median of ${BACKUP_RUNS:-3}) | $pg_signed_med s | pg_dump \\| gzip: $pg_peer_med s | $(ratio "$pg_signed_med" "$pg_peer_med")x | <= 0.3x |")
		if [ "${#se[@]}" -gt 0 ]; then
			pg_age_med=$(median "${se[@]}")
			rows+=("| PostgreSQL backup, signed + age (median of ${BACKUP_RUNS:-3}) | $pg_age_med s | signed, unencrypted: $pg_signed_med s | $(ratio "$pg_age_med" "$pg_signed_med")x | <= 1.10x |")
		fi
	fi
	if [ -n "${BENCH_BACKUP_ONLY:-}" ]; then
		psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)"
		rows+=("| PostgreSQL backup (gzip) | $pg_casino_backup s | pg_dump \\| gzip: $pg_peer_backup s | $(ratio "$pg_casino_backup" "$pg_peer_backup")x | <= 0.7x |")
		unset DATABASE_URL
	else

	# Restores write 1.3 GB each: the server's checkpoint after one run lands
	# on the next. So each run starts after a CHECKPOINT, the order of the
	# pair alternates, and the medians of RESTORE_RUNS pairs are compared.
	peer_restore() {
		psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS bench_peer WITH (FORCE)" -c "CREATE DATABASE bench_peer" -c "CHECKPOINT"
		timeit t "gunzip -c '$FILE' | psql -X -q -v ON_ERROR_STOP=1 '$(dburl bench_peer)'"
		peer_times+=("$t")
	}
	pgr_restore() {
		psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS bench_pgr WITH (FORCE)" -c "CREATE DATABASE bench_pgr" -c "CHECKPOINT"
		timeit t "pg_restore -j2 --no-owner --no-privileges -d '$(dburl bench_pgr)' peer.dump"
		pgr_times+=("$t")
	}
	casino_restore() {
		psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS bench_dst WITH (FORCE)" -c "CHECKPOINT"
		timeit t "DATABASE_URL='$(dburl bench_dst)' '$CASINO' restore '$FILE' --dir pgb --yes --no-safety-backup $JOBS_FLAG"
		casino_times+=("$t")
	}
	median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
	peer_times=() pgr_times=() casino_times=()
	for i in $(seq "${RESTORE_RUNS:-3}"); do
		case $((i % 3)) in
		1) peer_restore; pgr_restore; casino_restore ;;
		2) casino_restore; peer_restore; pgr_restore ;;
		0) pgr_restore; casino_restore; peer_restore ;;
		esac
	done
	pg_peer_restore=$(median "${peer_times[@]}")
	pg_pgr_restore=$(median "${pgr_times[@]}")
	pg_casino_restore=$(median "${casino_times[@]}")
	log "restore runs: gunzip|psql ${peer_times[*]}; pg_restore -j2 ${pgr_times[*]}; casino ${casino_times[*]}"
	psql -X -q "$ADMIN" -c "DROP DATABASE IF EXISTS bench_peer WITH (FORCE)" -c "DROP DATABASE IF EXISTS bench_pgr WITH (FORCE)" -c "DROP DATABASE IF EXISTS bench_dst WITH (FORCE)" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)"
	if [ -z "${BENCH_RESTORE_ONLY:-}" ]; then
		rows+=("| PostgreSQL backup (gzip) | $pg_casino_backup s | pg_dump \\| gzip: $pg_peer_backup s | $(ratio "$pg_casino_backup" "$pg_peer_backup")x | <= 0.7x |")
		rows+=("| PostgreSQL backup (zstd) | $pg_casino_backup_zstd s | pg_dump \\| gzip: $pg_peer_backup s | $(ratio "$pg_casino_backup_zstd" "$pg_peer_backup")x | - |")
	fi
	rows+=("| PostgreSQL restore (median of ${RESTORE_RUNS:-3}) | $pg_casino_restore s | gunzip -c \\| psql: $pg_peer_restore s | $(ratio "$pg_casino_restore" "$pg_peer_restore")x | <= 0.8x |")
	rows+=("| PostgreSQL restore (median of ${RESTORE_RUNS:-3}) | $pg_casino_restore s | pg_restore -j2 (custom format): $pg_pgr_restore s | $(ratio "$pg_casino_restore" "$pg_pgr_restore")x | - |")
	unset DATABASE_URL
	fi
fi

if [[ " $ENGINES " == *" sqlite "* ]]; then
	log "seeding SQLite (~${SIZE_MB} MiB)"
	DATABASE_URL="sqlite:$WORK/src.db" "$CASINO" dev seed --size-mb "$SIZE_MB"
	sqlite3 "$WORK/src.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	log "database size: $(stat -c %s "$WORK/src.db") bytes"
	timeit sq_cp "cp '$WORK/src.db' '$WORK/copy.db'"
	# casino fsyncs every backup; cp does not. The durable peer:
	timeit sq_cp_sync "cp '$WORK/src.db' '$WORK/copy2.db' && sync -f '$WORK/copy2.db'"
	rm -f "$WORK/copy2.db"
	timeit sq_peer "sqlite3 '$WORK/src.db' \".backup '$WORK/peer.db'\" && gzip -c '$WORK/peer.db' > '$WORK/peer.db.gz'"
	timeit sq_casino "DATABASE_URL='sqlite:$WORK/src.db' '$CASINO' backup create --dir sqb"
	timeit sq_casino_zstd "DATABASE_URL='sqlite:$WORK/src.db' '$CASINO' backup create --dir sqz --compress zstd"
	timeit sq_casino_none "DATABASE_URL='sqlite:$WORK/src.db' '$CASINO' backup create --dir sqn --compress none"
	rows+=("| SQLite backup (gzip) | $sq_casino s | cp: $sq_cp s | $(ratio "$sq_casino" "$sq_cp")x | <= 1.5x |")
	rows+=("| SQLite backup (zstd) | $sq_casino_zstd s | cp: $sq_cp s | $(ratio "$sq_casino_zstd" "$sq_cp")x | <= 1.5x |")
	rows+=("| SQLite backup (none) | $sq_casino_none s | cp: $sq_cp s | $(ratio "$sq_casino_none" "$sq_cp")x | <= 1.5x |")
	rows+=("| SQLite backup (none) | $sq_casino_none s | cp + fsync: $sq_cp_sync s | $(ratio "$sq_casino_none" "$sq_cp_sync")x | - |")
	rows+=("| SQLite backup (gzip) | $sq_casino s | sqlite3 .backup + gzip: $sq_peer s | $(ratio "$sq_casino" "$sq_peer")x | - |")
fi

{
	echo "### Backup and restore, ${SIZE_MB} MiB seed, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
	echo
	echo "| operation | casino | peer | ratio | target |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee "${BENCH_OUT:-/dev/null}"
