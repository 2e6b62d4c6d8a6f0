package dr

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"casino"
)

// pitrRestore is the record of a PostgreSQL point-in-time restore to T as
// casino restore --to-time reports it: stopped at the target, the last
// completed transaction 800 ms before it, two segments replayed unsigned
// (the .partial one among them).
func pitrRestore(T time.Time) RestoreRecord {
	reached := T.Add(-800 * time.Millisecond)
	return RestoreRecord{Step: "run casino restore --to-time", Source: "result file r.json", Facts: casino.RestoreFacts{
		FormatVersion: 1, RestoreID: strings.Repeat("5e", 16), StartedAt: T.Add(5 * time.Minute), FinishedAt: T.Add(6 * time.Minute),
		Backup: casino.RestoredBackup{Name: "casino_db_pitr.sql.gz", SnapshotAt: T},
		Target: casino.RestoreTarget{Engine: "postgres", Database: "casino_db"},
		PITR: &casino.PITRFacts{TargetTime: &T, ReachedAt: reached, Source: "/var/lib/casino/pitr", Mode: "target_time",
			BaseBackup: "20261202T020000Z", BaseBackupStartedAt: T.Add(-67 * time.Minute), LastXID: 812,
			RecoveryEnd:  "last completed transaction was at log time " + reached.Format("2006-01-02 15:04:05.999999") + "+00",
			RecoveryStop: "recovery stopping before commit of transaction 812, time " + T.Add(300*time.Millisecond).Format("2006-01-02 15:04:05.999999") + "+00",
			VerifiedWAL:  14, UnsignedWAL: []string{"00000001000000000000000F", "000000010000000000000010.partial"}},
	}}
}

// TestProofShowsPITRFacts: a point-in-time restore's entry in the proof
// names the recovery target, the time reached, the server's recovery end
// and stop lines, the base backup, and the WAL replayed without a signed
// manifest (the .partial segment said so); a journal of renderer version 3
// renders as it did.
func TestProofShowsPITRFacts(t *testing.T) {
	T := time.Date(2026, 12, 2, 3, 7, 11, 0, time.UTC)
	for _, c := range []struct {
		version int
		want    []string
		absent  []string
	}{
		{RendererVersion, []string{
			"— restored `casino_db_pitr.sql.gz` (facts from result file r.json)",
			"- recovery target: 2026-12-02T03:07:11Z; replay stopped at the target\n",
			"- time reached (last recovered change): 2026-12-02T03:07:10.2Z\n",
			`- recovery end line: "last completed transaction was at log time 2026-12-02 03:07:10.2+00"` + "\n",
			`- recovery stop line: "recovery stopping before commit of transaction 812, time 2026-12-02 03:07:11.3+00"` + "\n",
			"- first transaction not replayed: 812\n",
			`- base backup: "20261202T020000Z", started 2026-12-02T02:00:11Z` + "\n",
			`- WAL: 14 segments verified against signed manifests; 2 replayed without a signed manifest (the tail the stream had not sealed yet, 1 of them the .partial segment being written): 00000001000000000000000F, 000000010000000000000010.partial` + "\n",
			"— restored casino_db_pitr.sql.gz to 2026-12-02T03:07:11Z (reached 2026-12-02T03:07:10.2Z)\n",
		}, []string{"point in time reached", "CONTRADICT"}},
		{3, []string{"- point in time reached: 2026-12-02T03:07:10Z\n", "— restored casino_db_pitr.sql.gz (snapshot_at 2026-12-02T03:07:11Z)\n"}, []string{"recovery target", "WAL:", "(reached "}},
	} {
		in := newIncident(t)
		if err := in.Append(TypeRestore, pitrRestore(T)); err != nil {
			t.Fatal(err)
		}
		in.State.RendererVersion = c.version
		// Closed: the postmortem's timeline names the restore too.
		in.State.Closed, in.State.Close = true, &CloseReport{Scenario: "B", RTO: &Measure{}, RPO: &Measure{}}
		b, _ := in.RenderBytes()
		for _, w := range c.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("renderer %d: the proof lacks %q:\n%s", c.version, w, b)
			}
		}
		for _, a := range c.absent {
			if strings.Contains(string(b), a) {
				t.Errorf("renderer %d: the proof has %q", c.version, a)
			}
		}
	}
}

