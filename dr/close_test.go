package dr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"casino"
)

func TestComputeClose(t *testing.T) {
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	impact := start.Add(-20 * time.Minute)
	rpo := "1h"
	targets := &Targets{Scenarios: map[string]ScenarioTarget{"A": {RTO: "15m"}, "B": {RTO: "60m", RPO: &rpo}}}
	restored := RestoreRecord{Step: "run r", Facts: casino.RestoreFacts{FormatVersion: 1, RestoreID: strings.Repeat("ab", 16),
		Backup: casino.RestoredBackup{Name: "casino_db_20261129_020000.sql.gz", SnapshotAt: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)}}}
	state := func(scenario string, vals []Validation, restores ...RestoreRecord) *State {
		return &State{Declaration: Declaration{IncidentStart: start, ImpactStart: impact}, Scenario: &ScenarioDecision{Scenario: scenario}, Steps: map[string]*Step{}, Validations: vals, Restores: restores}
	}
	v := func(min int, passed, complete bool) Validation {
		return Validation{End: start.Add(time.Duration(min) * time.Minute), Passed: passed, Complete: complete, Skipped: []string{"logs_5xx"},
			Checks: []CheckResult{{Name: "data", Status: Pass}}}
	}
	noData := v(20, true, false)
	noData.Checks, noData.Skipped = nil, []string{"data"}
	cases := []struct {
		name            string
		st              *State
		rto, rpo        string
		rtoMet, rpoMet  string
		unmet, rtoBasis string
	}{
		{"B restored in time", state("B", []Validation{v(30, false, true), v(45, true, true)}, restored), "45m0s", "40m0s", "true", "true", "", ""},
		{"B too slow", state("B", []Validation{v(75, true, true)}, restored), "1h15m0s", "40m0s", "false", "true", "RTO", ""},
		{"B only incomplete passed", state("B", []Validation{v(20, true, false)}, restored), "20m0s", "40m0s", "true", "true", "", "CAVEAT"},
		{"B without a restore", state("B", []Validation{v(20, true, true)}), "20m0s", "", "true", "false", "RPO", ""},
		{"A rolls back, no RPO", state("A", []Validation{v(10, true, true)}), "10m0s", "", "true", "nil", "", ""},
		{"never validated", state("A", nil), "", "", "false", "nil", "RTO", ""},
		{"passed without checking the data", state("B", []Validation{noData}, restored), "", "40m0s", "false", "true", "RTO", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := ComputeClose(c.st, targets, "targets.json", false)
			if err != nil {
				t.Fatal(err)
			}
			b := func(p *bool) string {
				if p == nil {
					return "nil"
				}
				if *p {
					return "true"
				}
				return "false"
			}
			if rep.RTO.Value != c.rto || b(rep.RTO.Met) != c.rtoMet || rep.RPO.Value != c.rpo || b(rep.RPO.Met) != c.rpoMet || strings.Join(rep.Unmet, ",") != c.unmet {
				t.Errorf("got RTO %q met %s, RPO %q met %s, unmet %v; want %q %s, %q %s, %q (RPO note: %s)",
					rep.RTO.Value, b(rep.RTO.Met), rep.RPO.Value, b(rep.RPO.Met), rep.Unmet, c.rto, c.rtoMet, c.rpo, c.rpoMet, c.unmet, rep.RPO.NotKnown)
			}
			if !strings.Contains(rep.RTO.Basis, c.rtoBasis) {
				t.Errorf("RTO basis %q lacks %q", rep.RTO.Basis, c.rtoBasis)
			}
		})
	}
	if _, err := ComputeClose(&State{}, targets, "t", false); err == nil {
		t.Error("close without a scenario should fail")
	}
	// The newest validation found the service on other data: no RTO.
	bad := v(50, false, true)
	bad.Checks = []CheckResult{{Name: "data", Status: Fail, Detail: "restore_id is none, expected abab"}}
	st := state("B", []Validation{v(30, true, true), bad}, restored)
	if _, err := ComputeClose(st, targets, "t", false); !errors.Is(err, ErrDataNotRestored) || !strings.Contains(err.Error(), "restore_id is none") {
		t.Errorf("close after a failed data check: %v, want ErrDataNotRestored naming the mismatch", err)
	}
	rep, err := ComputeClose(st, targets, "t", true)
	if err != nil || rep.RTO.Value != "" || !strings.Contains(rep.RTO.NotKnown, "--unrecovered") {
		t.Errorf("close --unrecovered: %+v, %v", rep.RTO, err)
	}
}

