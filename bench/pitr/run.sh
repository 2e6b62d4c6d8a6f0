#!/usr/bin/env bash
# Point-in-time recovery benchmark (issue 15), in one run on one machine:
#
#   1. write throughput of casino serve, tenants created over the API by
#      BENCH_C workers for DUR, without and with continuous replication:
#        SQLite      CASINO_PITR=off   vs  CASINO_PITR=litestream (file replica)
#        PostgreSQL  no stream         vs  casino pitr stream running beside it
#   2. RPO actually achieved under that load: right after the last write is
#      acknowledged the service is killed -9 (SQLite: the database file is
#      lost with it), casino restore --to-time latest recovers, and
#      bench/pitr/load -rpo reports the newest acknowledged write minus the
#      newest write the recovered database holds                [<= 2s each]
#   3. PostgreSQL time to recover to T (mid-run) with a SEED_MB seed:
#        casino restore --to-time T   vs  the same steps by hand: untar the
#        base backup, start postgres with recovery_target_time, wait for
#        promote, pg_dump | psql into an empty database          [<= 1.2x]
#      BENCH_ROUNDS rounds, interleaved (odd rounds casino first, even
#      rounds the manual steps first, so neither always gets the warmer
#      cache); each round's ratio and the median are reported.
#
# The seed is generated inside PostgreSQL (INSERT ... SELECT generate_series,
# no API calls): SEED_MB MB of audit events with varied actors, tenants,
# actions, timestamps, request ids and JSON payloads (not all-identical rows,
# so the base backup's compression is honest), plus SEED_MB*10 tenants with
# their admins and settings. The database size it reached is reported.
#
# Usage:  bench/pitr/run.sh [SEED_MB=64] [DUR=15s]
#           bash bench/pitr/run.sh 1024 15s      the issue's 1 GB seed
# Env:    BENCH_C        writers (default 4)
#         BENCH_ROUNDS   recovery rounds of each path (default 3)
#         BENCH_PARTS    all (default) or recover: only part 3 (the write
#                        run that T falls in still runs, with the stream)
#         BENCH_OUT      append the markdown table to this file
#         BENCH_CASINO_ARGS  more arguments for casino restore (e.g. --jobs 1)
# Needs:  the PostgreSQL server packages (initdb; run as root it uses the
#         postgres user, like internal/testpg), sqlite3 is not needed; about
#         SEED_MB * (4 + BENCH_ROUNDS) MB of free disk under /tmp.
# Not a test: it measures, it does not assert.
set -euo pipefail
SEED_MB="${1:-64}"
DUR="${2:-15s}"
C="${BENCH_C:-4}"
ROUNDS="${BENCH_ROUNDS:-3}"
PARTS="${BENCH_PARTS:-all}"
case "$PARTS" in all | recover) ;; *) echo "BENCH_PARTS must be all or recover" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d /tmp/casino-bench-pitr-XXXXXX)"
chmod 755 "$WORK"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${PGBIN:-}" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
secs() { printf '%.2f' "$(echo "$2 - $1" | bc -l)"; }
ratio() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else echo "scale=2; $1 / $2" | bc -l; fi; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
load1() { cut -d' ' -f1 /proc/loadavg; }
# stamp T0: prefixes each line with the seconds since T0 (the restore's phases)
stamp() { local l; while IFS= read -r l; do printf '%7.2f %s\n' "$(echo "${EPOCHREALTIME/,/.} - $1" | bc -l)" "$l"; done; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# free_port: a TCP port nothing listens on (other helpers' runs share the machine)
free_port() { local p; while :; do p=$((20000 + RANDOM % 20000)); (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }
wait_ready() { for _ in $(seq 300); do curl -fsS -o /dev/null "$1/api/ready" 2>/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; return 1; }

log "building casino and the load generator"
(cd "$ROOT" && go build -o "$WORK/casino" ./cmd/casino && go build -o "$WORK/load" ./bench/pitr/load)
CASINO="$WORK/casino"
"$CASINO" backup keygen --out "$WORK/keys" >/dev/null 2>&1
export CASINO_BACKUP_SIGNING_KEY="$WORK/keys/backup-signing.key" CASINO_BACKUP_VERIFY_KEY="$WORK/keys/backup-signing.pub"
export CASINO_OWNER_PASSWORD=bench-password-not-secret-123 CASINO_JWT_KEY=bench-jwt-key-not-secret-0123456789abcdef
PW="$CASINO_OWNER_PASSWORD"

# serve URL ENV... : starts casino serve on a free port with extra env; sets SERVE_PID
serve() {
	local port=$1
	shift
	(cd "$WORK" && exec env "$@" "$CASINO" serve --addr "127.0.0.1:$port" >>"$WORK/serve.log" 2>&1) &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	wait_ready "http://127.0.0.1:$port"
}
rps_of() { awk '{for (i=1;i<=NF;i++) if ($i=="rps") print $(i+1)}' <<<"$1"; }
rpo_of() { awk '{for (i=1;i<=NF;i++) if ($i=="rpo_seconds") print $(i+1)}' <<<"$1"; }

# ---------------------------------------------------------------- SQLite
SQ_OFF=- SQ_ON=- SQ_RPO=- SQ_RESTORE=- PG_OFF=- PG_RPO=-
if [ "$PARTS" = all ]; then
log "SQLite: serve without PITR"
mkdir -p "$WORK/sq-off" "$WORK/sq-on"
PORT_SQ_OFF=$(free_port)
serve "$PORT_SQ_OFF" DATABASE_URL="sqlite:$WORK/sq-off/casino.db" CASINO_BACKUP_DIR="$WORK/sq-off/backups"
out=$("$WORK/load" -url http://127.0.0.1:$PORT_SQ_OFF -password "$PW" -c "$C" -d "$DUR" -log "$WORK/sq-off/acked" -prefix off)
SQ_OFF=$(rps_of "$out"); log "sqlite off: $out"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true

log "SQLite: serve with Litestream"
PORT_SQ_ON=$(free_port)
serve "$PORT_SQ_ON" DATABASE_URL="sqlite:$WORK/sq-on/casino.db" CASINO_BACKUP_DIR="$WORK/sq-on/backups" CASINO_PITR=litestream CASINO_PITR_REPLICA="file://$WORK/sq-on/replica"
out=$("$WORK/load" -url http://127.0.0.1:$PORT_SQ_ON -password "$PW" -c "$C" -d "$DUR" -log "$WORK/sq-on/acked" -prefix on)
kill -9 "$SERVE_PID" # the crash, right after the last acknowledged write
SQ_ON=$(rps_of "$out"); log "sqlite litestream: $out"
rm -f "$WORK/sq-on/casino.db" "$WORK/sq-on/casino.db-wal" "$WORK/sq-on/casino.db-shm" # the database is lost with the host
t0=$(now)
(cd "$WORK/sq-on" && env DATABASE_URL="sqlite:$WORK/sq-on/casino.db" CASINO_BACKUP_DIR="$WORK/sq-on/backups" CASINO_PITR_SCRATCH_DIR="$WORK/sq-on" \
	"$CASINO" restore --to-time latest --pitr-replica "file://$WORK/sq-on/replica" --yes --no-safety-backup >"$WORK/sq-restore.log" 2>&1) || { cat "$WORK/sq-restore.log" >&2; exit 1; }
SQ_RESTORE=$(secs "$t0" "$(now)")
out=$("$WORK/load" -rpo "sqlite:$WORK/sq-on/casino.db" -log "$WORK/sq-on/acked")
SQ_RPO=$(rpo_of "$out"); log "sqlite rpo: $out (restore ${SQ_RESTORE}s)"
fi

# ------------------------------------------------------------ PostgreSQL
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
PGPORT=$(free_port)
mkdir -p "$WORK/pg" && chown postgres "$WORK/pg" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres -E UTF8 >/dev/null
cat >>"$WORK/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$WORK/pg'
max_wal_senders = 5
max_slot_wal_keep_size = '4GB'
CONF
echo "host replication casino_repl 127.0.0.1/32 trust" >>"$WORK/pg/pg_hba.conf"
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w start >/dev/null || { cat "$WORK/pg/log" >&2; exit 1; }
PSQL="psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PGPORT -U postgres"
$PSQL -d postgres -c "CREATE ROLE casino_repl LOGIN REPLICATION" -c "CREATE DATABASE casino_off" -c "CREATE DATABASE casino_on"
DB_OFF="postgres://postgres@127.0.0.1:$PGPORT/casino_off?sslmode=disable"
DB_ON="postgres://postgres@127.0.0.1:$PGPORT/casino_on?sslmode=disable"

if [ "$PARTS" = all ]; then
	log "PostgreSQL: serve without a stream"
	PORT_PG_OFF=$(free_port)
	serve "$PORT_PG_OFF" DATABASE_URL="$DB_OFF" CASINO_BACKUP_DIR="$WORK/pg-off-backups"
	out=$("$WORK/load" -url http://127.0.0.1:$PORT_PG_OFF -password "$PW" -c "$C" -d "$DUR" -log "$WORK/pg-off.acked" -prefix off)
	PG_OFF=$(rps_of "$out"); log "postgres off: $out"
	kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
fi

log "PostgreSQL: seed ${SEED_MB} MB (generate_series), then start casino pitr stream (base backup of the seed)"
PORT_PG_ON=$(free_port)
serve "$PORT_PG_ON" DATABASE_URL="$DB_ON" CASINO_BACKUP_DIR="$WORK/pg-on-backups" CASINO_PITR=wal
t0=$(now)
# Tenants with an admin and a few settings each; then the audit trail, in
# 64 MB batches (one transaction each keeps the WAL of a batch bounded).
# An audit event row is about 500 bytes on disk with its indexes: 2000 a MB.
$PSQL -d casino_on <<SQL
INSERT INTO tenants (name, slug, status, created_at, updated_at)
SELECT 'Casino ' || initcap(substr(md5(g::text), 1, 8)), 'seed-' || g || '-' || substr(md5(g::text), 1, 6),
       CASE WHEN g % 17 = 0 THEN 'suspended' ELSE 'active' END,
       now() - (g % 900) * interval '1 day', now() - (g % 30) * interval '1 hour'
FROM generate_series(1, $SEED_MB * 10) g;
INSERT INTO users (tenant_id, email, password_hash, role, created_at, updated_at)
SELECT t.id, 'admin+' || t.id || '@' || substr(md5(t.slug), 1, 10) || '.example',
       '\$argon2id\$v=19\$m=65536,t=3,p=4\$' || substr(encode(sha256(t.slug::bytea), 'base64'), 1, 22) || '\$' || encode(sha256(('h' || t.id)::bytea), 'base64'),
       'tenant_admin', t.created_at, t.updated_at
FROM tenants t WHERE t.slug LIKE 'seed-%';
INSERT INTO settings (tenant_id, key, type, value, updated_at)
SELECT t.id, k.key, k.type, CASE k.type WHEN 'int' THEN ((t.id * 37) % 500)::text WHEN 'bool' THEN (t.id % 2 = 0)::text ELSE '"' || substr(md5(t.slug || k.key), 1, 12) || '"' END, t.updated_at
FROM tenants t, (VALUES ('max_bet', 'int'), ('kyc_required', 'bool'), ('theme', 'string'), ('currency', 'string')) AS k(key, type)
WHERE t.slug LIKE 'seed-%';
SQL
for ((b = 0; b < SEED_MB; b += 64)); do
	n=$(((SEED_MB - b) < 64 ? (SEED_MB - b) * 2000 : 128000))
	$PSQL -d casino_on -c "INSERT INTO audit_events (ts, actor_id, actor_email, tenant_id, action, target, before, after, request_id, remote_ip)
SELECT now() - (g % 31536000) * interval '1 second' - (g % 997) * interval '1 millisecond',
       g % 5000, 'admin+' || (g % 5000) || '@brand' || (g % 97) || '.example', 1 + g % ($SEED_MB * 10),
       (ARRAY['tenant.create','tenant.update','user.login','user.logout','setting.update','user.password','tenant.suspend','backup.verify'])[1 + g % 8],
       'tenant/' || (g % 20000) || '/' || substr(md5(g::text), 1, 8),
       CASE WHEN g % 3 = 0 THEN NULL ELSE '{\"status\":\"active\",\"max_bet\":' || (g % 1000) || ',\"theme\":\"' || substr(md5((g * 7)::text), 1, 10) || '\"}' END,
       '{\"status\":\"' || (ARRAY['active','suspended'])[1 + g % 2] || '\",\"max_bet\":' || ((g * 13) % 1000) || ',\"note\":\"' || md5((g * 31)::text) || substr(md5(g::text), 1, (g % 29)) || '\",\"by\":\"' || substr(md5((g * 3)::text), 1, 16) || '\"}',
       md5((g * 11)::text), '10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || ((g * 7) % 254 + 1)
FROM generate_series($b * 2000 + 1, $b * 2000 + $n) g" >/dev/null
done
SEED_SIZE_DB=$($PSQL -At -d casino_on -c "SELECT pg_size_pretty(pg_database_size('casino_on'))")
log "seeded: database casino_on is $SEED_SIZE_DB ($(secs "$t0" "$(now)") s)"
(cd "$WORK" && exec "$CASINO" pitr stream --dir "$WORK/stream" --replication-url "postgres://casino_repl@127.0.0.1:$PGPORT/postgres?sslmode=disable" --base-every 24h >"$WORK/stream.log" 2>&1) &
STREAM_PID=$!
PIDS+=("$STREAM_PID")
for _ in $(seq 600); do "$CASINO" pitr status --dir "$WORK/stream" --json 2>/dev/null | grep -q '"window"' && break; sleep 0.5; done
log "PostgreSQL: serve with the stream"
out=$("$WORK/load" -url http://127.0.0.1:$PORT_PG_ON -password "$PW" -c "$C" -d "$DUR" -log "$WORK/pg-on.acked" -prefix on)
kill -9 "$SERVE_PID" # the crash, right after the last acknowledged write
PG_ON=$(rps_of "$out"); log "postgres stream: $out"
# T: the middle of the write run, for the recovery-time comparison
first=$(head -1 "$WORK/pg-on.acked" | cut -d' ' -f2)
last=$(tail -1 "$WORK/pg-on.acked" | cut -d' ' -f2)
T=$(((first + last) / 2))
T_ISO=$(date -u -d "@$((T / 1000000000)).$(printf '%09d' $((T % 1000000000)))" +%Y-%m-%dT%H:%M:%S.%6NZ)
T_PG=$(date -u -d "$T_ISO" '+%Y-%m-%d %H:%M:%S.%6N+00')
sleep 2 # let the stream's heartbeat see the last commit (status shows the lag)
"$CASINO" pitr status --dir "$WORK/stream" >"$WORK/pg-status.txt" 2>&1 || true

restore_pg() { # restore_pg TO-TIME [LOG]: the log's lines carry the seconds since the start
	local t0 out="${2:-$WORK/pg-restore.log}"
	t0=${EPOCHREALTIME/,/.}
	(cd "$WORK" && env DATABASE_URL="$DB_ON" CASINO_BACKUP_DIR="$WORK/pg-on-backups" CASINO_PITR_SCRATCH_DIR="$WORK" \
		"$CASINO" restore --to-time "$1" --pitr-dir "$WORK/stream" --yes --no-safety-backup --terminate-connections ${BENCH_CASINO_ARGS:-} 2>&1 | stamp "$t0" >"$out") || { cat "$out" >&2; exit 1; }
}
# drop_aside: the databases earlier restores kept aside (untimed; keeps the disk bounded)
drop_aside() {
	local d
	for d in $($PSQL -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'casino\_on\_%' OR datname = 'manual_target'"); do
		$PSQL -d postgres -c "DROP DATABASE \"$d\"" >/dev/null
	done
}
if [ "$PARTS" = all ]; then
	log "PostgreSQL: casino restore --to-time latest (RPO)"
	restore_pg latest
	out=$("$WORK/load" -rpo "$DB_ON" -log "$WORK/pg-on.acked")
	PG_RPO=$(rpo_of "$out"); log "postgres rpo: $out"
fi
# The stream stops here: otherwise it would record the WAL of every restore
# below (each loads the seed into the live server), and each round would
# copy and scan more WAL than the one before.
kill "$STREAM_PID"; wait "$STREAM_PID" 2>/dev/null || true
# Its slot goes too, or the live server keeps every restore's WAL for it.
until [ "$($PSQL -At -d postgres -c "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ]; do sleep 0.2; done
$PSQL -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null

BASE=$(ls -d "$WORK"/stream/base/2* | tail -1)
casino_round() { # casino_round N: sets CASINO_S
	local t0
	t0=$(now)
	restore_pg "$T_ISO" "$WORK/pg-restore-$1.log"
	CASINO_S=$(secs "$t0" "$(now)")
	# its phases, from its own stamped log lines: unpack and copy the WAL,
	# replay to promote, then move the data in (pg_dump into the loader,
	# checks, migrations, carried state, swap)
	local u r
	u=$(awk '/pitr: unpacked;/ {print $1; exit}' "$WORK/pg-restore-$1.log")
	r=$(awk '/pitr: recovered to/ {print $1; exit}' "$WORK/pg-restore-$1.log")
	C_UNPACK+=("$u") C_REPLAY+=("$(secs "$u" "$r")") C_MOVE+=("$(secs "$r" "$CASINO_S")")
	log "round $1 casino ${CASINO_S}s: unpack and copy WAL ${u}s, replay to promote $(secs "$u" "$r")s, move in $(secs "$r" "$CASINO_S")s (load $(load1))"
}
manual_round() { # manual_round N: sets MANUAL_S
	local t0 M="$WORK/manual"
	rm -rf "$M"
	t0=$(now)
	mkdir -p "$M/data" "$M/wal" && chmod 700 "$M/data"
	tar -xzf "$BASE/base.tar.gz" -C "$M/data"
	tar -xzf "$BASE/pg_wal.tar.gz" -C "$M/data/pg_wal"
	for f in "$WORK"/stream/wal/*; do n=$(basename "$f"); cp "$f" "$M/wal/${n%.partial}"; done
	local t1; t1=$(now)
	rm -f "$M/data/postgresql.auto.conf" "$M/data/standby.signal" "$M/data/postmaster.pid"
	touch "$M/data/recovery.signal"
	chown -R postgres "$M" 2>/dev/null || true
	as_pg "$PGBIN/pg_ctl" -D "$M/data" -l "$M/log" -w -o "-c port=56433 -c listen_addresses='' -c unix_socket_directories='$M' -c archive_mode=off -c restore_command='cp $M/wal/%f %p' -c recovery_target_time='$T_PG' -c recovery_target_action=promote" start >/dev/null || { cat "$M/log" >&2; exit 1; }
	until [ "$(psql -X -At -h "$M" -p 56433 -U postgres -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do sleep 0.1; done
	local t2; t2=$(now)
	$PSQL -d postgres -c "CREATE DATABASE manual_target"
	pg_dump -h "$M" -p 56433 -U postgres casino_on | psql -X -q -h 127.0.0.1 -p $PGPORT -U postgres -d manual_target >/dev/null
	local t3; t3=$(now)
	MANUAL_S=$(secs "$t0" "$t3")
	M_UNPACK+=("$(secs "$t0" "$t1")") M_REPLAY+=("$(secs "$t1" "$t2")") M_MOVE+=("$(secs "$t2" "$t3")")
	log "round $1 manual steps: untar and copy WAL $(secs "$t0" "$t1")s, replay to promote $(secs "$t1" "$t2")s, pg_dump | psql $(secs "$t2" "$t3")s"
	as_pg "$PGBIN/pg_ctl" -D "$M/data" -m fast -w stop >/dev/null
	rm -rf "$M"
	log "round $1 manual ${MANUAL_S}s (load $(load1))"
}
RATIOS=() CASINOS=() MANUALS=() LOADS=() C_UNPACK=() C_REPLAY=() C_MOVE=() M_UNPACK=() M_REPLAY=() M_MOVE=()
for ((r = 1; r <= ROUNDS; r++)); do
	drop_aside
	LOADS+=("$(load1)")
	if ((r % 2)); then
		log "round $r: casino restore --to-time $T_ISO, then the same by hand"
		casino_round "$r"
		manual_round "$r"
	else
		log "round $r: by hand, then casino restore --to-time $T_ISO"
		manual_round "$r"
		casino_round "$r"
	fi
	CASINOS+=("$CASINO_S") MANUALS+=("$MANUAL_S") RATIOS+=("$(ratio "$CASINO_S" "$MANUAL_S")")
	echo "bench: round $r: casino restore's steps (seconds since its start):" >&2
	sed 's/^/    /' "$WORK/pg-restore-$r.log" >&2
done
LOADS+=("$(load1)")
PG_CASINO=$(median "${CASINOS[@]}")
PG_MANUAL=$(median "${MANUALS[@]}")
PG_RATIO=$(median "${RATIOS[@]}")
SEED_SIZE=$(du -sh "$BASE" | cut -f1)
log "recovery rounds: casino ${CASINOS[*]} s; manual ${MANUALS[*]} s; ratios ${RATIOS[*]}; load ${LOADS[*]}"
PHASES="unpack+copy WAL / replay to promote / move in, medians: casino $(median "${C_UNPACK[@]}") / $(median "${C_REPLAY[@]}") / $(median "${C_MOVE[@]}") s, manual $(median "${M_UNPACK[@]}") / $(median "${M_REPLAY[@]}") / $(median "${M_MOVE[@]}") s"
log "phases: $PHASES"

table=$(cat <<MD
| what | without PITR | with PITR | ratio / figure | target |
|---|---|---|---|---|
| SQLite serve writes/s ($C writers, $DUR) | $SQ_OFF | $SQ_ON (Litestream, file replica) | $(ratio "$SQ_ON" "$SQ_OFF")x | info |
| PostgreSQL serve writes/s ($C writers, $DUR) | $PG_OFF | $PG_ON (casino pitr stream beside it) | $(ratio "$PG_ON" "$PG_OFF")x | info |
| SQLite RPO achieved (kill -9, file lost, restore --to-time latest) | | | ${SQ_RPO}s (restore ${SQ_RESTORE}s) | <= 2s |
| PostgreSQL RPO achieved (kill -9, restore --to-time latest) | | | ${PG_RPO}s | <= 2s |
| PostgreSQL recover to T, $SEED_MB MB seed (database $SEED_SIZE_DB, base backup $SEED_SIZE), median of $ROUNDS interleaved rounds | manual ${PG_MANUAL}s | casino ${PG_CASINO}s | ${PG_RATIO}x (rounds: ${RATIOS[*]}; load ${LOADS[*]}) | <= 1.2x |
| the same, by phase ($PHASES) | | | move in: $(ratio "$(median "${C_MOVE[@]}")" "$(median "${M_MOVE[@]}")")x | info |
MD
)
echo "$table"
[ -z "${BENCH_OUT:-}" ] || echo "$table" >>"$BENCH_OUT"
