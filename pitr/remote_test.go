package pitr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"casino/internal/tests3"
	"casino/s3store"
)

// TestStreamShipsEncryptedToRemote: with a remote, every signed base
// backup and WAL batch is uploaded under PREFIX/pitr, each data object
// age-encrypted (nothing readable without the identity) and its manifest
// and signature beside it; decrypted, each object has the sha256 its signed
// manifest lists.
func TestStreamShipsEncryptedToRemote(t *testing.T) {
	t.Parallel()
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{Versioning: true})
	getenv := func(k string) string {
		for _, kv := range srv.Env() {
			if n, v, _ := strings.Cut(kv, "="); n == k {
				return v
			}
		}
		return ""
	}
	cfg, err := s3store.ConfigFromEnv("s3://"+bucket+"/prod/"+RemotePrefix, getenv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc := func(w io.Writer) (io.WriteCloser, error) { return age.Encrypt(w, id.Recipient()) }

	s := newPGSetup(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Stream(ctx, StreamOptions{URL: s.replURL, Dir: dir, BaseEvery: time.Hour, Heartbeat: 200 * time.Millisecond, Signer: &testSigner,
			OnSealed: RemoteShipper(st, enc, nil), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() { cancel(); <-done }()
	admin := openDB(t, s.c.AdminURL())
	waitFor(t, 90*time.Second, "a base backup", func() bool {
		st, err := ReadStatus(dir, time.Now())
		return err == nil && st.Window != nil
	})
	if _, err := admin.Exec("SELECT pg_switch_wal()"); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	list := func() map[string]bool {
		got := map[string]bool{}
		for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "prod/pitr/", Recursive: true}) {
			got[strings.TrimPrefix(o.Key, "prod/pitr/")] = true
		}
		return got
	}
	waitFor(t, 30*time.Second, "a base manifest and a WAL batch manifest in the bucket", func() bool {
		var base, wal bool
		for k := range list() {
			base = base || strings.HasSuffix(k, "-manifest.json.sig")
			wal = wal || (strings.HasPrefix(k, "sealed-") && strings.HasSuffix(k, ".json.sig"))
		}
		return base && wal
	})
	objs := list()
	read := func(name string) []byte {
		t.Helper()
		o, err := c.GetObject(context.Background(), bucket, "prod/pitr/"+name, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		return b
	}
	checked := 0
	for k := range objs {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		format, prefix := walManifestFormat, "wal-"
		if strings.HasPrefix(k, "base-") {
			format, prefix = baseManifestFormat, strings.TrimSuffix(k, "manifest.json")
		}
		// The manifest verifies as downloaded.
		tmp := t.TempDir() + "/m.json"
		writeFileAtomic(tmp, read(k))
		writeFileAtomic(tmp+".sig", read(k+".sig"))
		m, err := testVerifier.readManifest(tmp, format)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, f := range m.Files {
			if objs[prefix+f.Name] {
				t.Errorf("%s is in the bucket unencrypted", prefix+f.Name)
			}
			ct := read(prefix + f.Name + ".age")
			if !strings.HasPrefix(string(ct), "age-encryption.org/v1") {
				t.Errorf("%s.age is not an age file", prefix+f.Name)
			}
			pr, err := age.Decrypt(strings.NewReader(string(ct)), id)
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			h := sha256.New()
			n, _ := io.Copy(h, pr)
			if hex.EncodeToString(h.Sum(nil)) != f.SHA256 || n != f.Size {
				t.Errorf("%s decrypts to %d bytes with another sha256 than its signed manifest's", f.Name, n)
			}
			checked++
		}
	}
	if checked < 5 { // 4 base backup files, at least 1 WAL segment
		t.Errorf("checked %d shipped files, want the base backup's 4 and at least one WAL segment", checked)
	}
}
