// Package sqlstore is the database adapter: it implements casino's services on
// database/sql for both engines, the embedded pure-Go SQLite (modernc.org/sqlite,
// the default) and PostgreSQL (pgx, the production engine). Queries are written
// once with '?' placeholders and rebound for PostgreSQL. Migrations are embedded
// SQL files, one tree per dialect, under migrations/.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casino"
	"casino/redact"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names a database engine.
type Dialect string

// The two supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DefaultURL is the embedded database used when DATABASE_URL is unset.
const DefaultURL = "sqlite:data/casino.db"

// Target is a parsed DATABASE_URL.
type Target struct {
	Dialect Dialect
	// Path is the SQLite file path (SQLite only).
	Path string
	// URL is the original URL (with credentials, never log it; see Redacted).
	URL string
}

// ParseURL parses a DATABASE_URL. Accepted forms:
//
//	sqlite:PATH, sqlite://PATH, sqlite:///ABS/PATH   embedded SQLite file
//	postgres://..., postgresql://...                 PostgreSQL via pgx
func ParseURL(s string) (Target, error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		if strings.HasPrefix(p, "//") {
			p = strings.TrimPrefix(p, "//")
		}
		if i := strings.IndexByte(p, '?'); i >= 0 {
			return Target{}, fmt.Errorf("sqlite URL takes no query parameters: %q", s)
		}
		if p == "" {
			return Target{}, fmt.Errorf("sqlite URL has no file path: %q", s)
		}
		return Target{Dialect: SQLite, Path: p, URL: s}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			return Target{}, fmt.Errorf("postgres URL does not parse: %s", Redact(s))
		}
		if u.Host == "" {
			return Target{}, fmt.Errorf("postgres URL has no host: %s", Redact(s))
		}
		if strings.Trim(u.Path, "/") == "" {
			return Target{}, fmt.Errorf("postgres URL names no database: %s", Redact(s))
		}
		return Target{Dialect: Postgres, URL: s}, nil
	case s == "":
		return Target{}, errors.New("empty database URL")
	default:
		scheme := s
		if i := strings.Index(s, ":"); i >= 0 {
			scheme = s[:i]
		}
		return Target{}, fmt.Errorf("unsupported database scheme %q: use sqlite:PATH or postgres://", scheme)
	}
}

// Redact returns a database URL or libpq connection string with its
// password masked as "***", in every form redact.DatabaseURL knows.
func Redact(s string) string { return redact.DatabaseURL(s) }

// Redacted returns the URL without credentials, safe for logs and manifests.
func (t Target) Redacted() string { return Redact(t.URL) }

// Identity names the database without credentials: the SQLite file's absolute
// path, or host:port/dbname for PostgreSQL. Backup manifests record it.
func (t Target) Identity() string {
	if t.Dialect == SQLite {
		if abs, err := filepath.Abs(t.Path); err == nil {
			return "sqlite:" + abs
		}
		return "sqlite:" + t.Path
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return "postgres"
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5432"
	}
	return "postgres://" + host + u.Path
}

// DB is an open database of either engine. It does not embed *sql.DB: every
// query goes through the methods below, which rebind '?' placeholders for the
// engine, so no caller can forget to.
type DB struct {
	sql    *sql.DB
	Target Target

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared statements of this DB, by query; closed by Close

	// sessions shares the session-state statement between concurrent
	// requests (session.go).
	sessions sessionBatcher
	// statements counts the statements this DB sent, for the tests that
	// assert how many round trips a request costs: every method below that
	// talks to the database adds one (BeginTx and Commit included).
	statements atomic.Int64
}

func (db *DB) countStatement() { db.statements.Add(1) }

// Statements returns how many statements this DB has sent so far (each of
// its methods that talks to the database counts one, BeginTx and Commit
// included): the tests that hold a request to one round trip read it.
func (db *DB) Statements() int64 { return db.statements.Load() }

// sqliteMaxConns is the SQLite pool's size.
const sqliteMaxConns = 16

// Dialect returns the engine of the database.
func (db *DB) Dialect() Dialect { return db.Target.Dialect }

// ErrNoDatabase is OpenExisting's error when the SQLite file is missing.
var ErrNoDatabase = errors.New("no database")

