package pitr

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUntarRefusesEscapes: a base backup whose tar names a path outside the
// data folder, or a symlink, is refused and writes nothing outside it.
func TestUntarRefusesEscapes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		hdr  tar.Header
		want string
	}{
		{"dotdot", tar.Header{Name: "../../evil", Typeflag: tar.TypeReg, Mode: 0o600, Size: 4}, "escapes the data folder"},
		{"nested dotdot", tar.Header{Name: "base/../../evil", Typeflag: tar.TypeReg, Mode: 0o600, Size: 4}, "escapes the data folder"},
		{"absolute", tar.Header{Name: "/evil", Typeflag: tar.TypeReg, Mode: 0o600, Size: 4}, "escapes the data folder"},
		{"symlink", tar.Header{Name: "pg_tblspc/16384", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, "tablespaces are not supported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, "base.tar.gz")
			f, _ := os.Create(p)
			zw := gzip.NewWriter(f)
			tw := tar.NewWriter(zw)
			tw.WriteHeader(&c.hdr)
			if c.hdr.Size > 0 {
				tw.Write([]byte("evil"))
			}
			tw.Close()
			zw.Close()
			f.Close()
			data := filepath.Join(root, "a", "b", "data")
			err := untarGz(p, data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("untar: %v, want %q", err, c.want)
			}
			for _, q := range []string{filepath.Join(root, "evil"), filepath.Join(root, "a", "evil"), "/evil"} {
				if _, err := os.Stat(q); err == nil {
					t.Errorf("%s was written", q)
				}
			}
		})
	}
}

// TestPlanRecoveryRefusals: an empty folder, garbage stream.json and a folder
// whose stream never caught up are refused with a specific error.
func TestPlanRecoveryRefusals(t *testing.T) {
	t.Parallel()
	now := time.Now()
	empty := t.TempDir()
	if _, _, err := PlanRecovery(empty, nil, now); !errors.Is(err, ErrNoBaseBackup) {
		t.Errorf("empty folder: %v, want ErrNoBaseBackup", err)
	}
	garbage := t.TempDir()
	os.WriteFile(filepath.Join(garbage, "stream.json"), []byte("{not json"), 0o600)
	if _, _, err := PlanRecovery(garbage, nil, now); err == nil || !strings.Contains(err.Error(), "stream.json") {
		t.Errorf("garbage stream.json: %v, want an error naming it", err)
	}
	if _, err := ReadStatus(garbage, now); err == nil {
		t.Error("status of a garbage stream.json: no error")
	}
}

// TestParseTarget: --to-time takes an RFC 3339 instant, and "latest" (a nil
// target) only where the command allows it; anything else names the value.
func TestParseTarget(t *testing.T) {
	if got, err := ParseTarget("2026-12-02T03:07:11.5Z", false); err != nil || !got.Equal(time.Date(2026, 12, 2, 3, 7, 11, 5e8, time.UTC)) {
		t.Errorf("instant: %v %v", got, err)
	}
	if got, err := ParseTarget("latest", true); err != nil || got != nil {
		t.Errorf("latest: %v %v, want a nil target", got, err)
	}
	for _, c := range []struct {
		in       string
		latestOK bool
	}{{"latest", false}, {"yesterday", true}, {"2026-12-02 03:07", true}, {"", false}} {
		if _, err := ParseTarget(c.in, c.latestOK); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.in)) {
			t.Errorf("ParseTarget(%q, %v): %v, want an error naming the value", c.in, c.latestOK, err)
		}
	}
}