// TestRPOFromTypedRestoreFacts: the RPO comes from the typed restore entry
// alone, whatever the backup is called; dry runs and failed restores never
// count; a later real restore supersedes an earlier one.
func TestRPOFromTypedRestoreFacts(t *testing.T) {
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	rpoT := "2h"
	targets := &Targets{Scenarios: map[string]ScenarioTarget{"B": {RTO: "60m", RPO: &rpoT}}}
	rec := func(name string, snap time.Time, dry bool, exit int) RestoreRecord {
		return RestoreRecord{ExitCode: exit, Facts: casino.RestoreFacts{FormatVersion: 1, RestoreID: strings.Repeat("cd", 16), DryRun: dry,
			Backup: casino.RestoredBackup{Name: name, SnapshotAt: snap}}}
	}
	at := func(h int) time.Time { return start.Add(time.Duration(-h) * time.Hour) }
	cases := []struct {
		name     string
		restores []RestoreRecord
		want     string
		basis    string
	}{
		{"_2 backup name", []RestoreRecord{rec("casino_db_20261129_010000_2.sql.gz", at(2), false, 0)}, "2h0m0s", "casino_db_20261129_010000_2.sql.gz"},
		{"any name at all", []RestoreRecord{rec("nightly.dump", at(1), false, 0)}, "1h0m0s", "nightly.dump"},
		{"dry run after the real one does not count", []RestoreRecord{rec("real.sql.gz", at(3), false, 0), rec("dry.sql.gz", at(1), true, 0)}, "3h0m0s", "real.sql.gz"},
		{"only a dry run", []RestoreRecord{rec("dry.sql.gz", at(1), true, 0)}, "", ""},
		{"failed restore does not count", []RestoreRecord{rec("failed.sql.gz", at(1), false, 3)}, "", ""},
		{"later real restore wins", []RestoreRecord{rec("old.sql.gz", at(5), false, 0), rec("new.sql.gz", at(1), false, 0)}, "1h0m0s", "new.sql.gz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &State{Declaration: Declaration{IncidentStart: start, ImpactStart: start}, Scenario: &ScenarioDecision{Scenario: "B"}, Steps: map[string]*Step{}, Restores: c.restores}
			rep, err := ComputeClose(st, targets, "t", false)
			if err != nil {
				t.Fatal(err)
			}
			if rep.RPO.Value != c.want || !strings.Contains(rep.RPO.Basis, c.basis) {
				t.Errorf("RPO %q (basis %q, not known %q), want %q naming %q", rep.RPO.Value, rep.RPO.Basis, rep.RPO.NotKnown, c.want, c.basis)
			}
		})
	}
}

// TestParseRestoreFactsRefusesWhatIsNotFacts: hostile or unrelated output is
// never taken for a restore.
func TestParseRestoreFactsRefusesWhatIsNotFacts(t *testing.T) {
	good := `{"format_version":1,"restore_id":"` + strings.Repeat("0a", 16) + `","dry_run":false,"backup":{"name":"b.sql.gz","snapshot_at":"2026-11-29T02:00:00Z"},"row_counts":{"tenants":2},"target":{"engine":"sqlite","path":"/d/c.db"}}`
	if f, err := ParseRestoreFacts([]byte("\n" + good + "\n")); err != nil || f.Backup.Name != "b.sql.gz" || f.RowCounts["tenants"] != 2 {
		t.Fatalf("good facts: %+v, %v", f, err)
	}
	for name, in := range map[string]string{
		"text":        "restore complete: casino_db_20261129_020000.sql.gz",
		"old --json":  `{"ok":true,"result":{"snapshot_at":"2026-11-29T02:00:00Z"}}`,
		"two objects": good + good,
		"array":       "[" + good + "]",
		"empty":       "",
	} {
		if _, err := ParseRestoreFacts([]byte(in)); err != ErrNotRestoreFacts {
			t.Errorf("%s: err %v, want ErrNotRestoreFacts", name, err)
		}
	}
	for name, in := range map[string]string{
		"short restore_id": strings.Replace(good, strings.Repeat("0a", 16), "abc", 1),
		"no backup name":   strings.Replace(good, `"name":"b.sql.gz"`, `"name":""`, 1),
		"no snapshot_at":   strings.Replace(good, `,"snapshot_at":"2026-11-29T02:00:00Z"`, ``, 1),
		"future format":    strings.Replace(good, `"format_version":1`, `"format_version":99`, 1),
		"wrong type":       strings.Replace(good, `"row_counts":{"tenants":2}`, `"row_counts":{"tenants":"x"}`, 1),
	} {
		if _, err := ParseRestoreFacts([]byte(in)); err == nil || err == ErrNotRestoreFacts {
			t.Errorf("%s: err %v, want an error naming the field", name, err)
		}
	}
}

// TestFillTemplateFillsOrPointsEveryPlaceholderItKnows: declare's proof head
// keeps no placeholder in the sections the journal records.
func TestFillTemplatePointsJournalSections(t *testing.T) {
	tpl := "# Proof\n\n**Kind:** <DRILL or INCIDENT PROOF>\n\n## Incident\n\n| Field | Value |\n|---|---|\n| Severity | <SEV-1/2/3> |\n\n## Scenario\n\n- Scenario: <A/B/C>\n\n## Backup used\n\n| File | <…> |\n\n## Commands\n\n### <n>. <…>\n\n## Validation\n\n| <…> |\n\n## RTO and RPO\n\n| <…m> |\n\n## Postmortem\n\n- Root cause: <…>\n"
	got := fillTemplate(tpl, "2026-11-29", Declaration{Severity: "SEV-1"})
	for _, gone := range []string{"<A/B/C>", "| File | <…> |", "### <n>.", "| <…> |", "| <…m> |", "<SEV-1/2/3>", "<DRILL"} {
		if strings.Contains(got, gone) {
			t.Errorf("placeholder %q left in the proof head:\n%s", gone, got)
		}
	}
	for _, kept := range []string{"## Scenario", "## RTO and RPO", "see the generated record below", "| Severity | SEV-1 |", "- Root cause: <…>"} {
		if !strings.Contains(got, kept) {
			t.Errorf("proof head lacks %q:\n%s", kept, got)
		}
	}
}

