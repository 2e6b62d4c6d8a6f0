#!/usr/bin/env bash
# The replication role of `casino pitr stream` (docs/ops/pitr.md), for the
# compose postgres service. The official postgres image runs this from
# /docker-entrypoint-initdb.d once, when it initialises an empty data volume;
# on an existing volume run it once by hand (deploy/README.md, "Point-in-time
# recovery"). It is idempotent.
#
# The role and its password come from CASINO_PITR_REPLICATION_URL in .env,
# the URL the pitr-stream service connects with, so there is one place to
# change them. It:
#   - creates the role (LOGIN REPLICATION, nothing more) or resets its
#     password and attributes;
#   - appends "host replication <role> samenet scram-sha-256" to pg_hba.conf:
#     the image's own pg_hba has "host all all all", and "all" never matches
#     a replication connection, so pg_receivewal from another container is
#     refused without it. samenet: only the server's own networks (compose's
#     internal db network);
#   - reloads the configuration.
# The heartbeat's ordinary connection (to the postgres database) is covered
# by the image's "host all all all" line.
#
# Without CASINO_PITR_REPLICATION_URL it does nothing: PITR is off. It refuses
# the change-me placeholder and the owner role (POSTGRES_USER): the stream
# must not hold the application's credentials.
#
# The entrypoint sources *.sh files that are not executable: everything runs
# in a subshell, so an exit here never ends the entrypoint itself (a failure
# still does, as it should).
(
	set -euo pipefail
	fail() {
		echo "casino-pitr-role: $*" >&2
		exit 1
	}
	url=${CASINO_PITR_REPLICATION_URL:-}
	if [ -z "$url" ]; then
		echo "casino-pitr-role: CASINO_PITR_REPLICATION_URL is not set: no replication role (point-in-time recovery off)"
		exit 0
	fi
	case $url in
	postgres://* | postgresql://*) ;;
	*) fail "CASINO_PITR_REPLICATION_URL must be a postgres:// URL" ;;
	esac
	rest=${url#*://}
	userinfo=${rest%%@*}
	[ "$userinfo" != "$rest" ] || fail "CASINO_PITR_REPLICATION_URL names no user:password@"
	role=${userinfo%%:*}
	pass=${userinfo#*:}
	[ "$pass" != "$userinfo" ] && [ -n "$pass" ] || fail "CASINO_PITR_REPLICATION_URL has no password for $role"
	[[ $role =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || fail "role name must be lower-case letters, digits and _ (got a different one)"
	# Percent-decode the password (a URL-safe one, e.g. openssl rand -hex 32,
	# needs none); a raw backslash would be read as an escape, so refuse it.
	case $pass in *\\*) fail "the password in CASINO_PITR_REPLICATION_URL contains a backslash: percent-encode it (%5C)" ;; esac
	pass=$(printf '%b' "${pass//%/\\x}")
	[ "$pass" != "change-me" ] || fail "replace change-me in CASINO_PITR_REPLICATION_URL (.env) with a real password"
	[ "${#pass}" -ge 16 ] || fail "the replication password is shorter than 16 characters"
	owner=${POSTGRES_USER:-postgres}
	[ "$role" != "$owner" ] && [ "$role" != postgres ] || fail "the replication role must not be $role, the owner: give the stream a role of its own (casino_pitr)"

	hba=${PGDATA:?PGDATA is not set}/pg_hba.conf
	line="host replication $role samenet scram-sha-256"
	if ! grep -qxF "$line" "$hba"; then
		printf '\n# casino pitr stream (deploy/postgres/10-casino-pitr-role.sh)\n%s\n' "$line" >>"$hba"
	fi

	# Role and password reach psql through its environment, never argv.
	CASINO_PITR_ROLE=$role CASINO_PITR_PASSWORD=$pass psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password -q \
		--username "$owner" --dbname "${POSTGRES_DB:-$owner}" <<-'EOSQL'
		\getenv role CASINO_PITR_ROLE
		\getenv pass CASINO_PITR_PASSWORD
		SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
		ALTER ROLE :"role" WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'pass';
		SELECT pg_reload_conf() \g /dev/null
	EOSQL
	echo "casino-pitr-role: role $role may stream WAL ($line)"
)
