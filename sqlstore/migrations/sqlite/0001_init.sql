-- 0001_init: the platform's whole schema. Later migrations add columns or
-- indexes; behaviour lives in Go. Timestamps are UTC.

-- tenants: each casino brand run on the platform. Suspended tenants keep their
-- data, but their admins cannot log in.
CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    slug        TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- users: the platform owner (role owner, no tenant) and tenant admins (role
-- tenant_admin, exactly one tenant). password_hash is an Argon2id PHC string.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      INTEGER REFERENCES tenants(id),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'tenant_admin')),
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CHECK ((role = 'owner' AND tenant_id IS NULL) OR (role = 'tenant_admin' AND tenant_id IS NOT NULL))
);
CREATE INDEX users_tenant_id ON users (tenant_id);

-- revoked_tokens: JWT ids revoked before they expire (logout, password reset).
-- Every replica checks it, so a revoked token is refused everywhere. Rows past
-- expires_at may be deleted.
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    revoked_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- login_failures: one row per failed login, keyed by account (scope 'account',
-- key = lower-case email) and by client (scope 'ip'). Login throttling counts
-- rows inside its window; it survives restarts and is shared by replicas.
CREATE TABLE login_failures (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    scope  TEXT NOT NULL CHECK (scope IN ('account', 'ip')),
    key    TEXT NOT NULL,
    at     TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_scope_key_at ON login_failures (scope, key, at);

-- settings: typed values, platform-wide (tenant_id NULL) or per tenant.
-- value holds JSON; type is one of string, int, bool, json.
CREATE TABLE settings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER REFERENCES tenants(id),
    key         TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('string', 'int', 'bool', 'json')),
    value       TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    updated_by  INTEGER REFERENCES users(id)
);
CREATE UNIQUE INDEX settings_scope_key ON settings (COALESCE(tenant_id, 0), key);

-- system_state: platform switches and generated secrets that every replica
-- must share and a restore must bring back: the JWT signing key, the admin
-- login freeze, maintenance mode. value holds JSON.
CREATE TABLE system_state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- versions: one row per distinct backend build that started against this
-- database. Settings -> Versions shows it; a Scenario A rollback compares
-- against it.
CREATE TABLE versions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    version      TEXT NOT NULL,
    commit_hash  TEXT NOT NULL,
    first_seen   TIMESTAMP NOT NULL,
    last_seen    TIMESTAMP NOT NULL,
    UNIQUE (version, commit_hash)
);

-- audit_events: append-only record of who did what. Triggers refuse UPDATE
-- and DELETE. before/after hold JSON where a change is recorded.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ts           TIMESTAMP NOT NULL,
    actor_id     INTEGER,
    actor_email  TEXT NOT NULL DEFAULT '',
    tenant_id    INTEGER,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL DEFAULT '',
    before       TEXT,
    after        TEXT,
    request_id   TEXT NOT NULL DEFAULT '',
    remote_ip    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_tenant_ts ON audit_events (tenant_id, ts);
CREATE INDEX audit_events_action_ts ON audit_events (action, ts);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
