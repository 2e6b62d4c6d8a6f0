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
	"sync/atomic"
	"syscall"
	"time"

	"casino"
	"casino/s3store"
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
	// Keys check the manifest's signature (and decrypt an encrypted file).
	// Without verify keys, only Keys.TrustUnsigned lets a backup through.
	Keys *Keys
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
	// Source, when set, is the backup to check instead of the file at the
	// path given (a remote backup, streamed; see Source).
	Source *Source
}

// MaxClockSkew is how far a manifest's snapshot_at may lie after the
// backup file's modification time, or after now, before it is refused as a
// lie: a future snapshot_at would keep the backup-age metric from alerting
// and make prune keep the fake and delete real backups.
const MaxClockSkew = 5 * time.Minute

// VerifyResult is what verification established.
type VerifyResult struct {
	Path     string
	Engine   string
	Manifest *casino.BackupManifest // nil when unverified
	// RowCounts found in the file: COPY rows of a dump, or a SQLite copy's.
	RowCounts map[string]int64
	Checks    []string
	// KeyFingerprint is the key whose signature verified; "" when none did.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// Overrides lists the overrides the verification relied on:
	// OverrideVerifyKey or OverrideTrustUnsigned (casino.RestoreFacts
	// records them).
	Overrides []string `json:"overrides,omitempty"`
	// Encrypted is true for an age-encrypted file.
	Encrypted bool `json:"encrypted"`
	// UncompressedBytes is the decompressed length read (0 when the data
	// was not read).
	UncompressedBytes int64 `json:"uncompressed_bytes,omitempty"`

	keys *Keys
	src  *Source
	// decrypt sums the nanoseconds every stream opened from this backup
	// spent in age decryption (DecryptTime).
	decrypt *atomic.Int64
}

// DecryptTime is the time the streams read from this backup so far spent
// decrypting it (age), without the time they waited on the stored bytes;
// 0 for a backup that is not encrypted.
func (r *VerifyResult) DecryptTime() time.Duration {
	if r.decrypt == nil {
		return 0
	}
	return time.Duration(r.decrypt.Load())
}

// Open returns the verified backup's decompressed data, checked again as
// it streams against everything the manifest signed (exact length, and the
// decrypted stream's sha256): a loader reads through it and fails on a
// mismatch before it commits.
func (r *VerifyResult) Open(p *Progress) (io.ReadCloser, error) {
	if r.src != nil {
		if r.Manifest == nil {
			return nil, errorf(casino.EINVALID, "%s: a streamed backup needs its signed manifest", r.src.Location)
		}
		f, err := r.src.open(context.Background(), s3store.StoredOf(r.Manifest))
		if err != nil {
			return nil, err
		}
		return openStreamFrom(r.Path, f, r.src.Size, r.Manifest, r.keys, p, r.decrypt)
	}
	return openStream(r.Path, r.Manifest, r.keys, p, r.decrypt)
}

// ContentsChecked reports whether the data itself was read and checked
// (not only the ciphertext of an encrypted file, nor a quick check).
func (r *VerifyResult) ContentsChecked() bool { return r.RowCounts != nil }

// Verification returns the record of this verification for the
// verification store.
func (r *VerifyResult) Verification(kind string, ok bool, detail string, at time.Time) casino.BackupVerification {
	v := casino.BackupVerification{BackupName: filepath.Base(r.Path), Kind: kind, OK: ok, Detail: detail, VerifiedAt: at.UTC()}
	if r.Manifest != nil {
		v.SHA256 = r.Manifest.SHA256
	}
	return v
}

func (r *VerifyResult) pass(format string, args ...any) {
	r.Checks = append(r.Checks, fmt.Sprintf(format, args...))
}

// invalid is a verification failure: the file is refused. A %w operand
// stays matchable by errors.Is.
func invalid(path, format string, args ...any) error {
	return errorf(casino.EINVALID, "%s: %w", filepath.Base(path), fmt.Errorf(format, args...))
}

