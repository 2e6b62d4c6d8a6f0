package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	sqlite "modernc.org/sqlite"

	"casino"
	"casino/sqlstore"
)

// CreateOptions configures one backup.
type CreateOptions struct {
	// Target is the database to back up.
	Target sqlstore.Target
	// Dir is the backup folder (created 0700 when missing).
	Dir string
	// Compression is gzip (default), zstd or none.
	Compression string
	// Level is the gzip level, 0 for the default.
	Level int
	// Kind is KindManual (default), KindScheduled or KindPreRestore; a
	// pre-restore backup is named pre_restore_casino_db_....
	Kind string
	// PGBinDir, when set, is the only folder pg_dump is taken from.
	PGBinDir string
	// Progress reports bytes written; may be nil.
	Progress *Progress
	// NoLock skips the lock: the caller (a restore) already holds it.
	NoLock bool
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
	// Pause is called at "backup_written" (data fsynced under its temporary
	// name, not yet published); tests kill the process there.
	Pause func(point string)
	// Keys sign the manifest (Keys.Signer is required) and, when they name
	// recipients, encrypt the file with age.
	Keys *Keys
	// SnapshotAt, when set, is the instant the data describes, recorded as
	// the manifest's snapshot_at instead of the time the snapshot was taken:
	// a dump of a point-in-time recovery describes its recovery point.
	SnapshotAt time.Time
}

// CreateResult is a finished backup.
type CreateResult struct {
	Path     string
	Manifest *casino.BackupManifest
}

// nameParts is a new backup file's prefix (by its kind) and extension (by
// engine, compression and encryption): NAME is prefix + stamp + ext.
func (o CreateOptions) nameParts(engine string, encrypt bool) (prefix, ext string) {
	prefix = PrefixBackup
	if o.Kind == KindPreRestore {
		prefix = PrefixPreRestore
	}
	ext = extension(engine, o.Compression)
	if encrypt {
		ext += AgeSuffix
	}
	return prefix, ext
}

