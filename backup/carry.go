package backup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"casino"
	"casino/sqlstore"
)

// Live state a restore carries from the database it replaces into the
// restored copy: what the incident itself changed after the backup, and
// what must not go back in time with the data.
//
//   - system_state: the login freeze and maintenance switches (with their
//     reasons) and every user's tokens_valid_after cut-off;
//   - revoked_tokens that have not expired, of users the copy has;
//   - password hashes of users whose updated_at is after the backup's
//     snapshot_at (users created or deleted since are listed, not carried);
//   - audit_events written after snapshot_at (the log is append-only: they
//     are inserted, with the copy's own ids);
//   - backup_verifications, the verification store, and drills, when both
//     have them.
//
// Each part is read on its own: a damaged live database (a table dropped)
// carries what it still has, and CarriedState.Skipped says what it had not.

// stateKeyRestoreID is the system_state key of the restored copy's identity.
const stateKeyRestoreID = "restore_id"

// carriedStateKeys are the system_state keys carried verbatim.
var carriedStateKeys = []string{"login_freeze", "maintenance"}

const tokensValidAfterPrefix = "tokens_valid_after:"

// NewRestoreID returns 32 random hex digits.
func NewRestoreID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RestoreIDValue is the system_state value under key restore_id.
type RestoreIDValue struct {
	RestoreID  string    `json:"restore_id"`
	Backup     string    `json:"backup"`
	RestoredAt time.Time `json:"restored_at"`
}

// carryLiveState copies the live state of liveURL into the restored copy at
// copyURL and writes the copy's restore_id, in one transaction on the copy.
// snapshotAt is the backup's snapshot_at (zero without a manifest: then no
// time-based part is carried). A live database that cannot be opened at all
// carries nothing and says so.
func carryLiveState(ctx context.Context, liveURL, copyURL string, snapshotAt time.Time, rid RestoreIDValue) (*casino.CarriedState, error) {
	cs := &casino.CarriedState{}
	dst, err := sqlstore.Open(ctx, copyURL)
	if err != nil {
		return nil, fmt.Errorf("open the restored copy: %w", err)
	}
	defer dst.Close()
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("open the restored copy: %w", err)
	}
	defer tx.Rollback()

	if liveURL != "" {
		src, err := sqlstore.Open(ctx, liveURL)
		if err != nil {
			cs.Skipped = append(cs.Skipped, "everything: the live database does not open: "+sqlstore.Redact(err.Error()))
		} else {
			carryFrom(ctx, src, tx, snapshotAt, cs)
			src.Close()
		}
	}
	v, _ := json.Marshal(rid)
	if _, err := tx.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, stateKeyRestoreID, string(v), sqlstore.Now()); err != nil {
		return nil, fmt.Errorf("write restore_id into the restored copy: %w", err)
	}
	// The restore is part of the incident's record, in the log it restored.
	// Written once: a repeated carry (sessions came back) finds it.
	var one int
	if tx.QueryRowContext(ctx, `SELECT 1 FROM audit_events WHERE action = ? AND after = ?`, casino.ActionRestore, string(v)).Scan(&one) != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (ts, actor_email, action, target, after) VALUES (?, 'cli', ?, ?, ?)`, sqlstore.Now(), casino.ActionRestore, "backup:"+rid.Backup, string(v)); err != nil {
			return nil, fmt.Errorf("audit the restore in the restored copy: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("carry live state into the restored copy: %w", err)
	}
	return cs, nil
}

// carryFrom runs each part in its own savepoint, so one that fails (a
// table missing on either side) is skipped and the others still commit.
func carryFrom(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, snapshotAt time.Time, cs *casino.CarriedState) {
	parts := []struct {
		name string
		run  func() error
	}{
		{"switches and tokens_valid_after", func() error { return carrySystemState(ctx, src, tx, cs) }},
		{"password hashes", func() error { return carryPasswords(ctx, src, tx, snapshotAt, cs) }},
		{"token revocations", func() error { return carryRevocations(ctx, src, tx, cs) }},
		{"audit events", func() error { return carryAudit(ctx, src, tx, snapshotAt, cs) }},
		{"verification store", func() error { return carryVerifications(ctx, src, tx, cs) }},
		{"drills", func() error { return carryDrills(ctx, src, tx, cs) }},
	}
	for i, p := range parts {
		sp := fmt.Sprintf("carry_%d", i)
		if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
			cs.Skipped = append(cs.Skipped, p.name+": "+err.Error())
			continue
		}
		if err := p.run(); err != nil {
			tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp)
			cs.Skipped = append(cs.Skipped, p.name+": "+sqlstore.Redact(err.Error()))
		}
		tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp)
	}
}

func upsertState(ctx context.Context, tx *sqlstore.Tx, key, value string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, at)
	return err
}

func carrySystemState(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, cs *casino.CarriedState) error {
	rows, err := src.QueryContext(ctx, `SELECT key, value, updated_at FROM system_state WHERE key IN (?, ?) OR key LIKE ?`, carriedStateKeys[0], carriedStateKeys[1], tokensValidAfterPrefix+"%")
	if err != nil {
		return err
	}
	type kv struct {
		key, value string
		at         time.Time
	}
	var all []kv
	for rows.Next() {
		var r kv
		if err := rows.Scan(&r.key, &r.value, &r.at); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		var old string
		tx.QueryRowContext(ctx, "SELECT value FROM system_state WHERE key = ?", r.key).Scan(&old)
		if err := upsertState(ctx, tx, r.key, r.value, r.at); err != nil {
			return err
		}
		switch {
		case r.key == "login_freeze":
			cs.LoginFreeze = switchOn(r.value)
		case r.key == "maintenance":
			cs.Maintenance = switchOn(r.value)
		case old != r.value:
			cs.TokensValidAfter++
		}
	}
	return nil
}

func switchOn(v string) bool {
	var sw casino.Switch
	json.Unmarshal([]byte(v), &sw)
	return sw.Enabled
}

type userRow struct {
	id      int64
	email   string
	hash    string
	updated time.Time
}

func readUsers(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[int64]userRow, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, email, password_hash, updated_at FROM users")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]userRow{}
	for rows.Next() {
		var u userRow
		if err := rows.Scan(&u.id, &u.email, &u.hash, &u.updated); err != nil {
			return nil, err
		}
		out[u.id] = u
	}
	return out, rows.Err()
}

func carryPasswords(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, snapshotAt time.Time, cs *casino.CarriedState) error {
	if snapshotAt.IsZero() {
		return fmt.Errorf("the backup has no manifest, so no snapshot_at to compare updated_at with")
	}
	live, err := readUsers(ctx, src)
	if err != nil {
		return err
	}
	restored, err := readUsers(ctx, tx)
	if err != nil {
		return err
	}
	for _, u := range live {
		r, ok := restored[u.id]
		if !ok || r.email != u.email {
			cs.NotCarriedUsers = append(cs.NotCarriedUsers, u.email+" (created after the backup: not in the restored data)")
			continue
		}
		if u.updated.After(snapshotAt) && u.hash != r.hash {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", u.hash, u.updated, u.id); err != nil {
				return err
			}
			cs.PasswordHashes = append(cs.PasswordHashes, u.email)
		}
	}
	for id, r := range restored {
		if l, ok := live[id]; !ok || l.email != r.email {
			cs.NotCarriedUsers = append(cs.NotCarriedUsers, r.email+" (deleted after the backup: back with the restored data)")
		}
	}
	sort.Strings(cs.PasswordHashes)
	sort.Strings(cs.NotCarriedUsers)
	return nil
}

func carryRevocations(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, cs *casino.CarriedState) error {
	rows, err := src.QueryContext(ctx, "SELECT jti, user_id, revoked_at, expires_at FROM revoked_tokens WHERE expires_at > ?", sqlstore.Now())
	if err != nil {
		return err
	}
	type rev struct {
		jti           string
		user          int64
		revoked, exps time.Time
	}
	var all []rev
	for rows.Next() {
		var r rev
		if err := rows.Scan(&r.jti, &r.user, &r.revoked, &r.exps); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		// A user the copy lacks has no tokens to refuse: every token of an
		// unknown user is refused anyway.
		res, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (jti, user_id, revoked_at, expires_at)
SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?) ON CONFLICT (jti) DO NOTHING`, r.jti, r.user, r.revoked, r.exps, r.user)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			cs.RevokedTokens++
		}
	}
	return nil
}

