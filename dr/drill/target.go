package drill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"casino"
	"casino/sqlstore"
)

// ErrTargetIsProduction: the drill's target is the production database.
var ErrTargetIsProduction = errors.New("the drill target is the production database")

// scratch is the isolated target a drill restores into, per engine: a new
// PostgreSQL database, or a SQLite file in a folder of its own.
type scratch interface {
	// Name is what the drills row records: a database name or a path.
	Name() string
	// URL is the restore target.
	URL() string
	// ProveNotProduction returns the recorded evidence that the target is
	// not production, or an error wrapping ErrTargetIsProduction (or
	// another refusal: a target that already exists).
	ProveNotProduction(ctx context.Context) (string, error)
	// Create makes what the restore needs to exist first (the SQLite
	// folder); called after the drills row names the target.
	Create() error
	// Teardown removes the target and everything its restore left beside
	// it, and returns the evidence that it is gone.
	Teardown(ctx context.Context) (string, error)
}

// drillTag is in every scratch name a drill makes: <db>__drill_<id>
// (PostgreSQL) or casino-drill-<hash>-<id> (a SQLite folder).
const drillTag = "__drill_"

// pgScratchName is <db>__drill_<id>, id being the first 12 hex digits of
// the drill's random id (its proof is drill-<date>-<id>.md): two drills
// started in the same second, which a timestamp named alike, get two
// databases. It is at most 36 bytes: the restore names its own scratch
// after the first 36 bytes of its target ("__rs_<ts>_<pid>" appended), so
// within 36 bytes every drill's restore scratch names its drill, and a live
// drill's is never taken for another's leftover.
func pgScratchName(prodDB, id string) string {
	return pgLeftoverPrefix(prodDB) + id
}

// pgLeftoverPrefix is the prefix of every scratch database a drill of
// prodDB makes.
func pgLeftoverPrefix(prodDB string) string {
	base := prodDB
	if len(base) > 16 {
		base = base[:16]
	}
	return base + drillTag
}

// pgScratch is a new database on a PostgreSQL server.
type pgScratch struct {
	prod, target sqlstore.Target
	dbname       string
}

func (s *pgScratch) Name() string  { return s.dbname }
func (s *pgScratch) Create() error { return nil } // the restore creates the database
func (s *pgScratch) URL() string   { return s.target.URL }

// pgParts is a PostgreSQL URL's server and database, normalised for
// comparison: host lower-cased, localhost and loopback addresses taken
// as one, the default port made explicit.
func pgParts(raw string) (server, db string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", errors.New("does not parse")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = "5432"
	}
	if host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback() {
		host = "loopback"
	}
	if h := u.Query().Get("host"); h != "" {
		host = h // a socket folder
	}
	return host + ":" + port, strings.Trim(u.Path, "/"), nil
}

// withDatabase returns raw with its database replaced by db.
func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

func pgDBName(raw string) string {
	_, db, _ := pgParts(raw)
	return db
}

// adminURL is the maintenance database of the server raw names.
func adminURL(raw string) string { return withDatabase(raw, "postgres") }

func (s *pgScratch) ProveNotProduction(ctx context.Context) (string, error) {
	ps, pdb, err := pgParts(s.prod.URL)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL %s", err)
	}
	ts, tdb, err := pgParts(s.target.URL)
	if err != nil {
		return "", fmt.Errorf("target %s", err)
	}
	if ps == ts && pdb == tdb {
		return "", fmt.Errorf("%w: the target %s is DATABASE_URL (%s)", ErrTargetIsProduction, s.target.Identity(), s.prod.Identity())
	}
	pid, err := systemIdentifier(ctx, s.prod.URL)
	if err != nil {
		return "", fmt.Errorf("read the production server's system_identifier: %w", err)
	}
	tid, err := systemIdentifier(ctx, adminURL(s.target.URL))
	if err != nil {
		return "", fmt.Errorf("read the target server's system_identifier: %w", err)
	}
	if pid == tid && pdb == tdb {
		return "", fmt.Errorf("%w: the target server is production's (system_identifier %s) and the database is production's (%s) under another address", ErrTargetIsProduction, pid, pdb)
	}
	exists, err := pgExists(ctx, s.target.URL, tdb)
	if err != nil {
		return "", err
	}
	if exists {
		return "", fmt.Errorf("the target database %s already exists: a drill restores only into a database it creates (drop it, or name another with --target)", tdb)
	}
	where := "another server"
	if pid == tid {
		where = "the same server"
	}
	return fmt.Sprintf("target %s (database %q, system_identifier %s) is not DATABASE_URL %s (database %q, system_identifier %s): %s, another database, which does not exist yet",
		s.target.Identity(), tdb, tid, s.prod.Identity(), pdb, pid, where), nil
}