// Create takes a consistent snapshot of the live database while it serves
// traffic and writes it, with its manifest, into the backup folder.
func Create(ctx context.Context, o CreateOptions) (*CreateResult, error) {
	if o.Compression == "" {
		o.Compression = Gzip
	}
	if o.Compression != Gzip && o.Compression != Zstd && o.Compression != None {
		return nil, errorf(casino.EINVALID, "unknown compression %q: want gzip, zstd or none", o.Compression)
	}
	if o.Kind == "" {
		o.Kind = KindManual
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Keys == nil || o.Keys.Signer == nil {
		return nil, errorf(casino.EINVALID, "%s", ErrNoSigningKey.Error())
	}
	encrypt := o.Keys.Encrypts()
	if !o.NoLock {
		lock, err := AcquireLock(ctx, o.Target)
		if err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create backup folder: %w", err)
	}
	// Temporary files of a killed backup (their writer is dead) go first.
	removeDeadTemps(o.Dir)
	start := o.Now()
	engine := engineOf(o.Target.Dialect)
	prefix, ext := o.nameParts(engine, encrypt)

	f, err := createTemp(o.Dir, prefix+stamp(start)+ext)
	if err != nil {
		return nil, fmt.Errorf("create backup file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// An uncompressed SQLite backup is the backup API's copy itself: no
	// second pass over the data but the checksum. Everything else goes
	// through the pipeline that --remote-only streams too (produceBackup).
	full := filepath.Join(o.Dir, prefix+stamp(start)+ext)
	var m *casino.BackupManifest
	if o.Target.Dialect == sqlstore.SQLite && o.Compression == None && !encrypt {
		m, err = snapshotDirect(ctx, o, engine, f, tmp)
	} else {
		m, err = produceBackup(ctx, o, engine, "backup "+engine, encrypt, start, f)
	}
	if err != nil {
		return nil, diskIfFull(full, err)
	}
	if err := f.Sync(); err != nil {
		return nil, diskError(full, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if o.Pause != nil {
		o.Pause("backup_written")
	}
	m.CreatedAt = o.Now().UTC()
	m.DurationMS = float64(time.Since(start).Microseconds()) / 1000

	// Publish: link the data file to the first free name, then its manifest.
	// link(2) never replaces an existing file, so two backups in the same
	// second take _2, _3 ... instead of clobbering each other.
	for n := 0; n < 1000; n++ {
		name := candidateName(prefix, start, n, ext)
		if _, err := os.Lstat(casino.ManifestPath(filepath.Join(o.Dir, name))); err == nil {
			continue
		}
		if _, err := os.Lstat(casino.SignaturePath(filepath.Join(o.Dir, name))); err == nil {
			continue
		}
		if err := os.Link(tmp, filepath.Join(o.Dir, name)); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("publish backup: %w", err)
		}
		path := filepath.Join(o.Dir, name)
		m.File = name
		mb, sig := signManifest(m, o.Keys.Signer)
		if err := writeSigned(path, mb, sig, false); err != nil {
			os.Remove(casino.SignaturePath(path))
			os.Remove(path)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return nil, fmt.Errorf("write manifest: %w", err)
		}
		os.Remove(tmp)
		ok = true
		return &CreateResult{Path: path, Manifest: m}, syncDir(o.Dir)
	}
	return nil, fmt.Errorf("no free backup name for %s", stamp(start))
}

// snapshotDirect writes an uncompressed, unencrypted SQLite backup: SQLite's
// backup API copies the database into tmp (through its own descriptor), and
// f, still at offset 0, is read once for the checksum.
func snapshotDirect(ctx context.Context, o CreateOptions, engine string, f *os.File, tmp string) (*casino.BackupManifest, error) {
	m := newManifest(o, engine)
	o.Progress.Start("backup "+engine, 0)
	if err := snapshotSQLite(ctx, o, m, tmp); err != nil {
		return nil, err
	}
	hc := newHashCounter()
	if _, err := io.Copy(&countingWriter{w: hc, p: o.Progress}, f); err != nil {
		return nil, fmt.Errorf("checksum the copy: %w", err)
	}
	o.Progress.Done()
	m.SizeBytes, m.SHA256, m.UncompressedBytes = hc.n, hc.sum(), hc.n
	return m, nil
}

// createPostgres dumps the database with pg_dump inside an exported
// snapshot, checks the dump against the snapshot's row counts, and fills
// the manifest.
func createPostgres(ctx context.Context, o CreateOptions, m *casino.BackupManifest, w io.Writer) error {
	snap, err := openPGSnapshot(ctx, o.Target.URL)
	if err != nil {
		return err
	}
	defer snap.close()
	bin, err := findPGTool("pg_dump", o.PGBinDir, snap.serverMajr)
	if err != nil {
		return err
	}
	scan := newDumpScanner()
	if err := runPGDump(ctx, bin, o.Target.URL, snap.id, io.MultiWriter(w, scan)); err != nil {
		return err
	}
	if err := scan.check(snap.counts); err != nil {
		return fmt.Errorf("refusing the backup: %w", err)
	}
	m.SnapshotAt = snap.at
	if !o.SnapshotAt.IsZero() {
		m.SnapshotAt = o.SnapshotAt.UTC()
	}
	m.RowCounts = snap.counts
	m.SchemaVersion = snap.schema
	return nil
}

// sqliteBackuper is the modernc.org/sqlite driver connection's backup API.
type sqliteBackuper interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
}

// createSQLite snapshots the database into a temporary copy and compresses
// it into w.
func createSQLite(ctx context.Context, o CreateOptions, m *casino.BackupManifest, w io.Writer) error {
	copyTmp := tempName(o.Dir, "sqlite-copy")
	defer removeSQLiteFiles(copyTmp)
	if err := snapshotSQLite(ctx, o, m, copyTmp); err != nil {
		return err
	}
	src, err := os.Open(copyTmp)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("compress copy: %w", err)
	}
	return nil
}

// snapshotSQLite copies the database into copyTmp with the online backup API
// inside one read transaction (so the copy, its row counts and snapshot_at
// describe the same WAL snapshot while writers continue).
func snapshotSQLite(ctx context.Context, o CreateOptions, m *casino.BackupManifest, copyTmp string) error {
	if _, err := os.Stat(o.Target.Path); err != nil {
		return errorf(casino.ENOTFOUND, "no SQLite database at %s", o.Target.Path)
	}
	db, err := sqlstore.Open(ctx, "sqlite:"+o.Target.Path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A deferred BEGIN; the first SELECT fixes the read snapshot. It is a
	// trivial one, so snapshot_at, read right after it, is within
	// microseconds of the snapshot: every commit that finished before is in,
	// none that started after.
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version < 0").Scan(&one); err != nil {
		return errorf(casino.EINVALID, "read %s: %v (is this a casino database? run casino migrate up)", o.Target.Path, err)
	}
	m.SnapshotAt = time.Now().UTC()
	if !o.SnapshotAt.IsZero() {
		m.SnapshotAt = o.SnapshotAt.UTC()
	}
	counts := map[string]int64{}
	for _, t := range sqlstore.Tables {
		var n int64
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return errorf(casino.EINVALID, "count rows of %s: %v (is this a casino database? run casino migrate up)", t, err)
		}
		counts[t] = n
	}
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&m.SchemaVersion); err != nil {
		return err
	}
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(sqliteBackuper)
		if !ok {
			return fmt.Errorf("sqlite driver has no backup API")
		}
		// The copy is fsynced once at the end (or is a temporary file): no
		// journal or syncs while the pages go in.
		bk, err := b.NewBackup("file:" + copyTmp + "?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
		if err != nil {
			return fmt.Errorf("start backup: %w", err)
		}
		for {
			more, err := bk.Step(1024)
			if err != nil {
				bk.Finish()
				return fmt.Errorf("backup step: %w", err)
			}
			if !more {
				break
			}
			if ctx.Err() != nil {
				bk.Finish()
				return ctx.Err()
			}
		}
		return bk.Finish()
	})
	if err != nil {
		return err
	}
	conn.ExecContext(ctx, "ROLLBACK")
	m.RowCounts = counts
	// The copy is a standalone file: switch it out of WAL mode so the
	// backup is one self-contained file.
	return setRollbackJournal(ctx, copyTmp)
}

// setRollbackJournal opens a SQLite file alone and sets journal_mode=DELETE.
func setRollbackJournal(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode); err != nil {
		return fmt.Errorf("set journal mode of the copy: %w", err)
	}
	// Litestream's bookkeeping tables (CASINO_PITR=litestream) are not
	// casino's data: they stay out of backups.
	for _, t := range []string{"_litestream_seq", "_litestream_lock"} {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return fmt.Errorf("drop %s from the copy: %w", t, err)
		}
	}
	return nil
}

// diskIfFull turns a failure caused by a full disk into the message that
// says so, with the path; other errors pass through.
func diskIfFull(path string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "database or disk is full") {
		return diskError(path, syscall.ENOSPC)
	}
	return err
}
