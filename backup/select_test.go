package backup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casino/backup"
	"casino/internal/testdb"
	"casino/s3store"
	"casino/sqlstore"
)

// TestSelectSource: what casino restore's argument names. A bare name and
// latest are looked up in the backup folder; a path that leaves it (dot-dot
// or a symlink) is refused; an s3:// argument or --remote goes to the
// bucket and never to the folder.
func TestSelectSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.SQLite)
	dir := t.TempDir()
	created, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "x.sqlite.gz"), []byte("x"), 0o600)
	if err := os.Symlink(filepath.Join(outside, "x.sqlite.gz"), filepath.Join(dir, "link.sqlite.gz")); err != nil {
		t.Fatal(err)
	}
	errBucket := errors.New("the bucket was asked")
	var asked []string
	o := backup.SourceOptions{Dir: dir, Keys: tk, FindRemote: func(_ context.Context, arg string) (*s3store.Store, *s3store.Backup, error) {
		asked = append(asked, arg)
		return nil, nil, errBucket
	}}
	name := filepath.Base(created.Path)
	for _, tc := range []struct {
		arg, wantPath, wantErr string
	}{
		{name, filepath.Join(dir, name), ""},
		{"latest", created.Path, ""},
		{filepath.Join(dir, name), filepath.Join(dir, name), ""},
		{"", "", ""},
		{dir + "/../" + filepath.Base(outside) + "/x.sqlite.gz", "", "outside the backup folder"},
		{"link.sqlite.gz", "", "outside the backup folder"},
	} {
		path, src, err := backup.SelectSource(ctx, tc.arg, o)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SelectSource(%q) = %q, %v; want %q", tc.arg, path, err, tc.wantErr)
			}
			continue
		}
		if err != nil || src != nil || path != tc.wantPath {
			t.Errorf("SelectSource(%q) = %q, %v, %v; want %q", tc.arg, path, src, err, tc.wantPath)
		}
	}
	if len(asked) != 0 {
		t.Fatalf("local arguments asked the bucket: %q", asked)
	}
	if _, _, err := backup.SelectSource(ctx, "s3://bucket/prefix/"+name, o); !errors.Is(err, errBucket) {
		t.Errorf("s3:// argument: %v, want the bucket's answer", err)
	}
	o.Remote = true
	if _, _, err := backup.SelectSource(ctx, "latest", o); !errors.Is(err, errBucket) {
		t.Errorf("--remote latest: %v, want the bucket's answer", err)
	}
	if want := []string{"s3://bucket/prefix/" + name, "latest"}; strings.Join(asked, " ") != strings.Join(want, " ") {
		t.Errorf("bucket asked for %q, want %q", asked, want)
	}
	// verify and adopt look a bare name up in the folder, and take a path
	// as it is (they refuse nothing: they do not restore).
	if got := backup.LookupPath(dir, name); got != filepath.Join(dir, name) {
		t.Errorf("LookupPath(%q) = %q, want it in the backup folder", name, got)
	}
	if p := filepath.Join(outside, "x.sqlite.gz"); backup.LookupPath(dir, p) != p {
		t.Errorf("LookupPath(%q) changed a path", p)
	}
	// With no trusted backup, latest names no file in the folder.
	empty := t.TempDir()
	if got := backup.LatestPath(empty, tk, "latest"); got != "latest" {
		t.Errorf("LatestPath in an empty folder = %q, want latest", got)
	}
}
