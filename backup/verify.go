package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"casino"
	"casino/sqlstore"
)

// VerifyOptions configures a verification.
type VerifyOptions struct {
	// Engine, when set, is the engine the backup must be for (a restore
	// passes its target's).
	Engine string
	// ForceUnverified accepts a backup without a manifest: there is then no
	// checksum to compare, only the decompression and structural checks.
	ForceUnverified bool
	// Deep restores a PostgreSQL backup into a scratch database (AdminURL's
	// server) and compares its row counts with the manifest.
	Deep     bool
	AdminURL string
	PGBinDir string
	// SQLiteOut, when set, keeps the decompressed, integrity-checked SQLite
	// copy at this path (a restore swaps it in); otherwise a scratch copy in
	// ScratchDir (default: the backup's folder) is removed.
	SQLiteOut  string
	ScratchDir string
	// Quick checks only the manifest, size, checksum and engine, without
	// decompressing (a PostgreSQL restore decompresses while it restores).
	Quick    bool
	Progress *Progress
	// Jobs is the number of connections a deep verify loads with (0: the
	// number of CPUs).
	Jobs int
}

// VerifyResult is what verification established.
type VerifyResult struct {
	Path     string
	Engine   string
	Manifest *casino.BackupManifest // nil when unverified
	// RowCounts found in the file: COPY rows of a dump, or a SQLite copy's.
	RowCounts map[string]int64
	Checks    []string
}

func (r *VerifyResult) pass(format string, args ...any) {
	r.Checks = append(r.Checks, fmt.Sprintf(format, args...))
}

// invalid is a verification failure: the file is refused.
func invalid(path, format string, args ...any) error {
	return errorf(casino.EINVALID, "%s: %s", filepath.Base(path), fmt.Sprintf(format, args...))
}

