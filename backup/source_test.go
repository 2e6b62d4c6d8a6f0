package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"casino"
	"casino/backup"
	"casino/internal/testdb"
	"casino/internal/testpg"
	"casino/sqlstore"
)

// flipReader serves r with the byte at offset at changed.
type flipReader struct {
	r  io.ReadCloser
	at int64
	n  int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.n && f.at < f.n+int64(n) {
		p[f.at-f.n] ^= 0x01
	}
	f.n += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

// TestRestoreFromSourceStreams: a restore from a Source (what casino
// restore s3://… uses) streams the backup into the scratch database with no
// copy in the backup folder or TMPDIR, and a source whose bytes change
// between the checksum pass and the load (storage that lies the second
// time; an uncompressed dump, so only the sha256 can tell) is refused
// before the swap: the live database keeps its rows and no scratch
// database is left.
func TestRestoreFromSourceStreams(t *testing.T) {
	ctx := context.Background()
	url := testpg.NewDatabase(t)
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 800; i++ {
		b := make([]byte, 2048)
		rand.Read(b)
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (ts, action, target, after) VALUES (?, 'bulk', ?, ?)`, sqlstore.Now(), "t", `{"x":"`+hex.EncodeToString(b)+`"}`); err != nil {
			t.Fatal(err)
		}
	}
	target, _ := sqlstore.ParseURL(url)
	made := t.TempDir()
	res, err := backup.Create(ctx, backup.CreateOptions{Target: target, Dir: made, Compression: backup.None, Keys: tk})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := os.ReadFile(casino.ManifestPath(res.Path))
	sig, _ := os.ReadFile(casino.SignaturePath(res.Path))
	st, _ := os.Stat(res.Path)
	var opens atomic.Int32
	lie := true
	src := &backup.Source{
		Name: filepath.Base(res.Path), Location: "test://bucket/" + filepath.Base(res.Path),
		Manifest: mb, Signature: sig, Size: st.Size(), Written: st.ModTime(),
		Open: func(context.Context) (io.ReadCloser, error) {
			f, err := os.Open(res.Path)
			if err != nil {
				return nil, err
			}
			if opens.Add(1) >= 2 && lie {
				return &flipReader{r: f, at: st.Size() / 2}, nil
			}
			return f, nil
		},
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO tenants (name, slug, created_at, updated_at) VALUES ('Later', 'later', ?, ?)`, sqlstore.Now(), sqlstore.Now()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	later := func() int {
		d, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var n int
		d.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE slug = 'later'`).Scan(&n)
		return n
	}

	bdir := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	_, err = backup.Restore(ctx, backup.RestoreOptions{Source: src, Target: target, BackupDir: bdir, NoSafetyBackup: true, Keys: tk})
	if !errors.Is(err, backup.ErrStoredDigest) || casino.ErrorCode(err) != casino.EINVALID || !strings.Contains(err.Error(), "not touched") {
		t.Fatalf("restore from a source that changed between the passes: %v, want the digest refusal", err)
	}
	if later() != 1 {
		t.Fatal("the live database lost its rows to a refused restore")
	}
	if left, _ := backup.FindLeftovers(ctx, target, bdir); len(left) != 0 {
		t.Errorf("leftovers after the refused restore: %v", left)
	}

	lie = false
	var sizes []int64
	measure := func(point string) {
		var n int64
		for _, d := range []string{bdir, tmp} {
			filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					if fi, err := e.Info(); err == nil {
						n += fi.Size()
					}
				}
				return nil
			})
		}
		if point == "verified" || point == "scratch_ready" {
			sizes = append(sizes, n)
		}
	}
	rr, err := backup.Restore(ctx, backup.RestoreOptions{Source: src, Target: target, BackupDir: bdir, NoSafetyBackup: true, Keys: tk, Pause: measure})
	if err != nil {
		t.Fatal(err)
	}
	if later() != 0 || rr.Facts.Backup.Location != src.Location || rr.RowCounts["audit_events"] < 800 {
		t.Errorf("restored: later=%d, location %q, audit_events %d", later(), rr.Facts.Backup.Location, rr.RowCounts["audit_events"])
	}
	if len(sizes) != 2 {
		t.Fatalf("measured at %d points, want verified and scratch_ready", len(sizes))
	}
	for _, n := range sizes {
		if n > st.Size()/10 {
			t.Errorf("%d bytes in the backup folder and TMPDIR during a streamed restore of a %d-byte backup", n, st.Size())
		}
	}
	if b, _ := os.ReadFile(res.Path); !bytes.Contains(b, []byte("COPY")) {
		t.Error("the test backup is not an uncompressed dump")
	}
}

// TestStoredDigestIsMatchable: on SQLite too, a source whose bytes change
// after the checksum pass is refused by Verify and by Restore with an
// error that errors.Is matches to ErrStoredDigest (code invalid), and the
// live database keeps its rows.
func TestStoredDigestIsMatchable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.SQLite)
	res, err := backup.Create(ctx, backup.CreateOptions{Target: live.Target, Dir: t.TempDir(), Compression: backup.None, Keys: tk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := live.ExecContext(ctx, `INSERT INTO tenants (name, slug, created_at, updated_at) VALUES ('Later', 'later', ?, ?)`, sqlstore.Now(), sqlstore.Now()); err != nil {
		t.Fatal(err)
	}
	live.Close()
	mb, _ := os.ReadFile(casino.ManifestPath(res.Path))
	sig, _ := os.ReadFile(casino.SignaturePath(res.Path))
	st, _ := os.Stat(res.Path)
	// Each check opens the source afresh: the first open (the checksum
	// pass) is true, every later one lies.
	lying := func() *backup.Source {
		var opens atomic.Int32
		return &backup.Source{
			Name: filepath.Base(res.Path), Location: "test://bucket/" + filepath.Base(res.Path),
			Manifest: mb, Signature: sig, Size: st.Size(), Written: st.ModTime(),
			Open: func(context.Context) (io.ReadCloser, error) {
				f, err := os.Open(res.Path)
				if err != nil || opens.Add(1) == 1 {
					return f, err
				}
				return &flipReader{r: f, at: st.Size() / 2}, nil
			},
		}
	}
	_, err = backup.Verify(ctx, "", backup.VerifyOptions{Source: lying(), Keys: tk})
	if !errors.Is(err, backup.ErrStoredDigest) || casino.ErrorCode(err) != casino.EINVALID {
		t.Errorf("Verify = %v (code %s), want ErrStoredDigest, invalid", err, casino.ErrorCode(err))
	}
	_, err = backup.Restore(ctx, backup.RestoreOptions{Source: lying(), Target: live.Target, BackupDir: t.TempDir(), NoSafetyBackup: true, Keys: tk})
	if !errors.Is(err, backup.ErrStoredDigest) || casino.ErrorCode(err) != casino.EINVALID {
		t.Errorf("Restore = %v (code %s), want ErrStoredDigest, invalid", err, casino.ErrorCode(err))
	}
	db, err := sqlstore.Open(ctx, live.Target.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE slug = 'later'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the live database after a refused restore: %d rows of 'later', %v; want 1", n, err)
	}
}