// TestCloseTargetsFromDeclaredPITR: the configuration declare recorded
// chooses the targets, never the restore. A PITR deployment that fell back
// to an hourly backup is judged against the PITR RPO (and misses it); a
// point-in-time restore on a deployment declared without PITR is judged
// against the hourly RPO; a journal from before declare recorded the
// configuration takes the plain targets.
func TestCloseTargetsFromDeclaredPITR(t *testing.T) {
	start := time.Date(2026, 12, 2, 3, 10, 0, 0, time.UTC)
	impact := time.Date(2026, 12, 2, 3, 7, 12, 0, time.UTC)
	hour, minute := "1h", "1m"
	targets := &Targets{Scenarios: map[string]ScenarioTarget{"B": {RTO: "60m", RPO: &hour, PITR: &PITRTarget{RTO: "45m", RPO: &minute}}, "C": {RTO: "120m", RPO: &hour}}}
	logical := RestoreRecord{Facts: casino.RestoreFacts{Backup: casino.RestoredBackup{Name: "casino_db_20261202_030000.sql.gz", SnapshotAt: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}}}
	target := impact.Add(-time.Second)
	pointInTime := RestoreRecord{Facts: casino.RestoreFacts{Backup: casino.RestoredBackup{Name: "pitr"},
		PITR: &casino.PITRFacts{TargetTime: &target, ReachedAt: impact.Add(-1500 * time.Millisecond), Mode: "target_time"}}}
	on := &PITRConfig{Mode: PITRLitestream, From: "CASINO_PITR", Source: "file:///replica"}
	off := &PITRConfig{Mode: PITROff, From: "--pitr"}
	valid := []Validation{{End: start.Add(20 * time.Minute), Passed: true, Complete: true, Checks: []CheckResult{{Name: "data", Status: Pass}}}}
	cases := []struct {
		name     string
		scenario string
		cfg      *PITRConfig
		restore  RestoreRecord
		rpo      string
		target   string
		met      bool
		config   string
	}{
		{"PITR on, point-in-time restore", "B", on, pointInTime, "2s", "1m", true, "with PITR"},
		{"PITR on, fell back to the hourly backup", "B", on, logical, "7m12s", "1m", false, "with PITR"},
		{"PITR off, point-in-time restore anyway", "B", off, pointInTime, "2s", "1h", true, "without PITR"},
		{"PITR off, hourly backup", "B", off, logical, "7m12s", "1h", true, "without PITR"},
		{"not recorded (older journal)", "B", nil, logical, "7m12s", "1h", true, ""},
		{"PITR on, no pitr targets for C", "C", on, pointInTime, "2s", "1h", true, "the targets file has no pitr targets for scenario C"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &State{Declaration: Declaration{IncidentStart: start, ImpactStart: impact, PITR: c.cfg}, Scenario: &ScenarioDecision{Scenario: c.scenario},
				Steps: map[string]*Step{}, Validations: valid, Restores: []RestoreRecord{c.restore}}
			rep, err := ComputeClose(st, targets, "t.json", false)
			if err != nil {
				t.Fatal(err)
			}
			if rep.RPO.Value != c.rpo || rep.RPO.Target != c.target || rep.RPO.Met == nil || *rep.RPO.Met != c.met {
				t.Errorf("RPO %q target %q met %v, want %q %q %v", rep.RPO.Value, rep.RPO.Target, rep.RPO.Met, c.rpo, c.target, c.met)
			}
			if !strings.Contains(rep.Configuration, c.config) || (c.config == "") != (rep.Configuration == "") {
				t.Errorf("configuration %q, want %q", rep.Configuration, c.config)
			}
			wantRTO := "60m"
			if c.scenario == "C" {
				wantRTO = "120m"
			}
			if c.cfg.On() && c.scenario == "B" {
				wantRTO = "45m"
			}
			if rep.RTO.Target != wantRTO {
				t.Errorf("RTO target %q, want %q", rep.RTO.Target, wantRTO)
			}
		})
	}
	// A pitr target that does not parse is refused with the file named.
	if _, err := ParseTargets([]byte(`{"version":1,"scenarios":{"B":{"rto":"1h","rpo":"1h","pitr":{"rto":"1h","rpo":"soon"}}}}`), "x.json"); err == nil || !strings.Contains(err.Error(), "scenario B pitr rpo") {
		t.Errorf("bad pitr rpo: %v", err)
	}
}
