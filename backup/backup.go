// Package backup creates, verifies, lists, prunes and restores backups of the
// casino database, for both engines:
//
//   - PostgreSQL: pg_dump plain SQL, taken inside an exported snapshot whose
//     instant is the manifest's snapshot_at, compressed in parallel (pgzip) so
//     the output stays a plain .sql.gz that `gunzip -c F | psql` restores.
//   - SQLite: the online backup API run inside one read transaction, so the
//     copy, its row counts and snapshot_at describe the same instant while
//     writers keep going.
//
// Every file is written under a temporary name, fsynced, and linked into
// place (link fails rather than clobbering an existing name), then the
// folder is fsynced: a crash never leaves a file that looks complete.
//
// A restore verifies first, takes a pre_restore_ safety backup (a failure to
// dump a damaged database does not stop it), restores into a separate target
// (a new file, or a scratch database), checks it against the manifest,
// migrates it up, carries the live database's state into it (switches,
// revocations, later password changes and audit events), and only then
// swaps it in with one atomic step (link(2) + rename(2), or two ALTER
// DATABASE RENAMEs in one transaction), keeping the replaced database aside
// for Undo. See
// docs/ops/backup_restore.md.
package backup

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"casino"
	"casino/sqlstore"
)

// FormatVersion is the manifest format this build writes and reads.
const FormatVersion = 1

// Kinds of backup recorded in the manifest.
const (
	KindManual     = "manual"
	KindScheduled  = "scheduled"
	KindPreRestore = "pre_restore"
)

// Compression names.
const (
	Gzip = "gzip"
	Zstd = "zstd"
	// None writes the plain file (.sql, .sqlite): fastest, largest.
	None = "none"
)

// Name prefixes. The checklist names casino_db_YYYYMMDD_HHMMSS.sql.gz.
const (
	PrefixBackup     = "casino_db_"
	PrefixPreRestore = "pre_restore_casino_db_"
)

// DefaultDir is the backup folder, relative to the working directory, as the
// checklist's backups/casino_db_... paths expect.
const DefaultDir = "backups"

// Sentinel errors, matched with errors.Is.
var (
	// ErrLocked: another backup or restore runs against the same database.
	// AcquireLock's error matches it and is also a *casino.Error (ECONFLICT)
	// whose message names the database and says to wait.
	ErrLocked = errors.New("another backup or restore is running against this database")
	// ErrNotConfirmed: a restore without --yes only prints its plan.
	ErrNotConfirmed = errors.New("restore not confirmed: re-run with --yes to carry out the plan above")
)

// extension returns the file suffix for an engine and compression.
func extension(engine, compression string) string {
	base := ".sql"
	if engine == casino.EngineSQLite {
		base = ".sqlite"
	}
	switch compression {
	case Zstd:
		return base + ".zst"
	case None:
		return base
	}
	return base + ".gz"
}

// EngineOfName guesses the engine from a backup file name: "" when unknown.
func EngineOfName(name string) string {
	name = strings.TrimSuffix(name, AgeSuffix)
	switch {
	case strings.HasSuffix(name, ".sql.gz"), strings.HasSuffix(name, ".sql.zst"), strings.HasSuffix(name, ".sql"):
		return casino.EnginePostgres
	case strings.HasSuffix(name, ".sqlite.gz"), strings.HasSuffix(name, ".sqlite.zst"), strings.HasSuffix(name, ".sqlite"):
		return casino.EngineSQLite
	}
	return ""
}

// CompressionOfName returns gzip, zstd or none from a file name.
func CompressionOfName(name string) string {
	name = strings.TrimSuffix(name, AgeSuffix)
	switch {
	case strings.HasSuffix(name, ".gz"):
		return Gzip
	case strings.HasSuffix(name, ".zst"):
		return Zstd
	}
	return None
}

// IsBackupName reports whether name is a backup file written by casino.
func IsBackupName(name string) bool {
	return (strings.HasPrefix(name, PrefixBackup) || strings.HasPrefix(name, PrefixPreRestore)) && EngineOfName(name) != ""
}

// engineOf maps a dialect to the manifest's engine name.
func engineOf(d sqlstore.Dialect) string {
	if d == sqlstore.Postgres {
		return casino.EnginePostgres
	}
	return casino.EngineSQLite
}

// syncDir fsyncs a folder so a rename or link in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// tempName is a hidden temporary name beside final, carrying the pid so a
// later run can tell a dead writer's leftovers from a live writer's file.
func tempName(dir, final string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return filepath.Join(dir, "."+final+".tmp-"+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(b))
}

// createTemp creates a new 0600 temporary file in dir for the final name.
func createTemp(dir, final string) (*os.File, error) {
	return os.OpenFile(tempName(dir, final), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

// publish links the fsynced temporary file tmp to dir/name without ever
// replacing an existing file, removes tmp, and fsyncs dir.
func publish(tmp, dir, name string) error {
	if err := os.Link(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	os.Remove(tmp)
	return syncDir(dir)
}

// diskError names the path of a failed write, and says "no space left on
// device" in words when that is why.
func diskError(path string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return errorf(casino.EUNAVAILABLE, "no space left on device writing %s: free space there (or choose another folder) and run again", path)
	}
	return fmt.Errorf("write %s: %w", path, err)
}

// baseName is filepath.Base.
func baseName(path string) string { return filepath.Base(path) }

// hashCounter hashes and counts what is written to it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func newHashCounter() *hashCounter { return &hashCounter{h: sha256.New()} }

func (c *hashCounter) Write(b []byte) (int, error) {
	c.h.Write(b)
	c.n += int64(len(b))
	return len(b), nil
}

func (c *hashCounter) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// stamp is the UTC name stamp of t: YYYYMMDD_HHMMSS.
func stamp(t time.Time) string { return t.UTC().Format("20060102_150405") }

// candidateName is the n-th name for a backup at t: n=0 is the plain name,
// later ones append _2, _3 so two backups in one second never collide.
func candidateName(prefix string, t time.Time, n int, ext string) string {
	if n == 0 {
		return prefix + stamp(t) + ext
	}
	return fmt.Sprintf("%s%s_%d%s", prefix, stamp(t), n+1, ext)
}

// countingWriter counts bytes and reports them to a progress.
type countingWriter struct {
	w io.Writer
	n int64
	p *Progress
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.p.Add(int64(n))
	return n, err
}

// countingReader counts bytes read and reports them to a progress.
type countingReader struct {
	r io.Reader
	n int64
	p *Progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.p.Add(int64(n))
	return n, err
}

// errorf returns a *casino.Error whose message is the whole story, safe to
// print; a %w operand (ErrStoredDigest, a disk error) stays matchable by
// errors.Is.
func errorf(code, format string, args ...any) error { return casino.Errorf(code, format, args...) }
