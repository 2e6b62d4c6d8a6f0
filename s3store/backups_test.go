package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"casino"
	"casino/internal/tests3"
	"casino/keys"
)

// fixture is a signer, its verifier and a store on a fresh bucket.
type fixture struct {
	t      *testing.T
	srv    tests3.Server
	s      *Store
	key    keys.Private
	verify Verifier
}

func newFixture(t *testing.T, o tests3.BucketOptions) *fixture {
	srv := tests3.Plain(t)
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, srv: srv, s: newStore(t, srv, o), key: k, verify: KeyVerifier([]keys.Public{k.Public()})}
}

// signWith signs a manifest the way backup create does: exact bytes, the
// fingerprint inside.
func signWith(k keys.Private) Sign {
	return func(m *casino.BackupManifest) ([]byte, []byte, error) {
		m.KeyFingerprint = k.Public().Fingerprint()
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return nil, nil, err
		}
		return b, k.Sign(b), nil
	}
}

// upload puts a backup of n random bytes taken at at, and returns its data.
func (f *fixture) upload(name string, at time.Time, n int, lock Lock) ([]byte, *Uploaded) {
	f.t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	sum := sha256.Sum256(data)
	m := &casino.BackupManifest{FormatVersion: 1, Engine: casino.EngineSQLite, File: name, SnapshotAt: at,
		Compression: "gzip", SizeBytes: int64(n), SHA256: hex.EncodeToString(sum[:]), RowCounts: map[string]int64{"users": 3}}
	up, err := f.s.UploadBackup(context.Background(), name, bytes.NewReader(data), StoredOf(m), m, signWith(f.key), UploadOptions{Lock: lock})
	if err != nil {
		f.t.Fatal(err)
	}
	return data, up
}

func (f *fixture) list() *Listing {
	f.t.Helper()
	l, err := f.s.ListBackups(context.Background(), f.verify)
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// readAll opens a backup's pinned data through the checked reader.
func (f *fixture) readAll(b *Backup) ([]byte, error) {
	r, err := f.s.OpenData(context.Background(), b)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestUploadListRead: a backup uploads data, signature, manifest; the
// listing trusts it, names its key and lock, and the data reads back through
// the sha256 check. A second backup becomes "latest".
func TestUploadListRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, tests3.BucketOptions{ObjectLock: true})
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	data, up := f.upload("casino_db_20261201_030000.sqlite.gz", at, 7<<20, Lock{Mode: "GOVERNANCE", Until: until})
	if up.Data.VersionID == "" || up.Bytes != 7<<20 {
		t.Fatalf("uploaded %+v", up)
	}
	f.upload("casino_db_20261201_090000.sqlite.gz", at.Add(6*time.Hour), 1000, Lock{})
	l := f.list()
	if len(l.Backups) != 2 || len(l.Orphans) != 0 {
		t.Fatalf("listing %+v", l)
	}
	if n := l.Newest(); n == nil || n.Name != "casino_db_20261201_090000.sqlite.gz" {
		t.Fatalf("newest = %+v", n)
	}
	b, err := l.Find("casino_db_20261201_030000.sqlite.gz")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Trusted() || b.KeyFingerprint != f.key.Public().Fingerprint() || b.Manifest.DataVersionID != up.Data.VersionID {
		t.Fatalf("backup %+v", b)
	}
	if b.Lock.Mode != "GOVERNANCE" || !b.Lock.Until.Equal(until) {
		t.Fatalf("lock read from the object = %+v, want GOVERNANCE until %s", b.Lock, until)
	}
	got, err := f.readAll(b)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if _, err := l.Find("latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Find("casino_db_20991231_000000.sqlite.gz"); err == nil {
		t.Fatal("Find of a missing backup succeeded")
	}
}

