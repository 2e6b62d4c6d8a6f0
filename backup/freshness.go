package backup

import (
	"sync"
	"time"

	"casino"
)

// NewestCache is Newest(Dir, Keys) for casino serve, which asks on every
// metrics scrape and DR readiness check: the folder is scanned at most once
// per Every, and the metrics and the readiness share the scan.
type NewestCache struct {
	Dir   string
	Keys  *Keys
	Every time.Duration

	mu    sync.Mutex
	at    time.Time
	entry *Entry
}

// Get returns the newest trusted backup of the folder (nil when none), as
// of a scan at most Every old.
func (c *NewestCache) Get() *Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) >= c.Every {
		c.entry, c.at = Newest(c.Dir, c.Keys), time.Now()
	}
	return c.entry
}

// Freshness is the folder's newest trusted backup for the DR readiness
// (where "local"), its age counted from now.
func (c *NewestCache) Freshness() casino.BackupFreshness {
	f := casino.BackupFreshness{Where: "local", Location: c.Dir}
	if e := c.Get(); e != nil {
		snap := e.Manifest.SnapshotAt.UTC()
		f.Name, f.SnapshotAt, f.AgeSeconds = e.Name, &snap, time.Since(snap).Seconds()
	}
	return f
}
