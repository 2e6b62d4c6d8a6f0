package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"casino"
	"casino/sqlstore"
)

// pgTarget is a PostgreSQL database URL taken apart: its database name, and
// the URL of the maintenance database ("postgres") on the same server, from
// which databases are created, renamed and dropped.
type pgTarget struct {
	url      string
	dbname   string
	maintURL string
}

func newPGTarget(raw string) (*pgTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("postgres URL does not parse: %s", sqlstore.Redact(raw))
	}
	name := strings.Trim(u.Path, "/")
	if name == "" {
		return nil, fmt.Errorf("postgres URL names no database: %s", sqlstore.Redact(raw))
	}
	return &pgTarget{url: raw, dbname: name, maintURL: withDatabase(raw, "postgres")}, nil
}

// withDatabase returns the URL with its database replaced.
func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// LibpqArgs returns the URL to pass to a libpq tool (pg_dump, pg_receivewal,
// pg_basebackup) without its password, which would show in ps, and the
// environment carrying it instead.
func LibpqArgs(raw string) (string, []string) {
	env := os.Environ()
	u, err := url.Parse(raw)
	if err != nil {
		return raw, env
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	if pw := q.Get("password"); pw != "" {
		env = append(env, "PGPASSWORD="+pw)
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), env
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Leftover database name parts: <base>__rs_<stamp> is a restore's scratch
// database, <base>__vf_<stamp> a deep verify's, <base>__old_<stamp> the
// previous database after a swap, before it is dropped.
const (
	pgScratchTag = "__rs_"
	pgVerifyTag  = "__vf_"
	pgOldTag     = "__old_"
)

// pgBase is the database name shortened so that base+tag+stamp fits in
// PostgreSQL's 63-byte identifiers.
func pgBase(dbname string) string {
	if len(dbname) > 36 {
		return dbname[:36]
	}
	return dbname
}

func pgSideName(dbname, tag string) string {
	return pgBase(dbname) + tag + time.Now().UTC().Format("20060102150405") + "_" + strconv.Itoa(os.Getpid()%100000)
}

var pgVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// ToolMajor runs a PostgreSQL program's "--version" and returns its major
// version. pitr uses it too: every client tool must match its server.
func ToolMajor(path string) (int, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", path, err)
	}
	m := pgVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return 0, fmt.Errorf("%s --version: unexpected output %q", path, strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(m[1])
}

// findPGTool finds pg_dump or psql whose major version is at least the
// server's. With binDir set (CASINO_PG_BINDIR) only that folder is tried;
// otherwise PATH first, then /usr/lib/postgresql/*/bin, newest first. An
// older pg_dump is refused: it fails, or worse, on a newer server (GitLab
// lost its backups to this in 2017).
func findPGTool(name, binDir string, serverMajor int) (string, error) {
	var cands []string
	if binDir != "" {
		cands = []string{filepath.Join(binDir, name)}
	} else {
		if p, err := exec.LookPath(name); err == nil {
			cands = append(cands, p)
		}
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
		sort.Slice(dirs, func(i, j int) bool { return versionOfPath(dirs[i]) > versionOfPath(dirs[j]) })
		cands = append(cands, dirs...)
	}
	var found []string
	for _, c := range cands {
		major, err := ToolMajor(c)
		if err != nil {
			continue
		}
		if major >= serverMajor {
			return c, nil
		}
		found = append(found, fmt.Sprintf("%s is version %d", c, major))
	}
	if len(found) == 0 {
		return "", errorf(casino.EUNAVAILABLE, "%s not found (looked in %s): install the PostgreSQL %d client tools, or set CASINO_PG_BINDIR", name, strings.Join(append(cands, "PATH"), ", "), serverMajor)
	}
	return "", errorf(casino.EUNAVAILABLE, "refusing to use %s older than the server: the server is PostgreSQL %d but %s; an older %s cannot dump a newer server faithfully. Install postgresql-client-%d, or set CASINO_PG_BINDIR to its bin folder", name, serverMajor, strings.Join(found, ", "), name, serverMajor)
}

func versionOfPath(p string) int {
	parts := strings.Split(p, "/")
	for _, s := range parts {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return 0
}

// serverMajor returns the server's major version.
func serverMajor(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var num int
	if err := q.QueryRowContext(ctx, "SHOW server_version_num").Scan(&num); err != nil {
		return 0, fmt.Errorf("server version: %w", err)
	}
	return num / 10000, nil
}

// dumpScanner watches plain pg_dump output go by: it counts the data lines of
// every COPY block per table, and keeps the tail to find the completion
// trailer. A truncated or partial dump fails one of the two checks.
type dumpScanner struct {
	counts  map[string]int64
	table   string // current COPY table, "" outside a COPY block
	line    []byte // prefix of the current line (up to 256 bytes)
	tail    []byte
	n       int64
	inCopy  bool
	started bool
}

func newDumpScanner() *dumpScanner { return &dumpScanner{counts: map[string]int64{}} }

var copyRE = regexp.MustCompile(`^COPY (?:"?public"?\.)?"?([A-Za-z0-9_]+)"? .*FROM stdin;`)

func (s *dumpScanner) Write(b []byte) (int, error) {
	s.n += int64(len(b))
	s.started = true
	rest := b
	for len(rest) > 0 {
		// Inside a COPY block only "\." matters: keep 3 bytes of each line.
		keep := 256
		if s.inCopy {
			keep = 3
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if room := keep - len(s.line); room > 0 {
				s.line = append(s.line, rest[:min(room, len(rest))]...)
			}
			break
		}
		seg := rest[:i]
		if room := keep - len(s.line); room > 0 {
			s.line = append(s.line, seg[:min(room, len(seg))]...)
		}
		s.endLine()
		rest = rest[i+1:]
	}
	// Keep the last 1 KiB or more: the trailer is the dump's last lines.
	if len(b) >= 1024 {
		s.tail = append(s.tail[:0], b[len(b)-1024:]...)
	} else {
		s.tail = append(s.tail, b...)
		if len(s.tail) > 4096 {
			s.tail = append(s.tail[:0], s.tail[len(s.tail)-1024:]...)
		}
	}
	return len(b), nil
}

func (s *dumpScanner) endLine() {
	l := s.line
	s.line = s.line[:0]
	if s.inCopy {
		if len(l) == 2 && l[0] == '\\' && l[1] == '.' {
			s.inCopy = false
			return
		}
		s.counts[s.table]++
		return
	}
	if bytes.HasPrefix(l, []byte("COPY ")) {
		if m := copyRE.FindSubmatch(l); m != nil {
			s.table = string(m[1])
			s.inCopy = true
			if _, ok := s.counts[s.table]; !ok {
				s.counts[s.table] = 0
			}
		}
	}
}

// complete reports whether the dump ended with pg_dump's trailer.
func (s *dumpScanner) complete() bool {
	return bytes.Contains(s.tail, []byte("-- PostgreSQL database dump complete"))
}

// check compares the dump with the snapshot's row counts: every table's
// COPY block must hold exactly the rows counted, and the dump must be at
// least as large as a minimal row per row. A dump that fails is refused.
func (s *dumpScanner) check(want map[string]int64) error {
	if !s.complete() {
		return errorf(casino.EINVALID, "the SQL dump is incomplete: pg_dump's completion trailer is missing (truncated or interrupted dump)")
	}
	if s.inCopy {
		return errorf(casino.EINVALID, "the SQL dump ends inside the COPY block of %s", s.table)
	}
	var total int64
	for t, n := range want {
		total += n
		if got, ok := s.counts[t]; !ok && n > 0 {
			return errorf(casino.EINVALID, "the SQL dump has no data for table %s, which holds %d rows: implausible dump", t, n)
		} else if ok && got != n {
			return errorf(casino.EINVALID, "the SQL dump holds %d rows of %s, the snapshot counted %d: implausible dump", got, t, n)
		}
	}
	// Schema alone is several KiB; each row at least ~16 bytes of COPY text.
	if min := 2048 + 16*total; s.n < min {
		return errorf(casino.EINVALID, "the SQL dump is implausibly small: %d bytes for %d rows (expected at least %d)", s.n, total, min)
	}
	return nil
}

// pgSnapshot is an open REPEATABLE READ transaction whose snapshot pg_dump
// shares (--snapshot): the row counts, the schema version and snapshot_at
// all describe exactly the data pg_dump writes.
type pgSnapshot struct {
	db         *sql.DB
	tx         *sql.Tx
	id         string
	at         time.Time
	counts     map[string]int64
	schema     int
	serverMajr int
}

func openPGSnapshot(ctx context.Context, rawURL string) (*pgSnapshot, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, err
	}
	s := &pgSnapshot{db: db, counts: map[string]int64{}}
	if s.serverMajr, err = serverMajor(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %s", sqlstore.Redact(rawURL), sqlstore.Redact(err.Error()))
	}
	s.tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		db.Close()
		return nil, err
	}
	// The snapshot is taken as this first statement starts; clock_timestamp()
	// runs inside it, microseconds later. Every transaction committed before
	// snapshot_at is in the dump, except any committed in those microseconds.
	if err := s.tx.QueryRowContext(ctx, `SELECT pg_export_snapshot(), clock_timestamp()`).Scan(&s.id, &s.at); err != nil {
		s.close()
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	s.at = s.at.UTC()
	for _, t := range sqlstore.Tables {
		var n int64
		if err := s.tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			s.close()
			return nil, errorf(casino.EINVALID, "count rows of %s: %v (is this a casino database? run casino migrate up)", t, err)
		}
		s.counts[t] = n
	}
	if err := s.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&s.schema); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *pgSnapshot) close() {
	if s.tx != nil {
		s.tx.Rollback()
	}
	s.db.Close()
}