// Verify checks a backup file without touching any database: the manifest
// (unless ForceUnverified and it is missing), the engine, the size, the
// sha256, that the schema is not newer than this binary, then decompresses
// the whole file and runs the structural check (SQLite: integrity_check and
// row counts of a scratch copy; PostgreSQL: completion trailer and COPY row
// counts; with Deep, a scratch restore).
func Verify(ctx context.Context, path string, o VerifyOptions) (*VerifyResult, error) {
	r := &VerifyResult{Path: path}
	st, err := os.Stat(path)
	if err != nil {
		return nil, errorf(casino.ENOTFOUND, "no backup file %s", path)
	}
	if !st.Mode().IsRegular() {
		return nil, invalid(path, "not a regular file")
	}
	if st.Size() == 0 {
		return nil, invalid(path, "the file is empty (0 bytes): an interrupted or failed backup")
	}
	name := filepath.Base(path)
	r.Engine = EngineOfName(name)
	m, err := ReadManifest(path)
	switch {
	case err == nil:
		r.Manifest = m
	case casino.ErrorCode(err) == casino.ENOTFOUND && o.ForceUnverified:
		r.pass("no manifest: --force-unverified, so no checksum, row count or schema check")
	default:
		return nil, err
	}
	if m != nil {
		if m.File != "" && m.File != name {
			return nil, invalid(path, "the manifest describes %s, not this file", m.File)
		}
		if r.Engine != "" && m.Engine != r.Engine {
			return nil, invalid(path, "the manifest is for a %s backup but the file is named as a %s backup: mismatched manifest", m.Engine, r.Engine)
		}
		r.Engine = m.Engine
	}
	if r.Engine == "" {
		return nil, invalid(path, "cannot tell the engine from the name: want .sql.gz, .sql.zst, .sqlite.gz or .sqlite.zst")
	}
	if o.Engine != "" && r.Engine != o.Engine {
		return nil, invalid(path, "this is a %s backup; the target database is %s: refusing to restore across engines", r.Engine, o.Engine)
	}
	if m != nil {
		if st.Size() != m.SizeBytes {
			what := "the wrong size"
			if st.Size() < m.SizeBytes {
				what = "truncated"
			}
			return nil, invalid(path, "the file is %s: %d bytes, the manifest says %d", what, st.Size(), m.SizeBytes)
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return nil, err
		}
		if sum != m.SHA256 {
			return nil, invalid(path, "checksum mismatch: sha256 %s, the manifest says %s (corrupt file or wrong manifest)", sum, m.SHA256)
		}
		r.pass("size %d bytes and sha256 match the manifest", st.Size())
		latest := sqlstore.LatestVersion(sqlstore.Dialect(m.Engine))
		if m.SchemaVersion > latest {
			return nil, invalid(path, "the backup's schema version %d is newer than this binary knows (%d): restore it with a casino build that knows schema %d", m.SchemaVersion, latest, m.SchemaVersion)
		}
		r.pass("schema version %d (this binary knows %d)", m.SchemaVersion, latest)
	}
	if o.Quick {
		return r, nil
	}
	var want map[string]int64
	if m != nil {
		want = m.RowCounts
	}
	switch r.Engine {
	case casino.EngineSQLite:
		out := o.SQLiteOut
		if out == "" {
			dir := o.ScratchDir
			if dir == "" {
				dir = filepath.Dir(path)
			}
			out = tempName(dir, "verify-"+name)
			defer removeSQLiteFiles(out)
		}
		counts, err := decompressSQLite(ctx, path, out, o.Progress)
		if err != nil {
			return nil, invalid(path, "%v", err)
		}
		r.RowCounts = counts
		r.pass("decompressed; PRAGMA integrity_check: ok")
		version := 0
		if m != nil {
			version = m.SchemaVersion
		}
		if version, err = checkSQLiteSchema(ctx, out, filepath.Dir(out), version); err != nil {
			return nil, invalid(path, "%v", err)
		}
		r.pass("schema (sqlite_master) is exactly casino's at version %d", version)
		if want != nil {
			if err := compareCounts(want, counts); err != nil {
				return nil, invalid(path, "%v", err)
			}
			r.pass("row counts match the manifest")
		}
	default:
		scan := newDumpScanner()
		if err := decompressTo(path, scan, o.Progress); err != nil {
			return nil, invalid(path, "decompression failed: %v (corrupt or truncated file)", err)
		}
		if !scan.complete() {
			return nil, invalid(path, "the SQL dump is incomplete: pg_dump's completion trailer is missing")
		}
		r.RowCounts = scan.counts
		r.pass("decompressed; pg_dump completion trailer present")
		if want != nil {
			if err := scan.check(want); err != nil {
				return nil, invalid(path, "%v", err)
			}
			r.pass("COPY row counts match the manifest")
		}
		if o.Deep {
			if err := deepVerifyPostgres(ctx, path, o, r, want); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// MarkVerified records the verification time in the manifest.
func MarkVerified(path string, m *casino.BackupManifest, at time.Time) error {
	at = at.UTC()
	m.LastVerifiedAt = &at
	return WriteManifest(path, m)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, bufio.NewReaderSize(f, 1<<20)); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// openDecompressed opens a backup file for reading its decompressed bytes.
func openDecompressed(path string, p *Progress) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, _ := f.Stat()
	p.Start("read "+filepath.Base(path), st.Size())
	zr, err := decompressor(&countingReader{r: bufio.NewReaderSize(f, 1<<20), p: p}, CompressionOfName(path))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("not a valid %s file: %v", CompressionOfName(path), err)
	}
	return &readCloser{Reader: zr, close: func() error { zr.Close(); p.Done(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// decompressTo decompresses the whole file into w.
func decompressTo(path string, w io.Writer, p *Progress) error {
	r, err := openDecompressed(path, p)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}

// decompressSQLite writes the decompressed database to out (0600, fsynced),
// runs PRAGMA integrity_check on it, and returns its row counts.
func decompressSQLite(ctx context.Context, path, out string, p *Progress) (map[string]int64, error) {
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	err = decompressTo(path, f, p)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("decompression failed: %v (corrupt or truncated file)", err)
	}
	head := make([]byte, 16)
	if g, err := os.Open(out); err == nil {
		io.ReadFull(g, head)
		g.Close()
	}
	if !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return nil, errors.New("the decompressed file is not a SQLite database")
	}
	return checkSQLiteFile(ctx, out)
}

// checkSQLiteFile runs integrity_check on a SQLite file and counts its rows.
func checkSQLiteFile(ctx context.Context, path string) (map[string]int64, error) {
	db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("integrity_check: %v", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	rows.Close()
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = problems[:3]
		}
		return nil, fmt.Errorf("integrity_check failed: %s", strings.Join(problems, "; "))
	}
	counts := map[string]int64{}
	for _, t := range sqlstore.Tables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count rows of %s: %v", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}

// removeSQLiteFiles removes a SQLite file and its side files.
func removeSQLiteFiles(path string) {
	for _, s := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + s)
	}
}

// compareCounts returns an error naming every table whose count differs.
func compareCounts(want, got map[string]int64) error {
	var diffs []string
	for t, n := range want {
		if got[t] != n {
			diffs = append(diffs, fmt.Sprintf("%s has %d rows, the manifest says %d", t, got[t], n))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Errorf("row counts differ from the manifest: %s", strings.Join(diffs, "; "))
	}
	return nil
}

// deepVerifyPostgres restores the dump into a scratch database on the
// server of o.AdminURL, compares row counts, and drops it.
func deepVerifyPostgres(ctx context.Context, path string, o VerifyOptions, r *VerifyResult, want map[string]int64) error {
	if o.AdminURL == "" {
		return errorf(casino.EINVALID, "--deep needs a PostgreSQL DATABASE_URL: the scratch database is created on that server")
	}
	pg, err := newPGTarget(o.AdminURL)
	if err != nil {
		return err
	}
	admin, err := openPGAdmin(ctx, pg)
	if err != nil {
		return err
	}
	defer admin.close()
	scratch := pgSideName(pg.dbname, pgVerifyTag)
	if err := admin.create(ctx, scratch); err != nil {
		return err
	}
	defer admin.drop(context.Background(), scratch)
	counts, err := loadPostgresDump(ctx, path, withDatabase(o.AdminURL, scratch), pgLoadOptions{BinDir: o.PGBinDir, Manifest: r.Manifest, Jobs: o.Jobs, Progress: o.Progress})
	if err != nil {
		return invalid(path, "scratch restore failed: %v", err)
	}
	if want != nil {
		if err := compareCounts(want, counts); err != nil {
			return invalid(path, "after a scratch restore: %v", err)
		}
	}
	r.pass("deep: restored into a scratch database; row counts match")
	return nil
}