// TestTampering: an attacker with write access to the bucket replaces the
// manifest, signs one with another key, repoints data_version_id, or
// uploads a new data version over the data object. Each forged manifest is
// refused (never newest, never read); the data overwrite is simply not
// read, because the signed manifest pins the original version.
func TestTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, tests3.BucketOptions{Versioning: true})
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	const name = "casino_db_20261201_030000.sqlite.gz"
	data, up := f.upload(name, at, 4096, Lock{})
	l := f.list()
	orig := l.Backups[0]
	c := f.srv.Client(t)
	put := func(obj string, b []byte) string {
		t.Helper()
		info, err := c.PutObject(ctx, f.s.Bucket(), f.s.Key(obj), bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return info.VersionID
	}
	restore := func() {
		put(ManifestName(name), orig.ManifestBytes())
		put(SignatureName(name), orig.Signature())
	}

	// A new data version uploaded over the data object: never read.
	evil := bytes.Repeat([]byte("X"), 4096)
	evilVersion := put(name, evil)
	b, _ := f.list().Find(name)
	got, err := f.readAll(b)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after an overwrite of the data object: read %q..., %v; want the pinned original", got[:8], err)
	}

	forged := func(mut func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(orig.ManifestBytes(), &m)
		mut(m)
		b, _ := json.MarshalIndent(m, "", "  ")
		return b
	}
	other, _ := keys.Generate()
	for _, tc := range []struct {
		name     string
		manifest []byte
		sig      []byte
		want     string
	}{
		{"replaced manifest", forged(func(m map[string]any) { m["row_counts"] = map[string]any{"users": 99} }), nil, "signature does not verify"},
		{"manifest pointing at another data version", forged(func(m map[string]any) {
			m["data_version_id"] = evilVersion
			m["sha256"] = hex.EncodeToString(sha256.New().Sum(nil))
		}), nil, "signature does not verify"},
		{"manifest signed by another key", nil, nil, "not among the verify keys"},
		{"signature deleted", orig.ManifestBytes(), []byte{}, "signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mb, sig := tc.manifest, tc.sig
			if mb == nil {
				m := *orig.Manifest
				mb, sig, _ = signWith(other)(&m)
			}
			put(ManifestName(name), mb)
			if sig != nil {
				put(SignatureName(name), sig)
			}
			defer restore()
			l := f.list()
			b, err := l.Find(name)
			if err != nil {
				t.Fatal(err)
			}
			if b.Trusted() || !strings.Contains(b.Problem, tc.want) {
				t.Fatalf("trusted=%v problem=%q, want refused with %q", b.Trusted(), b.Problem, tc.want)
			}
			if l.Newest() != nil {
				t.Fatalf("a forged manifest is newest: %+v", l.Newest())
			}
			if _, err := f.s.OpenData(ctx, b); err == nil {
				t.Fatal("OpenData read a refused backup")
			}
		})
	}
	if b, _ := f.list().Find(name); !b.Trusted() || b.Manifest.DataVersionID != up.Data.VersionID {
		t.Fatalf("after restoring the original manifest: %+v", b)
	}
}

