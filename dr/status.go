package dr

import (
	"fmt"
	"time"
)

// StepView is where one step stands, as dr status shows it.
type StepView struct {
	Step string `json:"step"`
	// State is done, failed, interrupted (started, never ended, its
	// process gone: run it again to resume) or running (its CLI or its
	// command still lives).
	State    string    `json:"state"`
	Started  time.Time `json:"started_utc"`
	ExitCode *int      `json:"exit_code,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Running  string    `json:"running,omitempty"`
}

// StepViews returns every step in first-start order.
func (st *State) StepViews() []StepView {
	var out []StepView
	for _, k := range st.Order {
		s := st.Steps[k]
		v := StepView{Step: k, Started: s.Started, PID: s.PID}
		switch {
		case s.Done():
			v.State, v.ExitCode = "done", &s.End.ExitCode
		case s.Ended:
			v.State, v.ExitCode = "failed", &s.End.ExitCode
		default:
			v.State = "interrupted"
			if who, pid, alive := s.StillRunning(); alive {
				v.State, v.Running = "running", fmt.Sprintf("%s, pid %d, is still running", who, pid)
			}
		}
		out = append(out, v)
	}
	return out
}

// Status is what dr status reports of an incident, rebuilt from its
// journal alone (dr status --json prints it).
type Status struct {
	Incident    string            `json:"incident"`
	State       string            `json:"state"` // open or closed
	Proof       string            `json:"proof"`
	Journal     string            `json:"journal"`
	Entries     int               `json:"entries"`
	Declaration Declaration       `json:"declaration"`
	Platform    *PlatformState    `json:"platform"`
	Scenario    *ScenarioDecision `json:"scenario"`
	Steps       []StepView        `json:"steps"`
	Validations int               `json:"validations"`
	LoginFreeze string            `json:"login_freeze"`
	Close       *CloseReport      `json:"close"`
	// Next is the checklist's next command while the incident is open.
	Next string `json:"next,omitempty"`
}

// Status returns the incident's status.
func (in *Incident) Status() Status {
	st := in.State
	s := Status{Incident: in.ID, State: "open", Proof: in.ProofPath(), Journal: in.JournalPath(), Entries: len(in.Entries),
		Declaration: st.Declaration, Platform: st.Platform, Scenario: st.Scenario, Steps: st.StepViews(),
		Validations: len(st.Validations), LoginFreeze: st.LoginFrozen, Close: st.Close}
	if st.Closed {
		s.State = "closed"
	} else {
		s.Next = st.Next()
	}
	return s
}