// TestContradictoryPITRFactsNeverCount: facts a recovery cannot produce
// (reached after the target, before the base backup started, a recovery
// end line naming another instant, WAL names that are markup) are refused
// when dr run captures them; in a journal that holds them anyway (written by
// hand, with the chain recomputed) the proof flags them instead of
// "restored", and close measures no RPO from them.
func TestContradictoryPITRFactsNeverCount(t *testing.T) {
	T := time.Date(2026, 12, 2, 3, 7, 11, 0, time.UTC)
	for _, c := range []struct {
		name string
		edit func(p *casino.PITRFacts)
		want string
	}{
		{"reached after the target", func(p *casino.PITRFacts) {
			p.ReachedAt = T.Add(40 * time.Minute)
			p.RecoveryEnd = ""
		}, "pitr.reached_at 2026-12-02T03:47:11Z is after the recovery target pitr.target_time 2026-12-02T03:07:11Z"},
		{"reached before the base backup", func(p *casino.PITRFacts) {
			p.ReachedAt = p.BaseBackupStartedAt.Add(-time.Hour)
			p.RecoveryEnd = ""
		}, "is before the base backup 20261202T020000Z started (pitr.base_backup_started_at 2026-12-02T02:00:11Z): replay starts at its checkpoint, so no replayed commit is older"},
		{"end line names another instant", func(p *casino.PITRFacts) {
			p.ReachedAt = T.Add(-time.Second)
		}, "pitr.recovery_end says the last completed transaction was at 2026-12-02 03:07:10.2, pitr.reached_at says 2026-12-02T03:07:10Z"},
		{"target_time without a target", func(p *casino.PITRFacts) { p.TargetTime = nil }, "pitr.mode is target_time but there is no pitr.target_time"},
		// No reached_at: the RPO is measured from backup.snapshot_at (set
		// below to 40 minutes after the target), which a recovery to the
		// target cannot have reached either.
		{"no reached_at, snapshot_at after the target", func(p *casino.PITRFacts) {
			p.ReachedAt, p.RecoveryEnd = time.Time{}, ""
		}, "backup.snapshot_at 2026-12-02T03:47:11Z (the instant the RPO is measured from, as pitr.reached_at is empty) is after the recovery target pitr.target_time 2026-12-02T03:07:11Z"},
		{"WAL name is markup", func(p *casino.PITRFacts) {
			p.UnsignedWAL = []string{"x\n\n### 9. 2026-12-02T03:30:00Z — restored `fake`"}
		}, "pitr.unsigned_wal[0] (50 bytes) is not a WAL segment name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := pitrRestore(T)
			rec.Facts.Backup.SnapshotAt = T.Add(40 * time.Minute)
			c.edit(rec.Facts.PITR)
			// Refused at capture.
			raw, _ := json.Marshal(rec.Facts)
			if _, err := ParseRestoreFacts(raw); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseRestoreFacts: %v, want a refusal naming %q", err, c.want)
			}
			// Flagged in a journal that holds them anyway.
			in := newIncident(t)
			if err := in.Append(TypeRestore, rec); err != nil {
				t.Fatal(err)
			}
			b, _ := in.RenderBytes()
			proof := string(b)
			if !strings.Contains(proof, "— restore facts CONTRADICT each other (does not count) `casino_db_pitr.sql.gz`") || !strings.Contains(proof, c.want) {
				t.Errorf("the proof does not flag the facts (want %q):\n%s", c.want, proof)
			}
			if strings.Contains(proof, "— restored `") || strings.Contains(proof, "\n### 9.") {
				t.Errorf("the proof renders the contradictory facts as a restore, or lets them add a line:\n%s", proof)
			}
			// Close measures no RPO from them.
			rpo := "1m"
			targets := &Targets{Scenarios: map[string]ScenarioTarget{"B": {RTO: "60m", RPO: &rpo}}}
			st := &State{Declaration: Declaration{IncidentStart: T.Add(3 * time.Minute), ImpactStart: T.Add(time.Second)}, Scenario: &ScenarioDecision{Scenario: "B"},
				Steps: map[string]*Step{}, Restores: []RestoreRecord{rec}}
			rep, err := ComputeClose(st, targets, "t.json", false)
			if err != nil {
				t.Fatal(err)
			}
			if rep.RPO.Value != "" || rep.RPO.Met == nil || *rep.RPO.Met || !strings.Contains(rep.RPO.NotKnown, "contradict each other") {
				t.Errorf("RPO %+v: want not known, NOT MET, naming the contradiction", rep.RPO)
			}
		})
	}
	// The facts as recorded hold together, and count.
	rec := pitrRestore(T)
	if ps := PITRProblems(&rec.Facts); ps != nil || !rec.Counts() {
		t.Errorf("good facts: problems %v, counts %v", ps, rec.Counts())
	}
	// A database idle since before the base backup: replay to the end of
	// the WAL replayed no commit, and the last one, read from the WAL, is
	// older than the base backup. True, and it counts.
	p := rec.Facts.PITR
	p.Mode, p.RecoveryEnd, p.RecoveryStop, p.ReachedAt = "end_of_wal", "", "", p.BaseBackupStartedAt.Add(-3*time.Hour)
	if ps := PITRProblems(&rec.Facts); ps != nil {
		t.Errorf("idle database, end of WAL: problems %v", ps)
	}
}