// OpenExisting is Open for commands that must not create a database as a
// side effect (migrate status, version history, admin, the DR commands): a
// SQLite file that does not exist is refused with ErrNoDatabase, where
// Open would create an empty one.
func OpenExisting(ctx context.Context, rawURL string) (*DB, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := t.CheckExists(); err != nil {
		return nil, err
	}
	return Open(ctx, rawURL)
}

// CheckExists refuses (ErrNoDatabase) a SQLite target whose file does not
// exist; a PostgreSQL target passes (its server says).
func (t Target) CheckExists() error {
	if t.Dialect == SQLite {
		if _, err := os.Stat(t.Path); err != nil {
			return fmt.Errorf("%w at %s: start casino serve or run casino migrate up first", ErrNoDatabase, t.Path)
		}
	}
	return nil
}

// Open opens (and for SQLite creates, with its folder) the database named by
// rawURL. It does not run migrations; see Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var sqldb *sql.DB
	switch t.Dialect {
	case SQLite:
		if dir := filepath.Dir(t.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		sqldb, err = sql.Open("sqlite", SQLiteDSN(t.Path))
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		// One writer at a time is how SQLite works; a small pool of readers
		// shares the WAL. Idle connections are kept: database/sql's default
		// of 2 would close and reopen (re-running the pragmas) under load.
		sqldb.SetMaxOpenConns(sqliteMaxConns)
		sqldb.SetMaxIdleConns(sqliteMaxConns)
	case Postgres:
		sqldb, err = sql.Open("pgx", withAppName(t.URL))
		if err != nil {
			return nil, fmt.Errorf("open postgres: %s", Redact(err.Error()))
		}
		sqldb.SetMaxOpenConns(16)
		sqldb.SetMaxIdleConns(16) // not the default 2: no reconnect storms under load
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
	}
	db := &DB{sql: sqldb, Target: t}
	db.sessions.db, db.sessions.slots = db, sessionSlots(t.Dialect)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("connect to %s: %s", t.Redacted(), Redact(err.Error()))
	}
	return db, nil
}

// withAppName sets application_name to "casino SUBCOMMAND" unless the URL
// sets one, so a restore that refuses while sessions are connected can name
// them (pg_stat_activity shows it).
func withAppName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get("application_name") != "" {
		return raw
	}
	name := "casino"
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		name += " " + os.Args[1]
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLiteDSN is the modernc.org/sqlite DSN for a file: WAL journal, a busy
// timeout so concurrent writers wait instead of failing, foreign keys on, and
// BEGIN IMMEDIATE so a read-then-write transaction cannot deadlock.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
}

// Rebind turns '?' placeholders into the dialect's form: $1, $2, ... for
// PostgreSQL. Queries in casino never contain a literal '?' inside strings.
func Rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ExecContext runs q, written with '?' placeholders, on the pool.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	db.countStatement()
	return db.sql.ExecContext(ctx, Rebind(db.Dialect(), q), args...)
}

// QueryContext runs q, written with '?' placeholders, on the pool.
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	db.countStatement()
	return db.sql.QueryContext(ctx, Rebind(db.Dialect(), q), args...)
}

// QueryRowContext runs q, written with '?' placeholders, on the pool.
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	db.countStatement()
	return db.sql.QueryRowContext(ctx, Rebind(db.Dialect(), q), args...)
}

// Exec is ExecContext with a background context.
func (db *DB) Exec(q string, args ...any) (sql.Result, error) {
	return db.ExecContext(context.Background(), q, args...)
}

// QueryRow is QueryRowContext with a background context.
func (db *DB) QueryRow(q string, args ...any) *sql.Row {
	return db.QueryRowContext(context.Background(), q, args...)
}

// prepared returns this DB's prepared statement for q (written with '?'),
// preparing it on first use. The statement lives as long as the DB: Close
// closes it, so no statement outlives its pool and none is shared between
// pools. A failed prepare is not kept, so a query over a table that a later
// migration creates prepares once the table exists.
func (db *DB) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if s, ok := db.stmts[q]; ok {
		return s, nil
	}
	s, err := db.sql.PrepareContext(ctx, Rebind(db.Dialect(), q))
	if err != nil {
		return nil, err
	}
	if db.stmts == nil {
		db.stmts = make(map[string]*sql.Stmt)
	}
	db.stmts[q] = s
	return s, nil
}

// BeginTx starts a transaction.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	db.countStatement()
	tx, err := db.sql.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, dialect: db.Dialect(), count: &db.statements}, nil
}

