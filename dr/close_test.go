package dr

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino"
)

func TestComputeClose(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	impact := start.Add(-20 * time.Minute)
	bk := filepath.Join(dir, "casino_db_20261129_020000.sql.gz")
	os.WriteFile(bk, []byte("x"), 0o644)
	m, _ := json.Marshal(casino.BackupManifest{SnapshotAt: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)})
	os.WriteFile(casino.ManifestPath(bk), m, 0o644)
	rpo := "1h"
	targets := &Targets{Scenarios: map[string]ScenarioTarget{"A": {RTO: "15m"}, "B": {RTO: "60m", RPO: &rpo}}}
	restored := &Step{Key: "run r", Kind: "run", Commands: [][]string{{"./scripts/restore_postgres.sh", "casino_db_20261129_020000.sql.gz"}}, Dir: dir, Ended: true}
	state := func(scenario string, vals []Validation, steps ...*Step) *State {
		st := &State{Declaration: Declaration{IncidentStart: start, ImpactStart: impact}, Scenario: &ScenarioDecision{Scenario: scenario}, Steps: map[string]*Step{}, Validations: vals}
		for _, s := range steps {
			st.Steps[s.Key] = s
			st.Order = append(st.Order, s.Key)
		}
		return st
	}
	v := func(min int, passed, complete bool) Validation {
		return Validation{End: start.Add(time.Duration(min) * time.Minute), Passed: passed, Complete: complete, Skipped: []string{"logs_5xx"}}
	}
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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := ComputeClose(c.st, targets, "targets.json")
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
	if _, err := ComputeClose(&State{}, targets, "t"); err == nil {
		t.Error("close without a scenario should fail")
	}
}

func TestRestoredBackupPrefersRestores(t *testing.T) {
	st := &State{Steps: map[string]*Step{}}
	add := func(key string, argv ...string) {
		st.Steps[key] = &Step{Key: key, Kind: "run", Commands: [][]string{argv}, Dir: "/w", Ended: true}
		st.Order = append(st.Order, key)
	}
	add("a", "casino", "backup", "verify", "backups/casino_db_20261129_010000.sql.gz")
	add("b", "./scripts/restore_postgres.sh", "backups/casino_db_20261129_020000.sql.gz")
	add("c", "casino", "backup", "verify", "backups/casino_db_20261129_030000.sql.gz")
	if got, _ := st.RestoredBackup(); got != "/w/backups/casino_db_20261129_020000.sql.gz" {
		t.Fatalf("RestoredBackup = %s", got)
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
