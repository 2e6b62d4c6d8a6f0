package dr

import (
	"errors"
	"os"
	"testing"
	"time"
)

// TestRebuildOpen: from the mirror, a new host takes the open incidents
// and leaves the closed ones, unless one is named; a read error stops it.
func TestRebuildOpen(t *testing.T) {
	open := newIncident(t)
	start := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	closed, err := Declare(t.TempDir(), Source{Name: "template.md", Text: []byte("# Proof template\n")}, Declaration{Severity: "SEV-2", IC: "ic", Comms: "cm", IncidentStart: start, ImpactStart: start}, &Redactor{}, start)
	if err != nil {
		t.Fatal(err)
	}
	if closed.ID == open.ID {
		t.Fatalf("two incidents with one id %s", open.ID)
	}
	if err := closed.Append(TypeClose, CloseReport{Scenario: "A"}); err != nil {
		t.Fatal(err)
	}
	mirror := map[string]*Incident{open.ID: open, closed.ID: closed}
	latest := func(id string) (int, []byte, []byte, error) {
		in, ok := mirror[id]
		if !ok {
			return 0, nil, nil, os.ErrNotExist
		}
		j, err := os.ReadFile(in.JournalPath())
		if err != nil {
			return 0, nil, nil, err
		}
		p, err := os.ReadFile(in.ProofPath())
		return in.Entries[len(in.Entries)-1].Seq, j, p, err
	}
	dir := t.TempDir()
	got, err := RebuildOpen(dir, "", []string{closed.ID, open.ID}, latest)
	if err != nil || len(got) != 1 || got[0].ID != open.ID || got[0].Action != "written" {
		t.Fatalf("RebuildOpen = %+v, %v; want the open incident written", got, err)
	}
	if _, err := os.Stat((&Incident{Dir: dir, ID: closed.ID}).JournalPath()); err == nil {
		t.Error("the closed incident was taken without being named")
	}
	got, err = RebuildOpen(dir, closed.ID, []string{open.ID}, latest)
	if err != nil || len(got) != 1 || got[0].ID != closed.ID || !got[0].Closed {
		t.Fatalf("RebuildOpen(named closed) = %+v, %v; want it taken", got, err)
	}
	got, err = RebuildOpen(dir, "", []string{"missing", open.ID}, latest)
	if !errors.Is(err, os.ErrNotExist) || len(got) != 0 {
		t.Errorf("RebuildOpen with an unreadable snapshot = %+v, %v; want the read error first", got, err)
	}
}
