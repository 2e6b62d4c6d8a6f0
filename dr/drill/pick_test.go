package drill

import (
	"strings"
	"testing"
	"time"
)

// TestChoose: latest takes the newest; random-within draws only among the
// backups inside the window and says so; an empty window or an unknown
// mode is refused by name.
func TestChoose(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	var cs []candidate
	for i := 0; i < 12; i++ { // one a day, newest first
		cs = append(cs, candidate{name: "b" + string(rune('a'+i)), at: now.Add(-time.Duration(i)*24*time.Hour - time.Hour), idx: i})
	}
	c, why, err := choose(PickLatest, 0, cs, "backups", now)
	if err != nil || c.name != "ba" || !strings.HasPrefix(why, "latest: the newest of 12 trusted backups in backups") {
		t.Errorf("latest: %v %q %v", c, why, err)
	}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		c, why, err := choose(PickRandomWithin, 7*24*time.Hour, cs, "backups", now)
		if err != nil || c.idx > 6 || !strings.Contains(why, "of the 7 trusted backups in backups with snapshot_at after 2026-11-25T03:00:00Z") {
			t.Fatalf("random-within 7d: %v %q %v", c, why, err)
		}
		seen[c.name] = true
	}
	if len(seen) < 2 {
		t.Errorf("random-within drew only %v in 200 draws", seen)
	}
	if _, _, err := choose(PickRandomWithin, time.Minute, cs, "backups", now); err == nil || !strings.Contains(err.Error(), "within 1m0s") {
		t.Errorf("empty window: %v", err)
	}
	if _, _, err := choose(PickLatest, 0, nil, "backups", now); err == nil || !strings.Contains(err.Error(), "no trusted backup to drill in backups") {
		t.Errorf("no backups: %v", err)
	}
	if _, _, err := choose("oldest", 0, cs, "backups", now); err == nil {
		t.Error("unknown pick accepted")
	}
}

// TestPGPartsSameDatabase: the production check sees through spellings of
// the same address (localhost and 127.0.0.1, an implicit port).
func TestPGPartsSameDatabase(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"postgres://u:p@localhost/casino_db", "postgres://other@127.0.0.1:5432/casino_db?sslmode=disable", true},
		{"postgres://u@DB.example:5432/casino_db", "postgresql://u@db.example/casino_db", true},
		{"postgres://u@db.example/casino_db", "postgres://u@db.example/casino_db__drill_3f9a0c1d2e4b", false},
		{"postgres://u@db.example/casino_db", "postgres://u@db.example:5433/casino_db", false},
	} {
		as, adb, _ := pgParts(tc.a)
		bs, bdb, _ := pgParts(tc.b)
		if got := as == bs && adb == bdb; got != tc.same {
			t.Errorf("%s vs %s: same %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