// Verify checks a backup file without touching any database: the manifest
// (unless ForceUnverified and it is missing), the engine, the size, the
// sha256, that the schema is not newer than this binary, then decompresses
// the whole file and runs the structural check (SQLite: integrity_check and
// row counts of a scratch copy; PostgreSQL: completion trailer and COPY row
// counts; with Deep, a scratch restore).
func Verify(ctx context.Context, path string, o VerifyOptions) (*VerifyResult, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	src := o.Source
	if src != nil {
		path = src.Name
	}
	r := &VerifyResult{Path: path, keys: o.Keys, src: src, decrypt: new(atomic.Int64)}
	var size int64
	var mtime time.Time
	var m *casino.BackupManifest
	var mb []byte
	var err error
	if src != nil {
		size, mtime = src.Size, src.Written
		m, mb, err = parseManifest(src.Location+" (manifest)", src.Manifest)
	} else {
		st, serr := os.Stat(path)
		if serr != nil {
			return nil, errorf(casino.ENOTFOUND, "no backup file %s", path)
		}
		if !st.Mode().IsRegular() {
			return nil, invalid(path, "not a regular file")
		}
		size, mtime = st.Size(), st.ModTime()
		m, mb, err = readManifest(path)
	}
	if size == 0 {
		return nil, invalid(path, "the file is empty (0 bytes): an interrupted or failed backup")
	}
	name := filepath.Base(path)
	r.Engine = EngineOfName(name)
	r.Encrypted = isEncryptedName(name)
	switch {
	case err == nil:
		r.Manifest = m
	case casino.ErrorCode(err) == casino.ENOTFOUND && o.ForceUnverified:
		r.pass("no manifest: --force-unverified, so no signature, checksum, row count or schema check")
	default:
		return nil, err
	}
	if m != nil {
		// The signature first: nothing else in the manifest is trusted
		// before it verifies.
		var sig signature
		if src != nil {
			sig, err = checkSignatureBytes(path, src.Location+" (signature)", src.Signature, nil, mb, m, o.Keys)
		} else {
			sig, err = checkSignature(path, mb, m, o.Keys)
		}
		if err != nil {
			return nil, err
		}
		r.KeyFingerprint = sig.fingerprint
		if sig.override != "" {
			r.Overrides = append(r.Overrides, sig.override)
		}
		r.pass("%s", sig.note)
		if m.File != "" && m.File != name {
			return nil, invalid(path, "the manifest describes %s, not this file", m.File)
		}
		if r.Engine != "" && m.Engine != r.Engine {
			return nil, invalid(path, "the manifest is for a %s backup but the file is named as a %s backup: mismatched manifest", m.Engine, r.Engine)
		}
		r.Engine = m.Engine
		if r.Encrypted != (m.Encryption != nil) {
			return nil, invalid(path, "the file name says encrypted=%v but the manifest says encrypted=%v: mismatched manifest", r.Encrypted, m.Encryption != nil)
		}
		if err := checkSnapshotTime(path, m, mtime, o.Now()); err != nil {
			return nil, err
		}
	}
	if r.Engine == "" {
		return nil, invalid(path, "cannot tell the engine from the name: want .sql.gz, .sql.zst, .sqlite.gz or .sqlite.zst (optionally .age)")
	}
	if o.Engine != "" && r.Engine != o.Engine {
		return nil, invalid(path, "this is a %s backup; the target database is %s: refusing to restore across engines", r.Engine, o.Engine)
	}
	if m != nil {
		wantSize, wantSum, what := m.SizeBytes, m.SHA256, "size %d bytes and sha256 match the manifest"
		if m.Encryption != nil {
			wantSize, wantSum, what = m.Encryption.CiphertextBytes, m.Encryption.CiphertextSHA256, "ciphertext size %d bytes and sha256 match the manifest (checked without the private key)"
		}
		if size != wantSize {
			what := "the wrong size"
			if size < wantSize {
				what = "truncated"
			}
			return nil, invalid(path, "the file is %s: %d bytes, the manifest says %d", what, size, wantSize)
		}
		var sum string
		if src != nil {
			sum, _, err = src.sha256(ctx)
		} else {
			sum, err = fileSHA256(path)
		}
		if err != nil {
			return nil, err
		}
		if sum != wantSum {
			return nil, invalid(path, "checksum mismatch: sha256 %s, the manifest says %s (corrupt file or wrong manifest)", sum, wantSum)
		}
		r.pass(what, size)
		latest := sqlstore.LatestVersion(sqlstore.Dialect(m.Engine))
		if m.SchemaVersion > latest {
			return nil, invalid(path, "the backup's schema version %d is newer than this binary knows (%d): restore it with a casino build that knows schema %d", m.SchemaVersion, latest, m.SchemaVersion)
		}
		r.pass("schema version %d (this binary knows %d)", m.SchemaVersion, latest)
	}
	if r.Encrypted && (o.Keys == nil || len(o.Keys.enc.identities) == 0) {
		if o.Deep || o.SQLiteOut != "" {
			return nil, errorf(casino.EINVALID, "%s is encrypted with age: set CASINO_BACKUP_IDENTITY to the identity (AGE-SECRET-KEY-1... value or file) of one of its recipients to read it", name)
		}
		if !o.Quick {
			r.pass("encrypted: contents not checked (no CASINO_BACKUP_IDENTITY); the ciphertext's integrity is")
		}
		return r, nil
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
		counts, n, err := decompressSQLite(ctx, r, out, o.Progress)
		if err != nil {
			if casino.ErrorCode(err) == casino.EUNAVAILABLE {
				return nil, err
			}
			return nil, invalid(path, "%w", err)
		}
		r.UncompressedBytes = n
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
		n, err := r.copyTo(scan, o.Progress)
		if err != nil {
			return nil, invalid(path, "decompression failed: %v (corrupt or truncated file)", err)
		}
		r.UncompressedBytes = n
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
			if err := deepVerifyPostgres(ctx, r, o, want); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// checkSnapshotTime refuses a manifest whose snapshot_at lies in the
// future, or after the backup file was last written.
func checkSnapshotTime(path string, m *casino.BackupManifest, mtime, now time.Time) error {
	if m.SnapshotAt.IsZero() {
		return invalid(path, "the manifest has no snapshot_at")
	}
	if m.SnapshotAt.After(now.Add(MaxClockSkew)) {
		return invalid(path, "the manifest's snapshot_at %s lies in the future (now is %s): a lying manifest, refused", m.SnapshotAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if m.SnapshotAt.After(mtime.Add(MaxClockSkew)) {
		return invalid(path, "the manifest's snapshot_at %s is later than the file itself was written (%s): a lying manifest, refused", m.SnapshotAt.UTC().Format(time.RFC3339), mtime.UTC().Format(time.RFC3339))
	}
	return nil
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

// copyTo streams the verified backup's decompressed data into w and
// returns its length.
func (r *VerifyResult) copyTo(w io.Writer, p *Progress) (int64, error) {
	rc, err := r.Open(p)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(w, rc)
}

// decompressSQLite writes the decompressed database to out (0600, fsynced),
// runs PRAGMA integrity_check on it, and returns its row counts and length.
func decompressSQLite(ctx context.Context, r *VerifyResult, out string, p *Progress) (map[string]int64, int64, error) {
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, 0, err
	}
	n, err := r.copyTo(f, p)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.ENOSPC) {
		return nil, 0, diskError(out, err)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("decompression failed: %w (corrupt or truncated file)", err)
	}
	head := make([]byte, 16)
	if g, err := os.Open(out); err == nil {
		io.ReadFull(g, head)
		g.Close()
	}
	if !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return nil, 0, errors.New("the decompressed file is not a SQLite database")
	}
	counts, err := checkSQLiteFile(ctx, out)
	return counts, n, err
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
func deepVerifyPostgres(ctx context.Context, r *VerifyResult, o VerifyOptions, want map[string]int64) error {
	path := r.Path
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
	counts, err := loadPostgresDump(ctx, r, withDatabase(o.AdminURL, scratch), pgLoadOptions{BinDir: o.PGBinDir, Jobs: o.Jobs, Progress: o.Progress})
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
