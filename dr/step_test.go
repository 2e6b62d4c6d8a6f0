package dr

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/keys"
)

func entryTypes(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// A `dr run` of a restore appends four entries (start, the command's pid,
// the typed facts, end) and reads its journal whole once: each append reads
// only what other processes added.
func TestRunCommandReadsJournalOnce(t *testing.T) {
	decl := newIncident(t)
	in, err := Open(decl.Dir, "", &Redactor{})
	if err != nil {
		t.Fatal(err)
	}
	facts := casino.RestoreFacts{FormatVersion: 1, RestoreID: strings.Repeat("ab", 16), RowCounts: map[string]int64{"tenants": 2},
		Backup: casino.RestoredBackup{Name: "casino_2.sql.gz", SnapshotAt: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)}}
	raw, _ := json.Marshal(facts)
	res, err := in.RunCommand(context.Background(), []string{"sh", "-c", `printf '%s\n' "$1"`, "sh", string(raw)}, RunOptions{})
	if err != nil {
		t.Fatalf("RunCommand: %v", err)
	}
	if res.Restore == nil || res.Restore.Facts.RestoreID != facts.RestoreID {
		t.Fatalf("restore facts not captured: %+v", res)
	}
	want := []string{TypeDeclare, TypeStepStart, TypeStepChild, TypeRestore, TypeStepEnd}
	if got := entryTypes(in.Entries); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	if in.reads != 1 {
		t.Fatalf("the journal was read whole %d times in one dr run, want 1", in.reads)
	}
	if r := in.State.Restored(); r == nil || r.Facts.Backup.Name != "casino_2.sql.gz" {
		t.Fatalf("State.Restored() = %+v", r)
	}
	if n, err := VerifyFile(in.ProofPath()); err != nil || n != len(want) {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

// Another process appends between this one's entries: the chain continues
// from the true last entry, and only the new bytes are read.
func TestAppendCatchesUpWithOtherWriters(t *testing.T) {
	decl := newIncident(t)
	a, err := Open(decl.Dir, decl.ID, &Redactor{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(decl.Dir, decl.ID, &Redactor{})
	if err != nil {
		t.Fatal(err)
	}
	err = a.RunStep(context.Background(), StepSpec{Step: "contain", Kind: "contain"}, func(ctx context.Context, s *StepRun) StepResult {
		if err := b.AddNote("seen from a second terminal"); err != nil {
			t.Errorf("second writer: %v", err)
		}
		return StepResult{}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{TypeDeclare, TypeStepStart, TypeNote, TypeStepEnd}
	if got := entryTypes(a.Entries); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	if a.reads != 1 || b.reads != 1 {
		t.Fatalf("whole-journal reads: a %d, b %d; want 1 each", a.reads, b.reads)
	}
	if !a.State.Steps["contain"].Done() || len(a.State.Notes) != 1 {
		t.Fatalf("state not folded from both writers: %+v", a.State)
	}
	if n, err := VerifyFile(a.ProofPath()); err != nil || n != 4 {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}

	// A journal cut behind this process's back is not appended to.
	jb, _ := os.ReadFile(a.JournalPath())
	lines := strings.SplitAfter(string(jb), "\n")
	os.WriteFile(a.JournalPath(), []byte(strings.Join(lines[:2], "")), 0o600)
	if err := a.AddNote("after the cut"); err == nil || !strings.Contains(err.Error(), "cut") {
		t.Fatalf("append to a cut journal: %v, want a refusal naming the cut", err)
	}
	// An entry edited behind its back is not chained onto.
	c, err := Open(decl.Dir, decl.ID, &Redactor{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a.JournalPath(), []byte(strings.Join(lines[:2], "")+strings.Replace(lines[2], "second terminal", "third terminal", 1)), 0o600)
	var ce *ChainError
	if err := c.AddNote("x"); !errors.As(err, &ce) {
		t.Fatalf("append after an edited entry: %v, want a ChainError", err)
	}
}

func TestRunStepLifecycle(t *testing.T) {
	in := newIncident(t)
	ctx := context.Background()
	// a failed step is journaled with its exit code and returned as StepFailed
	err := in.RunStep(ctx, StepSpec{Step: "restore-traffic", Kind: "restore-traffic", Commands: [][]string{{"kubectl", "scale"}}},
		func(ctx context.Context, s *StepRun) StepResult {
			if st := s.Incident().State.Steps["restore-traffic"]; st == nil || st.Ended {
				t.Errorf("body runs after step_start and before step_end: %+v", st)
			}
			return StepResult{ExitCode: 3, Err: errors.New("a restore command exited 3")}
		})
	var failed *StepFailed
	if !errors.As(err, &failed) || failed.ExitCode != 3 || !strings.Contains(err.Error(), "exited 3") {
		t.Fatalf("RunStep = %v, want StepFailed with exit 3", err)
	}
	s := in.State.Steps["restore-traffic"]
	if !s.Ended || s.Done() || s.End.ExitCode != 3 || s.End.Error == "" {
		t.Fatalf("failed step folded as %+v", s.End)
	}
	// failed steps run again without --force; done ones do not
	ran := 0
	ok := func(ctx context.Context, s *StepRun) StepResult { ran++; return StepResult{} }
	if err := in.RunStep(ctx, StepSpec{Step: "restore-traffic"}, ok); err != nil || ran != 1 {
		t.Fatalf("re-run of a failed step: %v (ran %d)", err, ran)
	}
	if err := in.RunStep(ctx, StepSpec{Step: "restore-traffic"}, ok); !errors.Is(err, ErrStepDone) || ran != 1 {
		t.Fatalf("re-run of a done step: %v (ran %d), want ErrStepDone and no run", err, ran)
	}
	if err := in.CheckStep("restore-traffic", false); !errors.Is(err, ErrStepDone) {
		t.Fatalf("CheckStep of a done step: %v", err)
	}
	if err := in.RunStep(ctx, StepSpec{Step: "restore-traffic", Force: true}, ok); err != nil || ran != 2 {
		t.Fatalf("--force re-run: %v (ran %d)", err, ran)
	}
	// an error with exit code 0 still fails the step
	err = in.RunStep(ctx, StepSpec{Step: "run x"}, func(ctx context.Context, s *StepRun) StepResult {
		return StepResult{Err: errors.New("facts did not parse")}
	})
	if !errors.As(err, &failed) || failed.ExitCode != 1 || in.State.Steps["run x"].Done() {
		t.Fatalf("error with exit 0: %v", err)
	}
	// a closed incident runs no step
	if err := in.Append(TypeClose, CloseReport{}); err != nil {
		t.Fatal(err)
	}
	if err := in.RunStep(ctx, StepSpec{Step: "contain"}, ok); !errors.Is(err, ErrClosed) || ran != 2 {
		t.Fatalf("step on a closed incident: %v", err)
	}
}

// A step whose CLI was killed (no step_end, its pid gone) is interrupted:
// Next names it, and RunStep runs it again without --force.
func TestInterruptedStepResumes(t *testing.T) {
	in := newIncident(t)
	if err := in.Append(TypeStepStart, StepStart{Step: "contain", Kind: "contain", PID: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if got := in.State.Next(); !strings.Contains(got, `interrupted step "contain"`) {
		t.Fatalf("Next = %q", got)
	}
	if err := in.RunStep(context.Background(), StepSpec{Step: "contain"}, func(context.Context, *StepRun) StepResult { return StepResult{} }); err != nil {
		t.Fatal(err)
	}
	if !in.State.Steps["contain"].Done() {
		t.Fatal("resumed step not done")
	}
}

func TestNext(t *testing.T) {
	done := func(k string) *Step { return &Step{Key: k, Ended: true} }
	pass := Validation{Passed: true, Complete: true, Checks: []CheckResult{{Name: "data", Status: Pass, MustPass: true}}}
	for _, c := range []struct {
		name string
		st   State
		want string
	}{
		{"declared", State{}, "casino dr contain"},
		{"contained", State{Steps: map[string]*Step{"contain": done("contain")}}, "casino dr scenario"},
		{"scenario after contain", State{Steps: map[string]*Step{"contain": done("contain")}, Scenario: &ScenarioDecision{Scenario: "B"}}, "scenario B>, then casino dr restore-traffic"},
		{"traffic back", State{Steps: map[string]*Step{"contain": done("contain"), "restore-traffic": done("restore-traffic")}, Scenario: &ScenarioDecision{Scenario: "B"}}, "casino dr validate"},
		{"validated", State{Steps: map[string]*Step{"contain": done("contain"), "restore-traffic": done("restore-traffic")}, Scenario: &ScenarioDecision{Scenario: "B"}, Validations: []Validation{pass}}, "casino dr close"},
		{"closed", State{Closed: true}, "nothing"},
	} {
		if c.st.Steps == nil {
			c.st.Steps = map[string]*Step{}
		}
		for k := range c.st.Steps {
			c.st.Order = append(c.st.Order, k)
		}
		if got := c.st.Next(); !strings.HasPrefix(got, c.want) && !strings.Contains(got, c.want) {
			t.Errorf("%s: Next = %q, want it to name %q", c.name, got, c.want)
		}
	}
}

// Every command opens its incident once and appends what it must: the
// journal is read whole once per command, whatever it appends.
func TestEveryCommandReadsItsJournalOnce(t *testing.T) {
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		do   func(in *Incident) error
	}{
		{"contain", func(in *Incident) error {
			return in.RunStep(ctx, StepSpec{Step: "contain", Kind: "contain"}, func(ctx context.Context, s *StepRun) StepResult {
				return StepResult{Err: s.Record(TypeState, PlatformState{Platform: "kubernetes"})}
			})
		}},
		{"scenario", func(in *Incident) error { return in.Append(TypeScenario, in.State.Decide("B", "r", Source{}, nil)) }},
		{"validate", func(in *Incident) error { return in.Append(TypeValidate, Validation{}) }},
		{"note", func(in *Incident) error { return in.AddNote("seen") }},
		{"close, signed", func(in *Incident) error {
			if err := in.Append(TypeClose, CloseReport{}); err != nil {
				return err
			}
			return in.Sign(key)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			decl := newIncident(t)
			in, err := Open(decl.Dir, "", &Redactor{})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.do(in); err != nil {
				t.Fatal(err)
			}
			if in.reads != 1 {
				t.Errorf("read the journal whole %d times, want 1", in.reads)
			}
			if _, err := VerifyProof(in.ProofPath(), nil); err != nil {
				t.Errorf("the record does not verify: %v", err)
			}
		})
	}
}

// A signature names the true head, even when another process appended
// after this one loaded the journal.
func TestSignSignsTheTrueHead(t *testing.T) {
	key, _ := keys.Generate()
	decl := newIncident(t)
	a, _ := Open(decl.Dir, decl.ID, &Redactor{})
	b, _ := Open(decl.Dir, decl.ID, &Redactor{})
	if err := b.Append(TypeClose, CloseReport{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sign(key); err != nil {
		t.Fatal(err)
	}
	if rep, err := VerifyProof(a.JournalPath(), []keys.Public{key.Public()}); err != nil || !rep.Checked {
		t.Fatalf("VerifyProof with the key: %+v, %v", rep, err)
	}
}
