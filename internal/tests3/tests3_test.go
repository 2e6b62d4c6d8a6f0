package tests3

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestHelperNeedsS3 is run as a child by TestUnreachableFailsInCI.
func TestHelperNeedsS3(t *testing.T) {
	if os.Getenv("CASINO_TESTS3_CHILD") != "1" {
		t.Skip("child of TestUnreachableFailsInCI")
	}
	NewBucket(t, Plain(t), BucketOptions{})
}

// TestUnreachableFailsInCI: with CI=true an unreachable S3 server fails the
// test instead of skipping it, so a run without the server cannot pass as
// tested; without CI it skips.
func TestUnreachableFailsInCI(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeedsS3$", "-test.v")
		cmd.Env = append(os.Environ(), "CASINO_TESTS3_CHILD=1", "CI="+ci,
			"CASINO_TEST_S3_URL=http://a:b@127.0.0.1:1")
		out, err := cmd.CombinedOutput()
		switch ci {
		case "true":
			if err == nil || !strings.Contains(string(out), "required in CI") {
				t.Errorf("CI=true: want failure, got err=%v\n%s", err, out)
			}
		default:
			if err != nil || !strings.Contains(string(out), "SKIP") {
				t.Errorf("CI unset: want skip, got err=%v\n%s", err, out)
			}
		}
	}
}

// TestBuckets: on both endpoints each bucket is new and empty, an Object
// Lock bucket has versioning and a lock configuration, and a bucket that
// asked for neither has no versioning.
func TestBuckets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, s := range []Server{Plain(t), TLS(t)} {
		c := s.Client(t)
		b := NewBucket(t, s, BucketOptions{ObjectLock: true})
		v, err := c.GetBucketVersioning(ctx, b)
		if err != nil || !v.Enabled() {
			t.Fatalf("%s: versioning = %+v, %v; want enabled", s.Endpoint, v, err)
		}
		if enabled, _, _, _, err := c.GetObjectLockConfig(ctx, b); err != nil || enabled != "Enabled" {
			t.Fatalf("%s: object lock = %q, %v; want Enabled", s.Endpoint, enabled, err)
		}
		n := 0
		for range c.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true}) {
			n++
		}
		if n != 0 {
			t.Fatalf("%s: new bucket holds %d objects", s.Endpoint, n)
		}
		plain := NewBucket(t, s, BucketOptions{})
		if v, _ := c.GetBucketVersioning(ctx, plain); v.Enabled() {
			t.Errorf("%s: versioning enabled on a bucket that did not ask", s.Endpoint)
		}
		if _, err := c.PutObject(ctx, b, "x", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("%s: put: %v", s.Endpoint, err)
		}
	}
}