// runPGDump writes plain SQL of the snapshot to w.
func runPGDump(ctx context.Context, bin, rawURL, snapshotID string, w io.Writer) error {
	u, env := LibpqArgs(rawURL)
	cmd := exec.CommandContext(ctx, bin, "--format=plain", "--no-owner", "--no-privileges", "--snapshot="+snapshotID, "--dbname="+u)
	cmd.Env = env
	dieWithParent(cmd)
	cmd.Stdout = w
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := runLocked(cmd); err != nil {
		return fmt.Errorf("pg_dump: %v: %s", err, sqlstore.Redact(strings.TrimSpace(stderr.String())))
	}
	return nil
}

// tailBuffer keeps the last 8 KiB written: a child's stderr for messages.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = t.b[len(t.b)-8192:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// pgAdmin is a connection to the maintenance database.
type pgAdmin struct {
	db *sql.DB
	pg *pgTarget
}

func openPGAdmin(ctx context.Context, pg *pgTarget) (*pgAdmin, error) {
	db, err := sql.Open("pgx", pg.maintURL)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to the maintenance database %s: %s", sqlstore.Redact(pg.maintURL), sqlstore.Redact(err.Error()))
	}
	return &pgAdmin{db: db, pg: pg}, nil
}

func (a *pgAdmin) close() { a.db.Close() }

