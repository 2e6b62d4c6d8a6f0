package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"casino"
	"casino/internal/testdb"
)

func TestDrillStoreBothEngines(t *testing.T) {
	for _, eng := range testdb.Engines {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testdb.Open(t, eng)
			if _, ok, err := db.LastSuccessfulDrill(ctx); err != nil || ok {
				t.Fatalf("empty store: ok=%v err=%v", ok, err)
			}
			t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
			snap := t0.Add(-40 * time.Minute)
			ok1 := casino.Drill{ID: "a1", StartedAt: t0, Engine: string(eng), Backup: "b1.sql.gz", BackupSnapshotAt: &snap, Scratch: "scratch_a1"}
			if err := db.StartDrill(ctx, ok1); err != nil {
				t.Fatal(err)
			}
			if err := db.StartDrill(ctx, ok1); err == nil {
				t.Fatal("a second drill with the same id was recorded")
			}
			fin := t0.Add(90 * time.Second)
			ok1.FinishedAt, ok1.Verdict = &fin, casino.DrillSuccessful
			ok1.Phases = []casino.DrillPhase{{Name: casino.DrillPhaseRestore, Seconds: 1.5, OK: true}}
			ok1.RecoverySeconds, ok1.BackupAgeSeconds, ok1.JournalHead = 88.5, 2400, "abc"
			if err := db.FinishDrill(ctx, ok1); err != nil {
				t.Fatal(err)
			}
			crashed := casino.Drill{ID: "b2", StartedAt: t0.Add(time.Hour), Engine: string(eng), Backup: "b2.sql.gz"}
			if err := db.StartDrill(ctx, crashed); err != nil {
				t.Fatal(err)
			}
			if err := db.FinishDrill(ctx, casino.Drill{ID: "nope", Verdict: casino.DrillFailed}); err == nil {
				t.Fatal("finishing an unknown drill succeeded")
			}
			all, err := db.Drills(ctx, 30)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 2 || all[0].ID != "b2" || all[0].Verdict != casino.DrillRunning || all[0].FinishedAt != nil {
				t.Fatalf("drills, newest first: %+v", all)
			}
			got := all[1]
			if got.Verdict != casino.DrillSuccessful || got.FinishedAt == nil || !got.FinishedAt.Equal(fin) ||
				got.BackupSnapshotAt == nil || !got.BackupSnapshotAt.Equal(snap) || len(got.Phases) != 1 ||
				got.Phases[0].Seconds != 1.5 || got.RecoverySeconds != 88.5 || got.Scratch != "scratch_a1" || got.JournalHead != "abc" {
				t.Fatalf("read back: %+v", got)
			}
			last, ok, err := db.LastSuccessfulDrill(ctx)
			if err != nil || !ok || last.ID != "a1" {
				t.Fatalf("last successful: %+v %v %v", last, ok, err)
			}
		})
	}
}
