package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"casino/internal/tests3"

	"casino/internal/poll"
)

// newStore returns a Store on a fresh bucket of srv, through the same
// settings an operator gives (ConfigFromEnv), under prefix "team/backups".
func newStore(t *testing.T, srv tests3.Server, o tests3.BucketOptions) *Store {
	t.Helper()
	bucket := tests3.NewBucket(t, srv, o)
	env := map[string]string{}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := ConfigFromEnv("s3://"+bucket+"/team/backups", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.PartSize = minPartSize
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	base := map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "sekrit-value"}
	for _, tc := range []struct {
		name, remote string
		env          map[string]string
		want         string // "" = ok, else substring of the error
	}{
		{"aws default", "s3://bucket/p/q", nil, ""},
		{"no remote", "", nil, "CASINO_BACKUP_REMOTE"},
		{"not s3", "gs://bucket", nil, "want s3://"},
		{"bad bucket", "s3://Bad_Bucket/x", nil, "bucket"},
		{"dotdot prefix", "s3://bucket/a/../b", nil, "segment"},
		{"empty segment", "s3://bucket/a//b", nil, "segment"},
		{"plain http refused", "s3://bucket", map[string]string{"CASINO_S3_ENDPOINT": "http://s3.example.com"}, "plain http"},
		{"insecure off loopback refused", "s3://bucket", map[string]string{"CASINO_S3_ENDPOINT": "http://10.0.0.5:9000", "CASINO_S3_INSECURE": "1"}, "loopback"},
		{"insecure without endpoint refused", "s3://bucket", map[string]string{"CASINO_S3_INSECURE": "1"}, "loopback"},
		{"insecure loopback ok", "s3://bucket", map[string]string{"CASINO_S3_ENDPOINT": "http://127.0.0.1:9000", "CASINO_S3_INSECURE": "1"}, ""},
		{"endpoint with path refused", "s3://bucket", map[string]string{"CASINO_S3_ENDPOINT": "https://s3.example.com/x"}, "nothing else"},
		{"endpoint with credentials refused", "s3://bucket", map[string]string{"CASINO_S3_ENDPOINT": "https://a:sekrit-value@s3.example.com"}, "nothing else"},
		{"bare host is https", "s3://bucket", map[string]string{"CASINO_S3_ENDPOINT": "minio.internal:9000"}, ""},
		{"bad insecure value", "s3://bucket", map[string]string{"CASINO_S3_INSECURE": "yes"}, "want 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := ConfigFromEnv(tc.remote, func(k string) string { return env[k] })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want ok", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "sekrit-value") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
	c, _ := ConfigFromEnv("s3://bucket/p", func(k string) string { return base[k] })
	if r := c.Redacted(); r["aws_secret_access_key"] != "***" || strings.Contains(strings.Join(func() []string {
		var s []string
		for _, v := range r {
			if str, ok := v.(string); ok {
				s = append(s, str)
			}
		}
		return s
	}(), " "), "sekrit-value") {
		t.Errorf("Redacted shows the secret: %v", r)
	}
	if _, err := Open(Config{Bucket: "b"}); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("Open without credentials: %v, want a message naming AWS_ACCESS_KEY_ID", err)
	}
}

// TestPutGetVersions: a multipart upload (3 parts of 5 MiB) round-trips on
// both endpoints (plain and TLS with a private CA); a later upload over the
// same name makes a new version and the first stays readable by its id.
func TestPutGetVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, srv := range []tests3.Server{tests3.Plain(t), tests3.TLS(t)} {
		s := newStore(t, srv, tests3.BucketOptions{Versioning: true})
		data := make([]byte, 12<<20+123)
		rand.Read(data)
		o1, err := s.Put(ctx, "a.bin", bytes.NewReader(data), PutOptions{})
		if err != nil {
			t.Fatalf("%s: %v", srv.Endpoint, err)
		}
		if o1.VersionID == "" || o1.Size != int64(len(data)) {
			t.Fatalf("%s: put = %+v, want a version id and %d bytes", srv.Endpoint, o1, len(data))
		}
		o2, err := s.PutSmall(ctx, "a.bin", []byte("replaced"), PutOptions{})
		if err != nil || o2.VersionID == o1.VersionID {
			t.Fatalf("%s: second put %+v, %v: want a new version", srv.Endpoint, o2, err)
		}
		r, got, err := s.Get(ctx, "a.bin", o1.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(b, data) || got.VersionID != o1.VersionID {
			t.Fatalf("%s: version %s read back %d bytes (equal=%v), want the first upload", srv.Endpoint, o1.VersionID, len(b), bytes.Equal(b, data))
		}
		cur, _, err := s.ReadSmall(ctx, "a.bin", "", 100)
		if err != nil || string(cur) != "replaced" {
			t.Fatalf("current = %q, %v", cur, err)
		}
		if _, _, err := s.ReadSmall(ctx, "a.bin", o1.VersionID, 100); err == nil {
			t.Fatal("ReadSmall read 12 MiB with a 100-byte limit")
		}
		if _, _, err := s.Get(ctx, "missing", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing object: %v, want ErrNotFound", err)
		}
		vs, err := s.Versions(ctx)
		if err != nil || len(vs) != 2 {
			t.Fatalf("versions = %+v, %v; want 2", vs, err)
		}
	}
}

