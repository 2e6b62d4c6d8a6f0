package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"casino"
)

// Every authenticated request reads its session state (revocation, user,
// tenant, tokens_valid_after, login freeze, maintenance) from the database:
// nothing of it is cached, so a revoked token is refused on the very next
// request. What is shared is the trip. Requests that arrive while the
// lookups already running occupy every slot wait in one batch, which the
// next free slot reads in one statement, and so in one round trip for all
// of them. A batch is only ever read after each of its requests arrived, so
// every answer is at least as fresh as a lookup of its own. An idle server
// never waits: a request that finds a free slot runs its lookup at once,
// alone. There is no timer.

// sessionSlots bounds the session-state statements running at once; more
// requests than that share batches. PostgreSQL: two, so requests share
// round trips as soon as two are waiting on the network (one would stall
// every request behind one slow trip). SQLite has no trip to share: a
// lookup there is the engine's CPU, so it gets one slot per pool
// connection, and requests batch only when they would otherwise queue for
// a connection.
func sessionSlots(d Dialect) int {
	if d == Postgres {
		return 2
	}
	return sqliteMaxConns
}

// maxSessionBatch bounds one batch; the rest waits for the next.
const maxSessionBatch = 128

// sessionBatchTimeout bounds the statement of a batch shared by several
// requests (it cannot stop when one of them gives up). A request alone uses
// its own context.
const sessionBatchTimeout = 30 * time.Second

// sessionKey is what one lookup asks for.
type sessionKey struct {
	jti              string
	userID, tenantID int64
}

// sessionRequest is one request's lookup and, once done, its answer.
type sessionRequest struct {
	key  sessionKey
	st   casino.SessionState
	err  error
	done chan struct{} // closed when answered; nil for a lookup run alone
}

// sessionRaw is one row of session state before the switches are decoded.
type sessionRaw struct {
	revoked, users              int
	status, after, freeze, main string
}

type sessionBatcher struct {
	db    *DB
	slots int

	mu       sync.Mutex
	running  int
	pending  []*sessionRequest
	switches atomic.Pointer[switchMemo]
}

// switchMemo keeps the last decoded value of each switch: the JSON of a
// switch changes when an owner flips it, not per request.
type switchMemo struct {
	freezeRaw, mainRaw string
	freeze, main       casino.Switch
}

// SessionState implements casino.AuthStore: one statement, shared with the
// requests that arrive while it waits for a slot (see above).
func (db *DB) SessionState(ctx context.Context, jti string, userID, tenantID int64) (*casino.SessionState, error) {
	b := &db.sessions
	r := &sessionRequest{key: sessionKey{jti, userID, tenantID}}
	if !utf8.ValidString(jti) {
		// JSON, which carries a batch's keys, cannot carry these bytes
		// unchanged; such a token (never one casino issued) is looked up
		// alone.
		if err := b.read(ctx, []*sessionRequest{r}); err != nil {
			return nil, fmt.Errorf("session state: %w", err)
		}
		return &r.st, nil
	}
	b.mu.Lock()
	if b.running < b.slots {
		b.running++
		b.mu.Unlock()
		r.err = b.read(ctx, []*sessionRequest{r})
		b.next()
		if r.err != nil {
			return nil, fmt.Errorf("session state: %w", r.err)
		}
		return &r.st, nil
	}
	r.done = make(chan struct{})
	b.pending = append(b.pending, r)
	b.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("session state: %w", ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("session state: %w", r.err)
	}
	return &r.st, nil
}

// next hands the slot just freed to the waiting batch, or frees it.
func (b *sessionBatcher) next() {
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.running--
		b.mu.Unlock()
		return
	}
	batch := b.pending
	if len(batch) > maxSessionBatch {
		batch = batch[:maxSessionBatch:maxSessionBatch]
		b.pending = append([]*sessionRequest(nil), b.pending[maxSessionBatch:]...)
	} else {
		b.pending = nil
	}
	b.mu.Unlock()
	// The caller's own answer is ready: it goes back to its client while
	// another goroutine reads the batch.
	go b.runBatch(batch)
}

func (b *sessionBatcher) runBatch(batch []*sessionRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), sessionBatchTimeout)
	err := b.read(ctx, batch)
	cancel()
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
	b.next()
}

// read answers every request of reqs in one statement.
func (b *sessionBatcher) read(ctx context.Context, reqs []*sessionRequest) error {
	db := b.db
	if len(reqs) == 1 {
		k := reqs[0].key
		var raw sessionRaw
		stmt, err := db.prepared(ctx, sessionStateQuery)
		if err != nil {
			return err
		}
		db.countStatement()
		if err := stmt.QueryRowContext(ctx, k.jti, k.userID, k.tenantID, tokensAfterKey(k.userID), stateLoginFreeze, stateMaintenance).
			Scan(&raw.revoked, &raw.users, &raw.status, &raw.after, &raw.freeze, &raw.main); err != nil {
			return err
		}
		b.fill(&reqs[0].st, &raw)
		return nil
	}
	// One row per distinct key: many requests of one client carry the
	// same token.
	keys := make([]sessionKey, 0, len(reqs))
	index := make(map[sessionKey]int, len(reqs))
	for _, r := range reqs {
		if _, ok := index[r.key]; !ok {
			index[r.key] = len(keys)
			keys = append(keys, r.key)
		}
	}
	raws := make([]sessionRaw, len(keys))
	if err := db.readSessionBatch(ctx, keys, raws); err != nil {
		return err
	}
	for _, r := range reqs {
		b.fill(&r.st, &raws[index[r.key]])
	}
	return nil
}

