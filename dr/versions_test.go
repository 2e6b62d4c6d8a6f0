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

// A journal written by renderer version 2 re-renders byte for byte as
// version 2 did: the runbook line of version 3 stays out of it.
func TestOlderRendererVersionRendersAsItDid(t *testing.T) {
	for _, c := range []struct {
		version int
		want    bool
	}{{2, false}, {RendererVersion, true}} {
		in := newIncident(t)
		if err := in.Append(TypeScenario, ScenarioDecision{Scenario: "B", Reason: "r", Runbook: "embedded:dr_runbook.md"}); err != nil {
			t.Fatal(err)
		}
		in.State.RendererVersion = c.version // as the declare entry of that version recorded it
		b, _ := in.RenderBytes()
		if got := strings.Contains(string(b), "Runbook section printed from `embedded:dr_runbook.md`"); got != c.want {
			t.Errorf("renderer version %d: runbook line %v, want %v", c.version, got, c.want)
		}
	}
}

// Scenario A takes the rollback target recorded at declare, reading the
// history only when declare could not.
func TestDecideScenarioA(t *testing.T) {
	reads := 0
	history := func() ([]casino.VersionRecord, error) {
		reads++
		return []casino.VersionRecord{{Version: "2.0.0"}, {Version: "1.9.0", Commit: "c19"}}, nil
	}
	st := State{Declaration: Declaration{VersionBefore: "2.0.0", VersionPrevious: &casino.VersionRecord{Version: "1.8.0", Commit: "c18"}}}
	if d := st.Decide("A", "r", Source{Name: "embedded:dr_runbook.md"}, history); d.Rollback.Version != "1.8.0" || reads != 0 || d.Runbook != "embedded:dr_runbook.md" {
		t.Errorf("recorded at declare: %+v, %d history reads", d, reads)
	}
	st.VersionPrevious = nil
	if d := st.Decide("A", "r", Source{}, history); d.Rollback == nil || d.Rollback.Version != "1.9.0" || !strings.HasPrefix(d.RollbackTarget, "1.9.0 (commit c19") || reads != 1 {
		t.Errorf("from the history: %+v, %d reads", d, reads)
	}
	if d := st.Decide("B", "r", Source{}, history); d.Rollback != nil || reads != 1 {
		t.Errorf("scenario B: %+v, %d reads", d, reads)
	}
	fail := func() ([]casino.VersionRecord, error) { return nil, errors.New("DATABASE_URL is not set") }
	if d := st.Decide("A", "r", Source{}, fail); d.Rollback != nil || d.RollbackError != "DATABASE_URL is not set" {
		t.Errorf("history unreadable: %+v", d)
	}
}

func TestRunbookSection(t *testing.T) {
	rb := Source{Name: "rb.md", Text: []byte("# Runbook\n\n## Scenario A: app\nroll back\n```\n# Scenario B in a fence\n```\n### A.1 detail\nmore\n## Scenario B: DB\nrestore\n## Scenario C\n")}
	got, err := RunbookSection(rb, "A")
	if want := "## Scenario A: app\nroll back\n```\n# Scenario B in a fence\n```\n### A.1 detail\nmore"; err != nil || got != want {
		t.Errorf("A: %q, %v\nwant %q", got, err, want)
	}
	if got, err := RunbookSection(rb, "B"); err != nil || got != "## Scenario B: DB\nrestore" {
		t.Errorf("B: %q, %v", got, err)
	}
	if _, err := RunbookSection(rb, "D"); err == nil || !strings.Contains(err.Error(), `rb.md has no heading naming "Scenario D"`) {
		t.Errorf("D: %v", err)
	}
}

func TestValidatorExpectsWhatTheJournalSays(t *testing.T) {
	st := &State{Declaration: Declaration{VersionBefore: "2.0.0", BaselineP95MS: 120, SentRequestIDs: []string{"id-1"},
		ImpactStart: time.Date(2026, 11, 29, 2, 50, 0, 0, time.UTC)}}
	v := &Validator{}
	v.Expect(st)
	if v.ExpectVersion != "2.0.0" || v.VersionSource != "recorded at declare" || v.BaselineP95MS != 120 || !v.ImpactStart.Equal(st.ImpactStart) || len(v.ExcludeIDs) != 1 {
		t.Errorf("from the journal: %+v", v)
	}
	v = &Validator{ExpectVersion: "2.0.1", VersionSource: "--expect-version", BaselineP95MS: 50}
	v.Expect(st)
	if v.ExpectVersion != "2.0.1" || v.VersionSource != "--expect-version" || v.BaselineP95MS != 50 {
		t.Errorf("flags win: %+v", v)
	}
}