// TestObjectLock: a version uploaded with a compliance lock cannot be
// deleted through the client (the server refuses: ErrLocked); its retention
// reads back from the object, extends, and never shortens.
func TestObjectLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := tests3.Plain(t)
	s := newStore(t, srv, tests3.BucketOptions{ObjectLock: true})
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	data := make([]byte, 6<<20)
	o, err := s.Put(ctx, "locked.bin", bytes.NewReader(data), PutOptions{Lock: Lock{Mode: "COMPLIANCE", Until: until}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Retention(ctx, "locked.bin", o.VersionID)
	if err != nil || l.Mode != "COMPLIANCE" || !l.Until.Equal(until) {
		t.Fatalf("retention = %+v, %v; want COMPLIANCE until %s", l, err, until)
	}
	err = s.Delete(ctx, "locked.bin", o.VersionID)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("delete of a locked version: %v, want ErrLocked", err)
	}
	t.Logf("the server's refusal: %v", err)
	if _, err := s.Stat(ctx, "locked.bin", o.VersionID); err != nil {
		t.Fatalf("locked version gone after the refused delete: %v", err)
	}
	later := until.Add(24 * time.Hour)
	if l, err := s.ExtendRetention(ctx, "locked.bin", o.VersionID, "COMPLIANCE", later); err != nil || !l.Until.Equal(later) {
		t.Fatalf("extend = %+v, %v", l, err)
	}
	if l, err := s.ExtendRetention(ctx, "locked.bin", o.VersionID, "COMPLIANCE", until); err != nil || !l.Until.Equal(later) {
		t.Fatalf("shorter extend = %+v, %v; want it left at %s", l, err, later)
	}
	if l, _ := s.Retention(ctx, "locked.bin", o.VersionID); !l.Until.Equal(later) {
		t.Fatalf("retention after extend = %+v, want %s", l, later)
	}
	// An unlocked object: no retention; deleting its version works.
	p, err := s.PutSmall(ctx, "free.bin", []byte("x"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.Retention(ctx, "free.bin", p.VersionID); err != nil || l.IsSet() {
		t.Fatalf("retention of an unlocked object = %+v, %v", l, err)
	}
	if err := s.Delete(ctx, "free.bin", p.VersionID); err != nil {
		t.Fatalf("delete unlocked: %v", err)
	}
	// The direct client agrees: the locked version is still there.
	c := srv.Client(t)
	if _, err := c.StatObject(ctx, s.Bucket(), s.Key("locked.bin"), minio.StatObjectOptions{VersionID: o.VersionID}); err != nil {
		t.Fatal(err)
	}
}

// TestHelperSlowUpload is run as a child by TestKilledUpload: it uploads an
// endless stream until it is killed.
func TestHelperSlowUpload(t *testing.T) {
	if os.Getenv("CASINO_S3_CHILD") != "1" {
		t.Skip("child of TestKilledUpload")
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := ConfigFromEnv(os.Getenv("CASINO_S3_CHILD_REMOTE"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.PartSize, cfg.Threads = minPartSize, 1
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Put(context.Background(), "casino_db_20261202_030000.sql.gz", rand.Reader, PutOptions{})
	t.Fatal("the endless upload ended")
}

// TestKilledUpload: kill -9 during a multipart upload leaves no object,
// only an unfinished upload, which Incomplete finds and Abort removes.
func TestKilledUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := tests3.Plain(t)
	s := newStore(t, srv, tests3.BucketOptions{Versioning: true})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSlowUpload$")
	cmd.Env = append(append(os.Environ(), srv.Env()...), "CASINO_S3_CHILD=1", "CASINO_S3_CHILD_REMOTE="+s.URL())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var ups []Upload
	poll.Until(t, 30*time.Second, "an unfinished upload", func() bool {
		var err error
		if ups, err = s.Incomplete(ctx); err != nil {
			t.Fatal(err)
		}
		return len(ups) > 0
	})
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	if objs, err := s.List(ctx); err != nil || len(objs) != 0 {
		t.Fatalf("after kill -9: objects %+v, %v; want none", objs, err)
	}
	if ups[0].Name != "casino_db_20261202_030000.sql.gz" {
		t.Fatalf("unfinished upload %+v", ups[0])
	}
	for _, u := range ups {
		if err := s.Abort(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if ups, err := s.Incomplete(ctx); err != nil || len(ups) != 0 {
		t.Fatalf("after abort: %+v, %v", ups, err)
	}
}
