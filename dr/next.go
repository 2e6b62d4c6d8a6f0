package dr

import "fmt"

// Next names the checklist's next command for an open incident, from its
// state alone: an interrupted step first, then a login freeze a restore
// lost, then the freeze and containment, the scenario
// decision, the scenario's commands and restore-traffic, validation, and
// close.
func (st *State) Next() string {
	if st.Closed {
		return "nothing: the incident is closed ('casino dr addendum' adds the postmortem and sign-off)"
	}
	for _, s := range st.Interrupted() {
		if _, _, alive := s.StillRunning(); !alive {
			return fmt.Sprintf("re-run the interrupted step %q (it is not marked done)", s.Key)
		}
	}
	if st.FreezeProblem != "" {
		return st.FreezeProblem
	}
	done := func(k string) bool { return st.Steps[k] != nil && st.Steps[k].Done() }
	contained, restored := done("contain"), done("restore-traffic")
	switch {
	case !contained && st.Scenario == nil && st.LoginFrozen == "":
		// The freeze goes through the API, which containment stops.
		return "casino dr login-freeze on --url <URL> --reason \"incident\" --yes (checklist section 2A, while the API still answers), then casino dr contain --platform kubernetes|compose|local (2B); or skip to casino dr scenario A|B|C --reason \"...\""
	case !contained && st.Scenario == nil:
		return "casino dr contain --platform kubernetes|compose|local (checklist section 2B), or skip to casino dr scenario A|B|C --reason \"...\""
	case st.Scenario == nil:
		return "casino dr scenario A|B|C --reason \"...\" (checklist section 3)"
	case contained && !restored:
		return "casino dr run -- <the runbook's commands for scenario " + st.Scenario.Scenario + ">, then casino dr restore-traffic"
	case st.FirstPassedValidation() == nil:
		return "casino dr validate --url <URL> --logs FILE (checklist section 5)"
	}
	return "casino dr close"
}
