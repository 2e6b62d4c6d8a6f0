package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"casino"
)

var _ casino.AuditService = (*DB)(nil)

// insertAudit appends ev inside tx, filling actor and request from ctx.
func insertAudit(ctx context.Context, tx *Tx, ev *casino.AuditEvent) error {
	if id := casino.IdentityFromContext(ctx); id != nil {
		if ev.ActorID == nil {
			uid := id.UserID
			ev.ActorID = &uid
		}
		if ev.ActorEmail == "" {
			ev.ActorEmail = id.Email
		}
	} else if casino.IsBreakGlass(ctx) && ev.ActorEmail == "" {
		ev.ActorEmail = "cli"
	}
	m := casino.RequestMetaFromContext(ctx)
	if ev.RequestID == "" {
		ev.RequestID = m.RequestID
	}
	if ev.ClientRequestID == "" {
		ev.ClientRequestID = m.ClientRequestID
	}
	if ev.RemoteIP == "" {
		ev.RemoteIP = m.RemoteIP
	}
	ev.TS = Now()
	var before, after any
	if ev.Before != nil {
		before = string(ev.Before)
	}
	if ev.After != nil {
		after = string(ev.After)
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO audit_events (ts, actor_id, actor_email, tenant_id, action, target, before, after, request_id, client_request_id, remote_ip)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ev.TS, nullInt(ev.ActorID), ev.ActorEmail, nullInt(ev.TenantID), ev.Action, ev.Target, before, after, ev.RequestID, ev.ClientRequestID, ev.RemoteIP).Scan(&ev.ID)
	if err != nil {
		return fmt.Errorf("audit %s: %w", ev.Action, err)
	}
	return nil
}

// RecordAudit appends one event in its own transaction.
func (db *DB) RecordAudit(ctx context.Context, ev *casino.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error { return insertAudit(ctx, tx, ev) })
}

// FindAuditEvents implements casino.AuditService: newest first, scoped to
// the caller's tenant for tenant admins.
func (db *DB) FindAuditEvents(ctx context.Context, f casino.AuditFilter) ([]*casino.AuditEvent, int, error) {
	if err := casino.Authorize(ctx, casino.CapAuditRead, f.TenantID); err != nil {
		return nil, 0, err
	}
	id := casino.IdentityFromContext(ctx)
	if !id.IsOwner() {
		f.TenantID = id.TenantID
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	var where []string
	var args []any
	if f.TenantID != 0 {
		where, args = append(where, "tenant_id = ?"), append(args, f.TenantID)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, "*") {
			where, args = append(where, "action LIKE ?"), append(args, strings.TrimSuffix(f.Action, "*")+"%")
		} else {
			where, args = append(where, "action = ?"), append(args, f.Action)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "ts >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "ts < ?"), append(args, f.Until.UTC())
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events"+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count audit events: %w", err)
	}
	// SUBSTR keeps a page small however long the values: one character
	// more than a list shows tells that a value was cut.
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT id, ts, actor_id, actor_email, tenant_id, action, target, SUBSTR(before, 1, %[1]d), SUBSTR(after, 1, %[1]d), request_id, client_request_id, remote_ip
FROM audit_events`, casino.AuditListValueMax+1)+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("find audit events: %w", err)
	}
	defer rows.Close()
	events := []*casino.AuditEvent{}
	for rows.Next() {
		ev, err := scanAuditEvent(rows)
		if err != nil {
			return nil, 0, err
		}
		ev.Before, ev.Truncated = truncateListValue(ev.Before, ev.Truncated)
		ev.After, ev.Truncated = truncateListValue(ev.After, ev.Truncated)
		events = append(events, ev)
	}
	return events, total, rows.Err()
}

func scanAuditEvent(r scanner) (*casino.AuditEvent, error) {
	var ev casino.AuditEvent
	var actor, tenant sql.NullInt64
	var before, after sql.NullString
	if err := r.Scan(&ev.ID, &ev.TS, &actor, &ev.ActorEmail, &tenant, &ev.Action, &ev.Target, &before, &after, &ev.RequestID, &ev.ClientRequestID, &ev.RemoteIP); err != nil {
		return nil, err
	}
	ev.TS = ev.TS.UTC()
	ev.ActorID, ev.TenantID = ptrInt(actor), ptrInt(tenant)
	if before.Valid {
		ev.Before = []byte(before.String)
	}
	if after.Valid {
		ev.After = []byte(after.String)
	}
	return &ev, nil
}

// truncateListValue cuts a list's value longer than casino.AuditListValueMax
// characters to a JSON string of its start followed by "…", and reports
// whether the event is truncated.
func truncateListValue(v json.RawMessage, truncated bool) (json.RawMessage, bool) {
	if utf8.RuneCount(v) <= casino.AuditListValueMax {
		return v, truncated
	}
	n, i := 0, 0
	for i < len(v) && n < casino.AuditListValueMax {
		_, size := utf8.DecodeRune(v[i:])
		i += size
		n++
	}
	b, _ := json.Marshal(string(v[:i]) + "…")
	return b, true
}

// FindAuditEvent implements casino.AuditService.
func (db *DB) FindAuditEvent(ctx context.Context, id int64) (*casino.AuditEvent, error) {
	if err := casino.Authorize(ctx, casino.CapAuditRead, 0); err != nil {
		return nil, err
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ev, err := scanAuditEvent(tx.QueryRowContext(ctx, `SELECT id, ts, actor_id, actor_email, tenant_id, action, target, before, after, request_id, client_request_id, remote_ip
FROM audit_events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, casino.Errorf(casino.ENOTFOUND, "Audit event %d not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find audit event: %w", err)
	}
	if caller := casino.IdentityFromContext(ctx); !caller.IsOwner() && (ev.TenantID == nil || *ev.TenantID != caller.TenantID) {
		return nil, casino.Errorf(casino.ENOTFOUND, "Audit event %d not found.", id)
	}
	return ev, nil
}

// readTx begins a read-only transaction. On SQLite that is a deferred BEGIN,
// which takes no write lock (writes use BEGIN IMMEDIATE), so reads never
// queue behind writers.
func (db *DB) readTx(ctx context.Context) (*Tx, error) {
	return db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// inTx runs fn in a transaction, committing when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptrInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// isUnique reports whether err is a unique-constraint violation on either
// engine.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "duplicate key value")
}