func systemIdentifier(ctx context.Context, raw string) (string, error) {
	db, err := sqlstore.Open(ctx, raw)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var id string
	if err := db.QueryRowContext(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&id); err != nil {
		return "", fmt.Errorf("pg_control_system(): %w", err)
	}
	return id, nil
}

func pgExists(ctx context.Context, raw, name string) (bool, error) {
	db, err := sqlstore.Open(ctx, adminURL(raw))
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = ?`, name).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// pgDatabases lists the databases of raw's server whose name starts with
// prefix.
func pgDatabases(ctx context.Context, raw, prefix string) ([]string, error) {
	db, err := sqlstore.Open(ctx, adminURL(raw))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT datname FROM pg_database WHERE left(datname, ?) = ? ORDER BY datname`, len(prefix), prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// pgDrop drops the named databases of raw's server, ending their sessions.
func pgDrop(ctx context.Context, raw string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	db, err := sqlstore.Open(ctx, adminURL(raw))
	if err != nil {
		return err
	}
	defer db.Close()
	var errs []error
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+quoteIdent(n)+` WITH (FORCE)`); err != nil {
			errs = append(errs, fmt.Errorf("drop %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sideNames are the databases a restore into dbname may leave: dbname
// itself and its restore's scratch (<first 36 bytes>__rs_*).
func sideNames(ctx context.Context, raw, dbname string) ([]string, error) {
	base := dbname
	if len(base) > 36 {
		base = base[:36]
	}
	side, err := pgDatabases(ctx, raw, base+"__rs_")
	if err != nil {
		return nil, err
	}
	if ok, err := pgExists(ctx, raw, dbname); err != nil {
		return nil, err
	} else if ok {
		side = append(side, dbname)
	}
	return side, nil
}

func (s *pgScratch) Teardown(ctx context.Context) (string, error) {
	// Never production, whatever led here.
	ps, pdb, _ := pgParts(s.prod.URL)
	ts, _, _ := pgParts(s.target.URL)
	if s.dbname == "" || (ps == ts && pdb == s.dbname) {
		return "", fmt.Errorf("%w: refusing to drop %s", ErrTargetIsProduction, s.dbname)
	}
	names, err := sideNames(ctx, s.target.URL, s.dbname)
	if err != nil {
		return "", err
	}
	if err := pgDrop(ctx, s.target.URL, names); err != nil {
		return "", err
	}
	left, err := sideNames(ctx, s.target.URL, s.dbname)
	if err != nil {
		return "", err
	}
	if len(left) > 0 {
		return "", fmt.Errorf("after DROP DATABASE, pg_database still lists %s", strings.Join(left, ", "))
	}
	dropped := "nothing (it was never created)"
	if len(names) > 0 {
		dropped = strings.Join(names, ", ")
	}
	return fmt.Sprintf("dropped %s; pg_database on %s now lists no database named %s or %s__rs_*", dropped, s.target.Identity(), s.dbname, s.dbname), nil
}

// sqliteScratchPrefix names the scratch folders of drills of the SQLite
// database at prodPath: casino-drill-<hash of its path>-.
func sqliteScratchPrefix(prodPath string) string {
	abs, err := filepath.Abs(prodPath)
	if err != nil {
		abs = prodPath
	}
	sum := sha256.Sum256([]byte(abs))
	return "casino-drill-" + hex.EncodeToString(sum[:6]) + "-"
}

// sqliteScratch is a SQLite file in a folder of its own, which teardown
// removes whole (with the file's -wal, -shm and the restore's side files).
type sqliteScratch struct {
	prod   sqlstore.Target
	dir    string // "" with an explicit --target
	target sqlstore.Target
}

func (s *sqliteScratch) Name() string {
	if s.dir != "" {
		return s.dir
	}
	return s.target.Path
}
func (s *sqliteScratch) URL() string { return s.target.URL }

func (s *sqliteScratch) Create() error {
	if s.dir == "" {
		return nil
	}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		return fmt.Errorf("scratch folder: %w", err)
	}
	return nil
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func absClean(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(d, filepath.Base(abs))
	}
	return abs
}

func (s *sqliteScratch) ProveNotProduction(ctx context.Context) (string, error) {
	p, t := absClean(s.prod.Path), absClean(s.target.Path)
	if p == t || sameFile(s.prod.Path, s.target.Path) {
		return "", fmt.Errorf("%w: the target file %s is DATABASE_URL's", ErrTargetIsProduction, t)
	}
	if _, err := os.Lstat(s.target.Path); err == nil {
		return "", fmt.Errorf("the target file %s already exists: a drill restores only into a file it creates", t)
	}
	return fmt.Sprintf("target file %s is not DATABASE_URL's %s (another path, not the same file) and does not exist yet", t, p), nil
}

func (s *sqliteScratch) Teardown(ctx context.Context) (string, error) {
	// Never production, whatever led here.
	if absClean(s.prod.Path) == absClean(s.target.Path) || sameFile(s.prod.Path, s.target.Path) {
		return "", fmt.Errorf("%w: refusing to remove %s", ErrTargetIsProduction, s.target.Path)
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			return "", err
		}
		if _, err := os.Lstat(s.dir); !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("scratch folder %s still exists after removal", s.dir)
		}
		return fmt.Sprintf("removed the scratch folder %s with the restored file; lstat now answers: does not exist", s.dir), nil
	}
	var gone []string
	files, _ := filepath.Glob(s.target.Path + ".restore-*")
	files = append(files, s.target.Path, s.target.Path+"-wal", s.target.Path+"-shm", s.target.Path+"-journal", s.target.Path+".casino-lock")
	for _, f := range files {
		if err := os.Remove(f); err == nil {
			gone = append(gone, filepath.Base(f))
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	if _, err := os.Lstat(s.target.Path); !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("target file %s still exists after removal", s.target.Path)
	}
	return fmt.Sprintf("removed %s; lstat %s now answers: does not exist", strings.Join(gone, ", "), s.target.Path), nil
}

// newScratch plans the drill's target: targetURL when given, else a new
// database <db>__drill_<id> on production's server (PostgreSQL) or a file
// in a new folder under scratchRoot (SQLite), id being 12 hex digits of the
// drill's id.
func newScratch(prod sqlstore.Target, targetURL, scratchRoot, id string) (scratch, error) {
	if targetURL != "" {
		t, err := sqlstore.ParseURL(targetURL)
		if err != nil {
			return nil, casino.Errorf(casino.EINVALID, "--target: %s", sqlstore.Redact(err.Error()))
		}
		if t.Dialect != prod.Dialect {
			return nil, casino.Errorf(casino.EINVALID, "--target is %s but DATABASE_URL is %s: a drill restores a backup of the production engine", t.Dialect, prod.Dialect)
		}
		if t.Dialect == sqlstore.Postgres {
			return &pgScratch{prod: prod, target: t, dbname: pgDBName(t.URL)}, nil
		}
		return &sqliteScratch{prod: prod, target: t}, nil
	}
	if prod.Dialect == sqlstore.Postgres {
		name := pgScratchName(pgDBName(prod.URL), id)
		t, err := sqlstore.ParseURL(withDatabase(prod.URL, name))
		if err != nil {
			return nil, err
		}
		return &pgScratch{prod: prod, target: t, dbname: name}, nil
	}
	if scratchRoot == "" {
		scratchRoot = os.TempDir()
	}
	if err := os.MkdirAll(scratchRoot, 0o700); err != nil {
		return nil, err
	}
	dir := filepath.Join(scratchRoot, sqliteScratchPrefix(prod.Path)+id)
	p := filepath.Join(dir, "casino.db")
	return &sqliteScratch{prod: prod, dir: dir, target: sqlstore.Target{Dialect: sqlstore.SQLite, Path: p, URL: "sqlite:" + p}}, nil
}
