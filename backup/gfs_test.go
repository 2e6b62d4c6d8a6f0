package backup

import (
	"testing"
	"time"

	"casino"
	"casino/retention"
)

// TestPlanRetention: folder entries map onto the GFS policy: a backup
// without a manifest is held, a pre_restore_ copy is not counted, and the
// others are decided by the policy with every reason listed.
func TestPlanRetention(t *testing.T) {
	t.Parallel()
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	entry := func(name string, t time.Time) Entry {
		return Entry{Name: name, Manifest: &casino.BackupManifest{SnapshotAt: t}}
	}
	entries := []Entry{
		entry("casino_db_20261130_180000.sql.gz", at(30, 18)),
		entry(PrefixPreRestore+"20261130_170000.sql.gz", at(30, 17)),
		entry("casino_db_20261130_060000.sql.gz", at(30, 6)),
		entry("casino_db_20261129_180000.sql.gz", at(29, 18)),
		entry("casino_db_20261129_060000.sql.gz", at(29, 6)),
		{Name: "casino_db_20261101_000000.sql.gz", ModTime: at(1, 0)},
	}
	plan := PlanRetention(entries, retention.Policy{Last: 1, Daily: 2}, at(30, 19))
	want := map[string]string{
		"casino_db_20261130_180000.sql.gz":          "last snapshot, daily snapshot (2026-11-30)",
		PrefixPreRestore + "20261130_170000.sql.gz": "pre_restore_ safety copy: never counted or deleted without --include-safety",
		"casino_db_20261130_060000.sql.gz":          "",
		"casino_db_20261129_180000.sql.gz":          "daily snapshot (2026-11-29)",
		"casino_db_20261129_060000.sql.gz":          "",
		"casino_db_20261101_000000.sql.gz":          "no manifest: not pruned automatically",
	}
	if len(plan) != len(want) {
		t.Fatalf("%d decisions, want %d", len(plan), len(want))
	}
	for _, d := range plan {
		w := want[d.Entry.Name]
		if d.Keep != (w != "") || d.Keep && d.Reason != w {
			t.Errorf("%s: keep=%v %q, want keep=%v %q", d.Entry.Name, d.Keep, d.Reason, w != "", w)
		}
		if !d.Keep && d.Reason != "matches no rule of --keep-last 1 --keep-daily 2" {
			t.Errorf("%s: deleted with reason %q", d.Entry.Name, d.Reason)
		}
	}
}