// Conn pins one connection of the pool, for work that must stay on one
// session (a read snapshot, a driver call such as COPY FROM). Close returns
// it to the pool.
func (db *DB) Conn(ctx context.Context) (*Conn, error) {
	c, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &Conn{conn: c, dialect: db.Dialect(), count: &db.statements}, nil
}

// Stats returns the pool's statistics (open, in use, idle, waits).
func (db *DB) Stats() sql.DBStats { return db.sql.Stats() }

// Close closes the prepared statements, then the pool.
func (db *DB) Close() error {
	db.mu.Lock()
	for q, s := range db.stmts {
		s.Close()
		delete(db.stmts, q)
	}
	db.mu.Unlock()
	return db.sql.Close()
}

// Tx is a transaction that knows its dialect. Like DB, it does not embed
// *sql.Tx, so every statement is rebound.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	count   *atomic.Int64 // the DB's statement counter
}

// Dialect returns the engine of the transaction.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// ExecContext runs q with '?' placeholders rebound.
func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	tx.count.Add(1)
	return tx.tx.ExecContext(ctx, Rebind(tx.dialect, q), args...)
}

// QueryContext runs q with '?' placeholders rebound.
func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	tx.count.Add(1)
	return tx.tx.QueryContext(ctx, Rebind(tx.dialect, q), args...)
}

// QueryRowContext runs q with '?' placeholders rebound.
func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	tx.count.Add(1)
	return tx.tx.QueryRowContext(ctx, Rebind(tx.dialect, q), args...)
}

// Conn is one pinned connection that knows its dialect; it rebinds like DB.
type Conn struct {
	conn    *sql.Conn
	dialect Dialect
	count   *atomic.Int64 // the DB's statement counter
}

// ExecContext runs q with '?' placeholders rebound.
func (c *Conn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.count.Add(1)
	return c.conn.ExecContext(ctx, Rebind(c.dialect, q), args...)
}

// QueryContext runs q with '?' placeholders rebound.
func (c *Conn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.count.Add(1)
	return c.conn.QueryContext(ctx, Rebind(c.dialect, q), args...)
}

// QueryRowContext runs q with '?' placeholders rebound.
func (c *Conn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.count.Add(1)
	return c.conn.QueryRowContext(ctx, Rebind(c.dialect, q), args...)
}

// Raw runs fn with the driver's own connection (a *stdlib.Conn for
// PostgreSQL, the modernc connection for SQLite).
func (c *Conn) Raw(fn func(driverConn any) error) error { return c.conn.Raw(fn) }

// Close returns the connection to the pool.
func (c *Conn) Close() error { return c.conn.Close() }

// execScript runs a migration file verbatim: it is not written with '?'
// placeholders and may hold a '?' of its own.
func (tx *Tx) execScript(ctx context.Context, script string) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, script)
}

// PrepareContext prepares q, with '?' placeholders rebound, for this
// transaction; the statement closes with it.
func (tx *Tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return tx.tx.PrepareContext(ctx, Rebind(tx.dialect, q))
}

// Commit commits the transaction.
func (tx *Tx) Commit() error {
	tx.count.Add(1)
	return tx.tx.Commit()
}

// Rollback aborts the transaction; after Commit it does nothing and returns
// sql.ErrTxDone.
func (tx *Tx) Rollback() error { return tx.tx.Rollback() }

// Tables lists the application's tables in dependency order (parents first).
// Backups count their rows; restores compare them.
var Tables = []string{"tenants", "users", "revoked_tokens", "login_failures", "settings", "system_state", "versions", "audit_events", "schema_migrations"}

// RowCounts returns the number of rows of every application table.
func (db *DB) RowCounts(ctx context.Context) (map[string]int64, error) {
	counts := make(map[string]int64, len(Tables))
	for _, t := range Tables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}

// Now returns the current time in UTC truncated to microseconds, the
// precision both engines keep, so a value written compares equal when read.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

var _ casino.StoreStatus = (*DB)(nil)

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	db.countStatement()
	return db.sql.PingContext(ctx)
}

// LatestSchemaVersion is the newest schema version this binary knows.
func (db *DB) LatestSchemaVersion() int { return LatestVersion(db.Dialect()) }

// Engine returns "sqlite" or "postgres".
func (db *DB) Engine() string { return string(db.Dialect()) }
