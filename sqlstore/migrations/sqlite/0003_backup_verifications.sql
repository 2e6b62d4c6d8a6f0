-- 0003_backup_verifications (issue 10): where "last verified" lives. A signed
-- backup manifest is never rewritten, so each deep verify or drill appends
-- its result here, in the live database, and `casino backup list` joins it
-- by backup name. A restore carries these rows over into the restored copy.
CREATE TABLE backup_verifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    backup_name  TEXT NOT NULL CHECK (length(backup_name) BETWEEN 1 AND 255),
    sha256       TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('verify', 'deep_verify', 'drill')),
    ok           INTEGER NOT NULL CHECK (ok IN (0, 1)),
    detail       TEXT NOT NULL DEFAULT '',
    verified_at  TIMESTAMP NOT NULL
);
CREATE INDEX backup_verifications_name_at ON backup_verifications (backup_name, verified_at);
