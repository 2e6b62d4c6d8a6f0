package backup

import (
	"context"
	"fmt"
	"testing"
	"time"

	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestCarryAuditOnceInBatches: more audit events after the snapshot than
// one INSERT batch carries all arrive in the copy; carrying again (the
// swap's retry after sessions came back) adds none; events the copy already
// holds before the snapshot are not the live ones' concern.
func TestCarryAuditOnceInBatches(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		open := func() (*sqlstore.DB, string) {
			t.Helper()
			u := testdb.URL(t, engine)
			db, err := sqlstore.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return db, u
		}
		live, liveURL := open()
		cp, copyURL := open()
		snap := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
		insert := func(db *sqlstore.DB, at time.Time, target string) {
			t.Helper()
			if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (ts, actor_email, action, target, after) VALUES (?, 'a@example.com', 'tenant.create', ?, '{"k":1}')`, at, target); err != nil {
				t.Fatal(err)
			}
		}
		// Before the snapshot: in both (the copy was restored from it).
		insert(live, snap.Add(-time.Minute), "old")
		insert(cp, snap.Add(-time.Minute), "old")
		want := carryBatch*2 + 7
		for i := 0; i < want; i++ {
			insert(live, snap.Add(time.Duration(i+1)*time.Millisecond), fmt.Sprintf("t-%d", i))
		}
		count := func() int {
			var n int
			cp.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'tenant.create'`).Scan(&n)
			return n
		}
		for attempt := 1; attempt <= 2; attempt++ {
			cs, err := carryLiveState(ctx, liveURL, copyURL, snap, RestoreIDValue{RestoreID: "r", Backup: "b"})
			if err != nil {
				t.Fatalf("carry %d: %v", attempt, err)
			}
			wantCarried := want
			if attempt == 2 {
				wantCarried = 0
			}
			if cs.AuditEvents != wantCarried || len(cs.Skipped) != 0 {
				t.Errorf("carry %d: %d audit events carried, skipped %v; want %d, none skipped", attempt, cs.AuditEvents, cs.Skipped, wantCarried)
			}
			if got := count(); got != want+1 {
				t.Errorf("after carry %d the copy holds %d events, want %d", attempt, got, want+1)
			}
		}
		var last string
		cp.QueryRowContext(ctx, `SELECT target FROM audit_events WHERE action = 'tenant.create' ORDER BY id DESC LIMIT 1`).Scan(&last)
		if wantLast := fmt.Sprintf("t-%d", want-1); last != wantLast {
			t.Errorf("newest carried event %q, want %q (carried in order)", last, wantLast)
		}
	})
}
