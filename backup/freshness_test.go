package backup_test

import (
	"context"
	"testing"
	"time"

	"casino/backup"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestNewestCache: serve's metrics and readiness see the folder's newest
// trusted backup, rescanned at most once per Every: a backup made since
// the last scan shows only after Every.
func TestNewestCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.SQLite)
	dir := t.TempDir()
	c := &backup.NewestCache{Dir: dir, Keys: tk, Every: time.Hour}
	if e, f := c.Get(), c.Freshness(); e != nil || f.Name != "" || f.Where != "local" || f.Location != dir {
		t.Fatalf("empty folder: %v, %+v", e, f)
	}
	first, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Get(); e != nil {
		t.Fatalf("rescanned within Every: got %s", e.Name)
	}
	c = &backup.NewestCache{Dir: dir, Keys: tk, Every: 0}
	f := c.Freshness()
	if e := c.Get(); e == nil || e.Path != first.Path {
		t.Fatalf("Get = %v, want %s", e, first.Path)
	}
	if f.SnapshotAt == nil || !f.SnapshotAt.Equal(first.Manifest.SnapshotAt.UTC()) || f.AgeSeconds < 0 {
		t.Errorf("Freshness = %+v, want the backup's snapshot_at and an age", f)
	}
}