// columns returns the column names of table as the query sees them.
func columns(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT * FROM "+table+" WHERE 1 = 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}

// commonColumns are the columns both sides have, except skip.
func commonColumns(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, table string, skip string) ([]string, error) {
	a, err := columns(ctx, src, table)
	if err != nil {
		return nil, fmt.Errorf("live %s: %w", table, err)
	}
	b, err := columns(ctx, tx, table)
	if err != nil {
		return nil, fmt.Errorf("restored %s: %w", table, err)
	}
	have := map[string]bool{}
	for _, c := range b {
		have[c] = true
	}
	var out []string
	for _, c := range a {
		if have[c] && c != skip {
			out = append(out, c)
		}
	}
	return out, nil
}

// carryBatch is how many rows one INSERT carries: a few round trips for
// thousands of audit events, well under both engines' parameter limits.
const carryBatch = 200

// sameRow says when a row is already in the copy: key names a row by the
// values that make it the same row (from the selected columns), and present
// selects those values of the copy's rows that may match.
type sameRow struct {
	key     func(vals []any) string
	present string
	args    []any
}

// copyRows inserts the rows of query (selecting cols) into table, in
// batches; with same, a row whose key the copy already holds, or that an
// earlier row of the same query carried, is skipped.
func copyRows(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, table string, cols []string, query string, args []any, same *sameRow) (int, error) {
	rows, err := src.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	var all [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, vals)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if same != nil && len(all) > 0 {
		have, err := presentKeys(ctx, tx, same)
		if err != nil {
			return 0, err
		}
		keep := all[:0]
		for _, vals := range all {
			k := same.key(vals)
			if have[k] {
				continue
			}
			have[k] = true
			keep = append(keep, vals)
		}
		all = keep
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	n := 0
	for len(all) > 0 {
		b := all[:min(carryBatch, len(all))]
		all = all[len(b):]
		ins := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", len(b)), ", ")
		var vals []any
		for _, v := range b {
			vals = append(vals, v...)
		}
		if _, err := tx.ExecContext(ctx, ins, vals...); err != nil {
			return n, err
		}
		n += len(b)
	}
	return n, nil
}

// presentKeys reads the keys of the copy's rows same.present selects.
func presentKeys(ctx context.Context, tx *sqlstore.Tx, same *sameRow) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, same.present, same.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		have[valuesKey(vals...)] = true
	}
	return have, rows.Err()
}

