-- 0002_harden (issue 14): login throttling by (account, client address), and
-- the client's request id kept apart from the server's in the audit log.

-- login_failures rows of scope 'account' now record the client address the
-- failure came from (ip) and whether that address had no failure for the
-- account before it (fresh). Throttling counts failures per (account,
-- address) and per address, and past a per-account ceiling delays attempts;
-- see docs/api.md, "Login throttling".
ALTER TABLE login_failures ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE login_failures ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0;

-- audit_events.client_request_id: the X-Request-ID the client sent, as it
-- sent it (validated, at most 128 characters); request_id is always the
-- server's own.
ALTER TABLE audit_events ADD COLUMN client_request_id TEXT NOT NULL DEFAULT '';
