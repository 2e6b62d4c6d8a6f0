package backup_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casino/backup"
	"casino/internal/testpg"
	"casino/internal/tests3"
	"casino/s3store"
	"casino/sqlstore"
)

// TestCreateRemoteOnlyStagesNothing: a --remote-only backup of PostgreSQL
// streams into the bucket without a copy on local disk. While the data
// object uploads (its first read, and the moment it is complete, before the
// manifest) the backup folder and TMPDIR together hold less than a tenth of
// the data object; the committed backup then verifies, pinned to its
// version, with the manifest's row counts.
func TestCreateRemoteOnlyStagesNothing(t *testing.T) {
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{Versioning: true})
	env := map[string]string{}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := s3store.ConfigFromEnv("s3://"+bucket+"/prod", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.PartSize = 5 << 20
	st, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url := testpg.NewDatabase(t)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// ~12 MiB of random hex: about 6 MiB gzipped, more than one part.
	for i := 0; i < 1500; i++ {
		b := make([]byte, 4096)
		rand.Read(b)
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (ts, action, target, after) VALUES (?, 'bulk', ?, ?)`, sqlstore.Now(), "t", `{"x":"`+hex.EncodeToString(b)+`"}`); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	target, err := sqlstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backups")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var seen []int64
	measure := func(string) {
		var n int64
		for _, d := range []string{dir, tmp} {
			filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					if fi, err := e.Info(); err == nil {
						n += fi.Size()
					}
				}
				return nil
			})
		}
		seen = append(seen, n)
	}
	ro := backup.RemoteOptions{Signer: &testSigner, AllowPlaintext: true, Pause: measure}
	m, up, err := backup.CreateRemoteOnly(ctx, backup.CreateOptions{Target: target, Dir: dir, Keys: tk}, st, ro)
	if err != nil {
		t.Fatal(err)
	}
	if up.Bytes < 5<<20 || up.Bytes != m.SizeBytes {
		t.Fatalf("uploaded %d bytes, manifest says %d: want a multi-part object", up.Bytes, m.SizeBytes)
	}
	if len(seen) != 2 {
		t.Fatalf("measured %d times, want at the first read and after the data", len(seen))
	}
	for i, n := range seen {
		if n > up.Bytes/10 {
			t.Errorf("measure %d: %d bytes on local disk while uploading a %d-byte backup: a local copy was staged", i, n, up.Bytes)
		}
	}
	l, err := backup.ListRemote(ctx, st, backup.RemoteOptions{Verify: tk.Verify})
	if err != nil || len(l.Backups) != 1 || !l.Backups[0].Trusted() {
		t.Fatalf("listing: %+v %v", l, err)
	}
	b := l.Backups[0]
	if b.Manifest.DataVersionID != up.Data.VersionID || b.Manifest.RowCounts["audit_events"] != 1500 {
		t.Errorf("remote manifest: version %s (uploaded %s), audit_events %d", b.Manifest.DataVersionID, up.Data.VersionID, b.Manifest.RowCounts["audit_events"])
	}
	if c := backup.VerifyRemote(ctx, st, l, &b, false, 0, nil, m.CreatedAt); !c.OK {
		t.Errorf("verify: %+v", c)
	}
	r, err := st.OpenData(ctx, &b)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	r.Close()
	if err != nil || n != m.SizeBytes {
		t.Errorf("read back %d bytes (%v), want %d", n, err, m.SizeBytes)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("the backup folder holds %d entries after a remote-only backup", len(es))
	}
}