// valuesKey is one string for scanned values, equal for equal values: times
// as UTC instants, bytes as text.
func valuesKey(vals ...any) string {
	var b strings.Builder
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b.WriteString("\x00null")
		case time.Time:
			b.WriteString(v.UTC().Format(time.RFC3339Nano))
		case []byte:
			b.Write(v)
		default:
			fmt.Fprint(&b, v)
		}
		b.WriteByte(0x1f)
	}
	return b.String()
}

func carryAudit(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, snapshotAt time.Time, cs *casino.CarriedState) error {
	if snapshotAt.IsZero() {
		return fmt.Errorf("the backup has no manifest, so no snapshot_at to tell later events by")
	}
	cols, err := commonColumns(ctx, src, tx, "audit_events", "id")
	if err != nil {
		return err
	}
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	for _, c := range []string{"ts", "action", "target"} {
		if _, ok := idx[c]; !ok {
			return fmt.Errorf("audit_events has no %s column", c)
		}
	}
	// The copy's events end at snapshot_at; an event is carried once: the
	// same instant, action and target already there (carried by an earlier
	// attempt) is the same event.
	n, err := copyRows(ctx, src, tx, "audit_events", cols,
		"SELECT "+strings.Join(cols, ", ")+" FROM audit_events WHERE ts > ? ORDER BY id", []any{snapshotAt},
		&sameRow{
			key:     func(v []any) string { return valuesKey(v[idx["ts"]], v[idx["action"]], v[idx["target"]]) },
			present: "SELECT ts, action, target FROM audit_events WHERE ts > ?",
			args:    []any{snapshotAt},
		})
	cs.AuditEvents = n
	return err
}

// Tables that belong to the live database, not to the backup: the
// verification store (migration 0003) and the drills (migration 0004). The
// copy's rows are replaced by the live ones, ids included.
const (
	verificationsTable = "backup_verifications"
	drillsTable        = "drills"
)

func carryVerifications(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, cs *casino.CarriedState) error {
	n, err := replaceTable(ctx, src, tx, verificationsTable)
	cs.Verifications = n
	return err
}

func carryDrills(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, cs *casino.CarriedState) error {
	n, err := replaceTable(ctx, src, tx, drillsTable)
	cs.Drills = n
	return err
}

// replaceTable replaces the copy's rows of table with the live database's,
// over the columns both have. A live database that predates the table
// carries nothing.
func replaceTable(ctx context.Context, src *sqlstore.DB, tx *sqlstore.Tx, table string) (int, error) {
	if !tableExists(ctx, src, table) {
		return 0, nil
	}
	cols, err := commonColumns(ctx, src, tx, table, "")
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
		return 0, err
	}
	n, err := copyRows(ctx, src, tx, table, cols, "SELECT "+strings.Join(cols, ", ")+" FROM "+table, nil, nil)
	if err != nil {
		return n, err
	}
	if tx.Dialect() == sqlstore.Postgres && n > 0 {
		var serial sql.NullString
		tx.QueryRowContext(ctx, "SELECT pg_get_serial_sequence('"+table+"', 'id')").Scan(&serial)
		if serial.Valid {
			_, err = tx.ExecContext(ctx, "SELECT setval(pg_get_serial_sequence('"+table+"', 'id'), (SELECT MAX(id) FROM "+table+"))")
		}
	}
	return n, err
}

func tableExists(ctx context.Context, db *sqlstore.DB, table string) bool {
	var n int
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.Dialect() == sqlstore.Postgres {
		q = `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?`
	}
	db.QueryRowContext(ctx, q, table).Scan(&n)
	return n > 0
}

// mergeCarried adds a repeated carry (after sessions came back) to the
// first: the switches are the last read, counts add up, lists join.
func mergeCarried(a, b *casino.CarriedState) *casino.CarriedState {
	if a == nil {
		return b
	}
	a.LoginFreeze, a.Maintenance = b.LoginFreeze, b.Maintenance
	a.RevokedTokens += b.RevokedTokens
	a.TokensValidAfter += b.TokensValidAfter
	a.AuditEvents += b.AuditEvents
	a.Verifications = b.Verifications
	a.Drills = b.Drills
	a.PasswordHashes = joinUnique(a.PasswordHashes, b.PasswordHashes)
	a.NotCarriedUsers = joinUnique(a.NotCarriedUsers, b.NotCarriedUsers)
	a.Skipped = b.Skipped
	return a
}

func joinUnique(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
