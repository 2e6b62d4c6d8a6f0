# syntax=docker/dockerfile:1
#
# casino's one image: the static casino binary plus what backups and restores
# need (pg_dump, psql, bash for scripts/*.sh), on a minimal non-root Alpine.
#
#   docker build \
#     --build-arg VERSION=1.4.2 \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg BUILD_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
#     -t casino:1.4.2 .
#
# Why Alpine and not distroless: the image runs backups and restores, so it
# needs pg_dump and psql (and bash for the checklist's scripts); compose's
# healthcheck needs an HTTP client (busybox wget). Distroless has none of them.
#
# Why PostgreSQL client 17 (PG_MAJOR): pg_dump must be at least the server's
# major version (casino backup refuses an older one), and plain SQL from a
# newer pg_dump can contain settings an older server rejects (pg_dump 17 emits
# SET transaction_timeout, which PostgreSQL 16 and older do not know). So the
# client matches the server's major exactly: docker-compose.prod.yml runs
# postgres:17. Upgrade PostgreSQL and PG_MAJOR together.

ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.21
ARG PG_MAJOR=17

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_TIME=unknown
# CGO_ENABLED=0: a static binary (SQLite is modernc.org/sqlite, pure Go).
# -buildvcs=false: .git is not in the build context; the commit comes in COMMIT.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X casino.Version=${VERSION} -X casino.Commit=${COMMIT} -X casino.BuildTime=${BUILD_TIME}" \
      -o /out/casino ./cmd/casino \
 && /out/casino version

FROM alpine:${ALPINE_VERSION} AS runtime
ARG PG_MAJOR
# postgresql${PG_MAJOR} (the server) is for point-in-time restores: casino
# restore --to-time replays WAL in a temporary server of the same major
# (docs/ops/pitr.md); the client package has pg_receivewal/pg_basebackup.
# The folders compose mounts named volumes on (backups, proofs, pitr) exist
# here owned by uid 65532: Docker seeds a new named volume with the image
# folder's owner, and a folder the image lacks would come up root-owned and
# unwritable for casino.
RUN apk add --no-cache bash ca-certificates tzdata postgresql${PG_MAJOR}-client postgresql${PG_MAJOR} \
 && addgroup -S -g 65532 casino \
 && adduser -S -D -H -u 65532 -G casino -h /app casino \
 && mkdir -p /app/backups /app/data /app/proofs /app/pitr \
 && chown 65532:65532 /app/backups /app/data /app/proofs /app/pitr
COPY --from=build /out/casino /usr/local/bin/casino
COPY scripts/ /app/scripts/
# The runbook and the proof template, for casino dr scenario and declare.
COPY docs/ops/ /app/docs/ops/
# WORKDIR /app with backups/ and scripts/ under it: the checklist's
# ./scripts/restore_postgres.sh backups/… works as written in any container.
WORKDIR /app
USER 65532:65532
# Alpine keeps each major's tools in /usr/libexec/postgresqlNN; put this
# one's first, so casino finds the pg_dump and psql that match the server.
ENV PATH=/usr/libexec/postgresql${PG_MAJOR}:$PATH
ENV CASINO_ADDR=:8080
EXPOSE 8080
# No ENTRYPOINT: "exec -T backend casino migrate current" and
# "run --rm backend ./scripts/restore_postgres.sh …" work as written.
CMD ["casino", "serve"]