func (a *pgAdmin) exists(ctx context.Context, name string) (bool, error) {
	var n int
	err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n)
	return n > 0, err
}

func (a *pgAdmin) create(ctx context.Context, name string) error {
	if _, err := a.db.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(name)+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("create scratch database %s (the role needs CREATEDB): %w", name, err)
	}
	return nil
}

func (a *pgAdmin) drop(ctx context.Context, name string) error {
	_, err := a.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)")
	return err
}

// sideDatabases lists the leftover scratch and old databases of dbname.
func (a *pgAdmin) sideDatabases(ctx context.Context) ([]string, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT datname FROM pg_database ORDER BY datname`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	base := pgBase(a.pg.dbname)
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		for _, tag := range []string{pgScratchTag, pgVerifyTag, pgOldTag} {
			// exactly the names pgSideName makes, nothing that only starts so
			if ok, _ := regexp.MatchString(`^`+regexp.QuoteMeta(base+tag)+`[0-9]{14}_[0-9]{1,5}$`, n); ok {
				out = append(out, n)
			}
		}
	}
	return out, rows.Err()
}

// swap replaces the live database by the scratch one: in ONE transaction on
// the maintenance database, end the sessions of both (or, with
// refuseSessions, refuse when the live one has any but this process's own),
// rename live to old, rename scratch to live. PostgreSQL commits both
// renames or neither, so a crash at any point leaves the live name on a
// whole database. A session that connects between the check and the commit
// waits on the rename's lock and then finds its database renamed. The old
// database is kept, never dropped. Needs: ownership of both databases (or
// superuser), and the right to terminate the sessions (same role,
// pg_signal_backend, or superuser).
func (a *pgAdmin) swap(ctx context.Context, scratch, old string, liveExists, refuseSessions bool, pause func(string), point string) error {
	live := a.pg.dbname
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		err := func() error {
			conn, err := a.db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if refuseSessions && liveExists {
				ss, err := a.sessions(ctx, live)
				if err != nil {
					return err
				}
				if len(ss) > 0 {
					return sessionsError(live, ss)
				}
			}
			if _, err := tx.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ($1, $2) AND pid <> pg_backend_pid()`, live, scratch); err != nil {
				return fmt.Errorf("terminate sessions: %w", err)
			}
			if liveExists {
				if _, err := tx.ExecContext(ctx, "ALTER DATABASE "+quoteIdent(live)+" RENAME TO "+quoteIdent(old)); err != nil {
					return fmt.Errorf("rename %s to %s: %w", live, old, err)
				}
			}
			pause(point)
			if _, err := tx.ExecContext(ctx, "ALTER DATABASE "+quoteIdent(scratch)+" RENAME TO "+quoteIdent(live)); err != nil {
				return fmt.Errorf("rename %s to %s: %w", scratch, live, err)
			}
			return tx.Commit()
		}()
		if err == nil {
			if liveExists {
				a.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, old)
			}
			return nil
		}
		lastErr = err
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55006" { // object_in_use
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("swap: sessions kept reconnecting to %s; stop the backend first: %w", live, lastErr)
}

// runLocked runs cmd on a goroutine locked to its OS thread, so that thread
// (the parent dieWithParent's signal follows) lives as long as the child.
func runLocked(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Run()
}