// TestOrphanAndRollback: data without a manifest is an orphan, not a
// backup; deleting the newest backups from the bucket is reported by the
// next listing (missing names and a rollback of "newest"), and Forget
// clears what was deleted on purpose.
func TestOrphanAndRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, tests3.BucketOptions{Versioning: true})
	state := filepath.Join(t.TempDir(), "data", SeenFile)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var names []string
	for i := 0; i < 3; i++ {
		n := "casino_db_2026120" + string(rune('1'+i)) + "_000000.sqlite.gz"
		f.upload(n, at.AddDate(0, 0, i), 100, Lock{})
		names = append(names, n)
	}
	if _, err := f.s.Put(ctx, "casino_db_20261205_000000.sqlite.gz", strings.NewReader("half"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	l := f.list()
	if len(l.Backups) != 3 || len(l.Orphans) != 1 || l.Orphans[0].Name != "casino_db_20261205_000000.sqlite.gz" {
		t.Fatalf("listing: %d backups, orphans %+v", len(l.Backups), l.Orphans)
	}
	if err := CheckRollback(state, f.s.URL(), l); err != nil || len(l.Regressions) != 0 {
		t.Fatalf("first listing: %v %v", l.Regressions, err)
	}
	// An attacker (or an accident) deletes the two newest backups.
	c := f.srv.Client(t)
	for _, n := range names[1:] {
		for _, obj := range []string{n, SignatureName(n), ManifestName(n)} {
			if err := c.RemoveObject(ctx, f.s.Bucket(), f.s.Key(obj), minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l = f.list()
	if n := l.Newest(); n == nil || n.Name != names[0] {
		t.Fatalf("newest after the deletion = %+v", n)
	}
	if err := CheckRollback(state, f.s.URL(), l); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(l.Regressions, "\n")
	if len(l.Regressions) != 3 || !strings.Contains(got, names[1]+" (snapshot_at") || !strings.Contains(got, names[2]+" (snapshot_at") || !strings.Contains(got, "rollback: the newest backup is now "+names[0]) {
		t.Fatalf("regressions:\n%s", got)
	}
	// Still reported on the next listing: a regression does not heal itself.
	l = f.list()
	CheckRollback(state, f.s.URL(), l)
	if len(l.Regressions) != 3 {
		t.Fatalf("second listing after the deletion: %v", l.Regressions)
	}
	if err := Forget(state, f.s.URL(), names[1:]...); err != nil {
		t.Fatal(err)
	}
	l = f.list()
	CheckRollback(state, f.s.URL(), l)
	if len(l.Regressions) != 0 {
		t.Fatalf("after Forget: %v", l.Regressions)
	}
}

// TestUploadRefusals: a committed name is never replaced; bytes that differ
// from the manifest commit nothing; a bucket without versioning is refused.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, tests3.BucketOptions{Versioning: true})
	const name = "casino_db_20261201_030000.sqlite.gz"
	f.upload(name, time.Now(), 10, Lock{})
	m := &casino.BackupManifest{File: name, SizeBytes: 3, SHA256: "x"}
	if _, err := f.s.UploadBackup(ctx, name, strings.NewReader("abc"), StoredOf(m), m, signWith(f.key), UploadOptions{}); err == nil || !strings.Contains(err.Error(), "never replaced") {
		t.Fatalf("second upload of %s: %v", name, err)
	}
	const other = "casino_db_20261201_040000.sqlite.gz"
	m = &casino.BackupManifest{File: other, SizeBytes: 3, SHA256: strings.Repeat("0", 64)}
	if _, err := f.s.UploadBackup(ctx, other, strings.NewReader("abc"), StoredOf(m), m, signWith(f.key), UploadOptions{}); err == nil || !strings.Contains(err.Error(), "nothing committed") {
		t.Fatalf("upload with the wrong sha256: %v", err)
	}
	if _, err := f.s.Stat(ctx, ManifestName(other), ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a manifest was committed for bytes that differ: %v", err)
	}
	if l := f.list(); len(l.Orphans) != 0 {
		t.Fatalf("the refused upload left an orphan: %+v", l.Orphans)
	}

	plain := newFixture(t, tests3.BucketOptions{})
	m = &casino.BackupManifest{File: other, SizeBytes: 3, SHA256: hex.EncodeToString(func() []byte { s := sha256.Sum256([]byte("abc")); return s[:] }())}
	if _, err := plain.s.UploadBackup(ctx, other, strings.NewReader("abc"), StoredOf(m), m, signWith(plain.key), UploadOptions{}); !errors.Is(err, ErrNoVersioning) {
		t.Fatalf("upload to an unversioned bucket: %v", err)
	}
	if objs, _ := plain.s.List(ctx); len(objs) != 0 {
		t.Fatalf("unversioned bucket keeps %+v", objs)
	}
}

// TestPinnedVersionGone: when the data version a manifest pins is deleted
// (the object's name may even hold a newer version), the backup is refused,
// never newest, and its data is not read.
func TestPinnedVersionGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, tests3.BucketOptions{Versioning: true})
	const name = "casino_db_20261201_030000.sqlite.gz"
	_, up := f.upload(name, time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), 100, Lock{})
	c := f.srv.Client(t)
	if _, err := c.PutObject(ctx, f.s.Bucket(), f.s.Key(name), strings.NewReader(strings.Repeat("y", 100)), 100, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveObject(ctx, f.s.Bucket(), f.s.Key(name), minio.RemoveObjectOptions{VersionID: up.Data.VersionID}); err != nil {
		t.Fatal(err)
	}
	l := f.list()
	b, err := l.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	if b.Trusted() || !strings.Contains(b.Problem, "pins is gone") || l.Newest() != nil {
		t.Fatalf("trusted=%v problem=%q newest=%v", b.Trusted(), b.Problem, l.Newest())
	}
	if _, err := f.s.OpenData(ctx, b); err == nil {
		t.Fatal("OpenData read a backup whose pinned version is gone")
	}
}
