-- 0004_drills (issue 13): one row per `casino dr drill`. A drill inserts its
-- row as RUNNING before it touches anything, so a crashed drill stays on
-- record as not successful; the next drill marks it FAILED and removes its
-- scratch target. phases is the JSON array of casino.DrillPhase. A restore
-- carries these rows over into the restored copy, like the verification
-- store: they belong to the live database, not to the backup.
CREATE TABLE drills (
    id                  TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    started_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP,
    verdict             TEXT NOT NULL CHECK (verdict IN ('RUNNING', 'SUCCESSFUL', 'FAILED', 'TIMED_OUT')),
    reason              TEXT NOT NULL DEFAULT '',
    engine              TEXT NOT NULL DEFAULT '',
    backup_name         TEXT NOT NULL DEFAULT '',
    backup_sha256       TEXT NOT NULL DEFAULT '',
    backup_snapshot_at  TIMESTAMP,
    backup_source       TEXT NOT NULL DEFAULT '',
    pick_reason         TEXT NOT NULL DEFAULT '',
    to_time             TIMESTAMP,
    scratch             TEXT NOT NULL DEFAULT '',
    phases              TEXT NOT NULL DEFAULT '[]',
    recovery_seconds    REAL NOT NULL DEFAULT 0,
    backup_age_seconds  REAL NOT NULL DEFAULT 0,
    rto_target_seconds  REAL NOT NULL DEFAULT 0,
    rpo_target_seconds  REAL NOT NULL DEFAULT 0,
    proof_path          TEXT NOT NULL DEFAULT '',
    journal_head        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX drills_started_at ON drills (started_at);
