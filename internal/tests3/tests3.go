// Package tests3 gives tests a real S3 server: versitygw (the Versity S3
// gateway) started by scripts/ci/versitygw.sh on 127.0.0.1 with its posix
// backend, bucket versioning and Object Lock, over plain HTTP and over TLS
// with a self-signed certificate. Each test gets a fresh bucket.
//
// Without the server a test skips, except under CI=true, where it fails: a
// skipped remote must never pass as tested.
package tests3

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is one endpoint of the test S3 server.
type Server struct {
	// Endpoint is the URL without credentials: http://127.0.0.1:59000 or
	// https://127.0.0.1:59001.
	Endpoint  string
	AccessKey string
	SecretKey string
	// CAFile is the PEM certificate to trust for the TLS endpoint; "" for
	// plain HTTP.
	CAFile string
}

// Host is the endpoint's host:port.
func (s Server) Host() string {
	u, _ := url.Parse(s.Endpoint)
	return u.Host
}

// Secure reports whether the endpoint is https.
func (s Server) Secure() bool { return strings.HasPrefix(s.Endpoint, "https://") }

// Env returns the casino settings that point at this server (endpoint,
// credentials, CA, and CASINO_S3_INSECURE=1 for plain HTTP on loopback),
// with AWS_CA_BUNDLE cleared so it cannot leak into the client.
func (s Server) Env() []string {
	env := []string{
		"CASINO_S3_ENDPOINT=" + s.Endpoint,
		"CASINO_S3_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_CA_BUNDLE=",
	}
	if s.CAFile != "" {
		env = append(env, "CASINO_S3_CA_FILE="+s.CAFile)
	} else {
		env = append(env, "CASINO_S3_INSECURE=1")
	}
	return env
}

// Client returns a minio client for the server: tests use it to look at and
// tamper with the bucket directly, as an attacker with credentials would.
func (s Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	mu      sync.Mutex
	servers = map[string]Server{}
	errs    = map[string]error{}
)

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("the S3 server (versitygw) is required in CI: %s", why)
	}
	t.Skipf("S3 server (versitygw) not available: %s", why)
}

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// server returns the endpoint named by env (with credentials in its URL),
// or starts it with scripts/ci/versitygw.sh MODE.
func server(t testing.TB, env, mode string) Server {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if s, ok := servers[mode]; ok {
		return s
	}
	if err, ok := errs[mode]; ok {
		unavailable(t, err.Error())
	}
	s, err := start(env, mode)
	if err != nil {
		errs[mode] = err
		unavailable(t, err.Error())
	}
	servers[mode] = s
	return s
}

func start(env, mode string) (Server, error) {
	raw := os.Getenv(env)
	script := filepath.Join(RepoRoot(), "scripts", "ci", "versitygw.sh")
	if raw == "" {
		out, err := exec.Command("bash", script, mode).Output()
		if err != nil {
			return Server{}, fmt.Errorf("scripts/ci/versitygw.sh %s: %v", mode, err)
		}
		raw = strings.TrimSpace(string(out))
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		return Server{}, fmt.Errorf("%s=%q: want scheme://ACCESS:SECRET@host:port", env, raw)
	}
	sec, _ := u.User.Password()
	s := Server{Endpoint: u.Scheme + "://" + u.Host, AccessKey: u.User.Username(), SecretKey: sec}
	if mode == "tls" {
		s.CAFile = os.Getenv("CASINO_TEST_S3_CA")
		if s.CAFile == "" {
			out, err := exec.Command("bash", script, "ca").Output()
			if err != nil {
				return Server{}, fmt.Errorf("scripts/ci/versitygw.sh ca: %v", err)
			}
			s.CAFile = strings.TrimSpace(string(out))
		}
	}
	// The server answers, with these credentials, or the test cannot run.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.client()
	if err != nil {
		return Server{}, err
	}
	if _, err := c.ListBuckets(ctx); err != nil {
		return Server{}, fmt.Errorf("%s: %v", s.Endpoint, err)
	}
	return s, nil
}

func (s Server) client() (*minio.Client, error) {
	opts := &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: s.Secure(),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	return minio.New(s.Host(), opts)
}

// Plain returns the plain-HTTP endpoint (CASINO_TEST_S3_URL, or started).
func Plain(t testing.TB) Server {
	t.Helper()
	return server(t, "CASINO_TEST_S3_URL", "url")
}

// TLS returns the TLS endpoint (CASINO_TEST_S3_TLS_URL and
// CASINO_TEST_S3_CA, or started) and the certificate to trust.
func TLS(t testing.TB) Server {
	t.Helper()
	return server(t, "CASINO_TEST_S3_TLS_URL", "tls")
}

// BucketOptions says what a new bucket has switched on.
type BucketOptions struct {
	// Versioning keeps every version of an object.
	Versioning bool
	// ObjectLock enables Object Lock (and with it versioning).
	ObjectLock bool
}

// NewBucket creates a fresh, empty bucket on s for this test and returns its
// name. When the test ends, whatever its locks allow is deleted.
func NewBucket(t testing.TB, s Server, o BucketOptions) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "casino-t-" + hex.EncodeToString(b)
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1", ObjectLocking: o.ObjectLock}); err != nil {
		unavailable(t, fmt.Sprintf("make bucket %s: %v", name, err))
	}
	if o.Versioning && !o.ObjectLock {
		if err := c.EnableVersioning(ctx, name); err != nil {
			t.Fatalf("enable versioning on %s: %v", name, err)
		}
	}
	t.Cleanup(func() { removeBucket(c, name) })
	return name
}

// removeBucket deletes every object version governance allows, aborts open
// multipart uploads, and then the bucket; what compliance locks keep stays.
func removeBucket(c *minio.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for u := range c.ListIncompleteUploads(ctx, name, "", true) {
		if u.Err == nil {
			c.RemoveIncompleteUpload(ctx, name, u.Key)
		}
	}
	for o := range c.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			break
		}
		c.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{VersionID: o.VersionID, GovernanceBypass: true})
	}
	c.RemoveBucket(ctx, name)
}
