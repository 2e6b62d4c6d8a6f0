package dr

import (
	"errors"
	"strings"
	"testing"
	"time"

	"casino"
)

func TestSetVersionsAndExpectedVersion(t *testing.T) {
	at := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	hist := []casino.VersionRecord{{Version: "1.4.2", Commit: "c3", LastSeen: at}, {Version: "1.4.1", Commit: "c2", LastSeen: at.Add(-time.Hour)}, {Version: "1.4.0", Commit: "c1"}}
	for _, c := range []struct {
		name               string
		api                string
		hist               []casino.VersionRecord
		histErr            error
		wantRunning, wantP string
		wantErr            string
	}{
		{"api answers", "1.4.2", hist, nil, "1.4.2", "1.4.1", ""},
		{"api down: newest in the history runs", "", hist, nil, "1.4.2", "1.4.1", ""},
		{"api answers an older build", "1.4.1", hist, nil, "1.4.1", "1.4.2", ""},
		{"one version only", "1.4.2", hist[:1], nil, "1.4.2", "", "no version other than 1.4.2"},
		{"empty history", "", nil, nil, "", "", "history is empty"},
		{"database unreachable", "1.4.2", nil, errors.New("DATABASE_URL is not set"), "1.4.2", "", "DATABASE_URL is not set"},
	} {
		d := Declaration{VersionBefore: c.api}
		d.SetVersions(c.hist, c.histErr)
		gotP := ""
		if d.VersionPrevious != nil {
			gotP = d.VersionPrevious.Version
		}
		if d.VersionBefore != c.wantRunning || gotP != c.wantP || !strings.Contains(d.VersionPreviousError, c.wantErr) || (c.wantErr == "") != (d.VersionPreviousError == "") {
			t.Errorf("%s: running %q previous %q (%q); want %q, %q (%q)", c.name, d.VersionBefore, gotP, d.VersionPreviousError, c.wantRunning, c.wantP, c.wantErr)
		}
		if (c.api == "" && c.wantRunning != "") != (d.VersionSource != "") {
			t.Errorf("%s: VersionSource %q: it must say when the running version came from the database", c.name, d.VersionSource)
		}
		// validate expects the running build back, except after Scenario A
		st := State{Declaration: d, Scenario: &ScenarioDecision{Scenario: "B"}}
		if v, _ := st.ExpectedVersion(); v != c.wantRunning {
			t.Errorf("%s: scenario B expects %q, want %q", c.name, v, c.wantRunning)
		}
		st.Scenario.Scenario = "A"
		wantA := c.wantP
		if wantA == "" {
			wantA = c.wantRunning
		}
		if v, src := st.ExpectedVersion(); v != wantA {
			t.Errorf("%s: scenario A expects %q (%s), want %q", c.name, v, src, wantA)
		}
	}
	// a rollback target found at scenario time wins
	st := State{Declaration: Declaration{VersionBefore: "2.0.0"}, Scenario: &ScenarioDecision{Scenario: "A", Rollback: &casino.VersionRecord{Version: "1.9.9"}}}
	if v, src := st.ExpectedVersion(); v != "1.9.9" || !strings.Contains(src, "rollback") {
		t.Errorf("ExpectedVersion = %q (%s)", v, src)
	}
}

// The declaration's versions reach the proof, and a declaration without
// them (an old journal) renders exactly as before.
func TestDeclaredVersionsInProof(t *testing.T) {
	tpl := "| Version before the incident | <`curl -s <URL>/api/version`> |\n"
	d := Declaration{VersionBefore: "1.4.2"}
	if got := fillTemplate(tpl, "x", d); got != "| Version before the incident | 1.4.2 |\n" {
		t.Errorf("old declaration: %q", got)
	}
	d.SetVersions([]casino.VersionRecord{{Version: "1.4.2"}, {Version: "1.4.1", Commit: "c2"}}, nil)
	if got := fillTemplate(tpl, "x", d); !strings.Contains(got, "running at declare: 1.4.2; previous distinct version: 1.4.1 (commit c2") {
		t.Errorf("with the previous version: %q", got)
	}
}
