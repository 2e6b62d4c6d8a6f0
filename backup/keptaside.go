package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"casino"
	"casino/sqlstore"
)

// A restore never drops or deletes the database it replaces: it keeps it
// aside, so `casino restore --undo` can swap it back in seconds without
// reading the (possibly broken) database or any backup.
//
//   - PostgreSQL: the old database is renamed to
//     <db>_pre_restore_YYYYMMDD_HHMMSS (the database name cut to 31 bytes,
//     so the name with a _N counter stays within PostgreSQL's 63 bytes).
//   - SQLite: the old file is kept beside the database as
//     <file>.pre_restore_YYYYMMDD_HHMMSS.
//
// A second restore or undo in the same second appends _2, _3, and so on.

// keptTag joins the database name and the stamp of a kept-aside
// PostgreSQL database; sqliteKeptTag the file name and the stamp of a
// kept-aside SQLite file.
const (
	keptTag       = "_pre_restore_"
	sqliteKeptTag = ".pre_restore_"
)

// pgKeptPrefix and sqliteKeptPrefix are the names of kept-aside databases
// up to the stamp.
func pgKeptPrefix(dbname string) string   { return pgKeptBase(dbname) + keptTag }
func sqliteKeptPrefix(live string) string { return filepath.Base(live) + sqliteKeptTag }

// KeptAside is a database a restore or undo kept aside.
type KeptAside struct {
	// Name is the PostgreSQL database name or the SQLite file's base name.
	Name string `json:"name"`
	// Path is the SQLite file path ("" for PostgreSQL).
	Path      string    `json:"path,omitempty"`
	Engine    string    `json:"engine"`
	SizeBytes int64     `json:"size_bytes"`
	KeptAt    time.Time `json:"kept_at"`
	seq       int
}

// pgKeptBase is the database name part of its kept-aside names.
func pgKeptBase(dbname string) string {
	if len(dbname) > 31 {
		return dbname[:31]
	}
	return dbname
}

// keptRE matches exactly the kept-aside names of prefix: prefix + stamp +
// optional _N.
func keptRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `(\d{8}_\d{6})(?:_(\d+))?$`)
}

func parseKept(re *regexp.Regexp, name string) (time.Time, int, bool) {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, 0, false
	}
	at, err := time.Parse("20060102_150405", m[1])
	if err != nil {
		return time.Time{}, 0, false
	}
	seq := 1
	if m[2] != "" {
		seq, _ = strconv.Atoi(m[2])
	}
	return at, seq, true
}

// keptName is the n-th candidate kept-aside name (n counts from 1).
func keptName(prefix string, at time.Time, n int) string {
	if n <= 1 {
		return prefix + stamp(at)
	}
	return prefix + stamp(at) + "_" + strconv.Itoa(n)
}

// sortKept orders newest first: by stamp, then by counter.
func sortKept(k []KeptAside) {
	sort.Slice(k, func(i, j int) bool {
		if !k[i].KeptAt.Equal(k[j].KeptAt) {
			return k[i].KeptAt.After(k[j].KeptAt)
		}
		return k[i].seq > k[j].seq
	})
}

// ListKeptAside returns the databases kept aside for the target, newest
// first.
func ListKeptAside(ctx context.Context, t sqlstore.Target) ([]KeptAside, error) {
	if t.Dialect == sqlstore.SQLite {
		return listKeptSQLite(t.Path)
	}
	pg, err := newPGTarget(t.URL)
	if err != nil {
		return nil, err
	}
	admin, err := openPGAdmin(ctx, pg)
	if err != nil {
		return nil, err
	}
	defer admin.close()
	return admin.keptAside(ctx)
}

func listKeptSQLite(live string) ([]KeptAside, error) {
	re := keptRE(sqliteKeptPrefix(live))
	entries, err := os.ReadDir(filepath.Dir(live))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []KeptAside
	for _, e := range entries {
		at, seq, ok := parseKept(re, e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(filepath.Dir(live), e.Name())
		k := KeptAside{Name: e.Name(), Path: p, Engine: casino.EngineSQLite, KeptAt: at, seq: seq}
		if st, err := os.Stat(p); err == nil {
			k.SizeBytes = st.Size()
		}
		out = append(out, k)
	}
	sortKept(out)
	return out, nil
}

func (a *pgAdmin) keptAside(ctx context.Context) ([]KeptAside, error) {
	re := keptRE(pgKeptPrefix(a.pg.dbname))
	rows, err := a.db.QueryContext(ctx, `SELECT datname, pg_database_size(oid) FROM pg_database WHERE starts_with(datname, $1)`, pgKeptPrefix(a.pg.dbname))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KeptAside
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			return nil, err
		}
		at, seq, ok := parseKept(re, name)
		if !ok {
			continue
		}
		out = append(out, KeptAside{Name: name, Engine: casino.EnginePostgres, SizeBytes: size, KeptAt: at, seq: seq})
	}
	sortKept(out)
	return out, rows.Err()
}

// newKeptName returns a kept-aside name for now that no database has.
func (a *pgAdmin) newKeptName(ctx context.Context) (string, error) {
	prefix := pgKeptPrefix(a.pg.dbname)
	now := time.Now()
	for n := 1; n < 1000; n++ {
		name := keptName(prefix, now, n)
		ok, err := a.exists(ctx, name)
		if err != nil {
			return "", err
		}
		if !ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free kept-aside name for %s", a.pg.dbname)
}

// linkKept hard-links the live SQLite file to a new kept-aside name: the
// live name never goes missing, and link(2) never replaces an existing
// name. It returns the kept-aside path.
func linkKept(live string) (string, error) {
	dir := filepath.Dir(live)
	now := time.Now()
	for n := 1; n < 1000; n++ {
		p := filepath.Join(dir, keptName(sqliteKeptPrefix(live), now, n))
		err := os.Link(live, p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("keep the live database aside as %s: %w", p, err)
		}
	}
	return "", fmt.Errorf("no free kept-aside name beside %s", live)
}

// PruneKeptAsideOptions configures PruneKeptAside.
type PruneKeptAsideOptions struct {
	Target    sqlstore.Target
	OlderThan time.Duration
	// Yes removes; without it nothing is removed (a dry run).
	Yes bool
	Now time.Time
}

// PruneKeptAside returns the kept-aside databases older than OlderThan
// and, with Yes, removes them (PostgreSQL: DROP DATABASE; SQLite: the file
// and its -wal/-shm/-journal), holding the database's lock.
func PruneKeptAside(ctx context.Context, o PruneKeptAsideOptions) ([]KeptAside, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var lock *Lock
	if o.Yes {
		var err error
		if lock, err = AcquireLock(ctx, o.Target); err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	all, err := ListKeptAside(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	var old []KeptAside
	for _, k := range all {
		if o.Now.Sub(k.KeptAt) > o.OlderThan {
			old = append(old, k)
		}
	}
	if !o.Yes || len(old) == 0 {
		return old, nil
	}
	if o.Target.Dialect == sqlstore.SQLite {
		for _, k := range old {
			removeSQLiteFiles(k.Path)
		}
		return old, syncDir(filepath.Dir(o.Target.Path))
	}
	pg, err := newPGTarget(o.Target.URL)
	if err != nil {
		return nil, err
	}
	admin, err := openPGAdmin(ctx, pg)
	if err != nil {
		return nil, err
	}
	defer admin.close()
	for _, k := range old {
		if err := admin.drop(ctx, k.Name); err != nil {
			return old, fmt.Errorf("drop %s: %w", k.Name, err)
		}
	}
	return old, nil
}