// fill decodes a row into st.
func (b *sessionBatcher) fill(st *casino.SessionState, raw *sessionRaw) {
	m := b.switches.Load()
	if m == nil || m.freezeRaw != raw.freeze || m.mainRaw != raw.main {
		m = &switchMemo{freezeRaw: raw.freeze, mainRaw: raw.main, freeze: parseSwitch(raw.freeze), main: parseSwitch(raw.main)}
		b.switches.Store(m)
	}
	*st = casino.SessionState{Revoked: raw.revoked > 0, UserExists: raw.users > 0, TenantStatus: raw.status, LoginFreeze: m.freeze, Maintenance: m.main}
	if raw.after != "" {
		json.Unmarshal([]byte(raw.after), &st.TokensValidAfter)
	}
}

// sessionStateQuery reads, in one statement, everything verifying one token
// needs.
const sessionStateQuery = `SELECT
 (SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?),
 (SELECT COUNT(*) FROM users WHERE id = ?),
 COALESCE((SELECT status FROM tenants WHERE id = ?), ''),
 COALESCE((SELECT value FROM system_state WHERE key = ?), ''),
 COALESCE((SELECT value FROM system_state WHERE key = ?), ''),
 COALESCE((SELECT value FROM system_state WHERE key = ?), '')`

// Batch forms of sessionStateQuery: one row per key of a JSON array of
// [jti, user id, tenant id], numbered from 0 in the order given. The
// switches are the same for every row (evaluated once). PostgreSQL reads
// the keys with jsonb_array_elements, not unnest over arrays: the planner
// sizes unnest by the array it is given, so a custom plan always looked
// cheaper and the statement was planned again on every execution (0.5 ms);
// jsonb_array_elements has one fixed estimate, so the cached generic plan
// is kept.
const (
	sessionBatchPostgres = `SELECT q.n - 1,
 (SELECT COUNT(*) FROM revoked_tokens WHERE jti = q.v ->> 0),
 (SELECT COUNT(*) FROM users WHERE id = (q.v ->> 1)::bigint),
 COALESCE((SELECT status FROM tenants WHERE id = (q.v ->> 2)::bigint), ''),
 COALESCE((SELECT value FROM system_state WHERE key = 'tokens_valid_after:' || (q.v ->> 1)), ''),
 COALESCE((SELECT value FROM system_state WHERE key = 'login_freeze'), ''),
 COALESCE((SELECT value FROM system_state WHERE key = 'maintenance'), '')
FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS q(v, n)`

	sessionBatchSQLite = `SELECT q.key,
 (SELECT COUNT(*) FROM revoked_tokens WHERE jti = q.value ->> 0),
 (SELECT COUNT(*) FROM users WHERE id = q.value ->> 1),
 COALESCE((SELECT status FROM tenants WHERE id = q.value ->> 2), ''),
 COALESCE((SELECT value FROM system_state WHERE key = 'tokens_valid_after:' || (q.value ->> 1)), ''),
 COALESCE((SELECT value FROM system_state WHERE key = 'login_freeze'), ''),
 COALESCE((SELECT value FROM system_state WHERE key = 'maintenance'), '')
FROM json_each(?) AS q`
)

// readSessionBatch reads the session state of every key in one statement
// into raws (same order).
func (db *DB) readSessionBatch(ctx context.Context, keys []sessionKey, raws []sessionRaw) error {
	b := make([]byte, 0, 64*len(keys))
	b = append(b, '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		j, _ := json.Marshal(k.jti)
		b = append(b, '[')
		b = append(b, j...)
		b = append(b, ',')
		b = strconv.AppendInt(b, k.userID, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, k.tenantID, 10)
		b = append(b, ']')
	}
	b = append(b, ']')
	q := sessionBatchSQLite
	if db.Dialect() == Postgres {
		q = sessionBatchPostgres
	}
	stmt, err := db.prepared(ctx, q)
	if err != nil {
		return err
	}
	db.countStatement()
	rows, err := stmt.QueryContext(ctx, string(b))
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var n int
		var raw sessionRaw
		if err := rows.Scan(&n, &raw.revoked, &raw.users, &raw.status, &raw.after, &raw.freeze, &raw.main); err != nil {
			return err
		}
		if n < 0 || n >= len(raws) {
			return fmt.Errorf("session batch: row %d of %d", n, len(raws))
		}
		raws[n] = raw
		seen++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if seen != len(raws) {
		return fmt.Errorf("session batch: %d rows for %d keys", seen, len(raws))
	}
	return nil
}
