package dr

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// DefaultTargets is the file of RTO/RPO targets per scenario.
const DefaultTargets = "docs/ops/dr_targets.json"

// Targets are the RTO/RPO targets per scenario (docs/ops/dr_targets.json,
// whose reasoning is docs/ops/dr_rto_rpo.md).
type Targets struct {
	Version   int                       `json:"version"`
	Scenarios map[string]ScenarioTarget `json:"scenarios"`
}

// ScenarioTarget is one scenario's targets; a nil RPO means the scenario
// restores no data. PITR, when set, holds the targets of a deployment with
// point-in-time recovery configured (dr declare records which is in force).
type ScenarioTarget struct {
	Name string      `json:"name"`
	RTO  string      `json:"rto"`
	RPO  *string     `json:"rpo"`
	Why  string      `json:"why"`
	PITR *PITRTarget `json:"pitr,omitempty"`
}

// PITRTarget is a scenario's targets with point-in-time recovery configured.
type PITRTarget struct {
	RTO string  `json:"rto"`
	RPO *string `json:"rpo"`
	Why string  `json:"why"`
}

// For returns the targets scenario is judged against under the declared
// configuration cfg, and names that configuration. A declaration with PITR
// on takes the scenario's pitr targets; one with PITR off, or from before
// declare recorded it (nil), takes the plain ones. When PITR was on but the
// file has no pitr targets for the scenario, the plain ones apply and the
// name says so.
func (t *Targets) For(scenario string, cfg *PITRConfig) (ScenarioTarget, string, bool) {
	tg, ok := t.Scenarios[scenario]
	if !ok {
		return tg, "", false
	}
	switch {
	case cfg == nil:
		return tg, "", true
	case !cfg.On():
		return tg, "without PITR (" + cfg.Describe() + ")", true
	case tg.PITR == nil:
		return tg, "without PITR: the targets file has no pitr targets for scenario " + scenario + " (declared " + cfg.Describe() + ")", true
	}
	p := tg
	p.RTO, p.RPO, p.Why, p.PITR = tg.PITR.RTO, tg.PITR.RPO, tg.PITR.Why, nil
	return p, "with PITR (" + cfg.Describe() + ")", true
}

// LoadTargets reads and checks a targets file.
func LoadTargets(path string) (*Targets, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("RTO/RPO targets: %w (pass --targets FILE)", err)
	}
	return ParseTargets(b, path)
}

// ParseTargets parses and checks targets; path names them in errors.
func ParseTargets(b []byte, path string) (*Targets, error) {
	var t Targets
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("RTO/RPO targets %s: %w", path, err)
	}
	check := func(k, rto string, rpo *string) error {
		if _, err := time.ParseDuration(rto); err != nil {
			return fmt.Errorf("RTO/RPO targets %s: scenario %s rto: %w", path, k, err)
		}
		if rpo != nil {
			if _, err := time.ParseDuration(*rpo); err != nil {
				return fmt.Errorf("RTO/RPO targets %s: scenario %s rpo: %w", path, k, err)
			}
		}
		return nil
	}
	for k, s := range t.Scenarios {
		if err := check(k, s.RTO, s.RPO); err != nil {
			return nil, err
		}
		if s.PITR != nil {
			if err := check(k+" pitr", s.PITR.RTO, s.PITR.RPO); err != nil {
				return nil, err
			}
		}
	}
	return &t, nil
}

// CloseReport is the data of the close entry.
type CloseReport struct {
	Scenario string `json:"scenario"`
	// RTO: incident_start_utc to the end of the first complete validation
	// that passed.
	RTO         *Measure `json:"rto"`
	RPO         *Measure `json:"rpo"`
	TargetsFile string   `json:"targets_file"`
	// Configuration names the declared configuration whose targets were
	// used ("with PITR (...)", "without PITR (...)"); empty for incidents
	// declared before declare recorded it.
	Configuration string `json:"configuration,omitempty"`
	// TargetsText is the exact bytes of the targets used.
	TargetsText  string   `json:"targets_text,omitempty"`
	Summary      string   `json:"summary,omitempty"`
	Unmet        []string `json:"unmet,omitempty"`
	ClosedByNote string   `json:"note,omitempty"`
}

// Measure is a measured duration against its target.
type Measure struct {
	Value    string    `json:"value,omitempty"` // Go duration, rounded to the second
	Seconds  float64   `json:"seconds,omitempty"`
	From     time.Time `json:"from_utc,omitzero"`
	To       time.Time `json:"to_utc,omitzero"`
	Target   string    `json:"target,omitempty"`
	Met      *bool     `json:"met,omitempty"`
	Basis    string    `json:"basis"`
	NotKnown string    `json:"not_known,omitempty"`
}

// FirstPassedValidation returns the first complete validation that passed.
func (st *State) FirstPassedValidation() *Validation {
	for i := range st.Validations {
		if v := &st.Validations[i]; v.Passed && v.Complete {
			return v
		}
	}
	return nil
}

// ErrDataNotRestored: the newest validation failed the data check, so the
// service does not run on the restored data and no RTO can be measured.
var ErrDataNotRestored = errors.New("the service does not run on the restored data")

// ComputeClose measures RTO and RPO and compares them with the scenario's
// targets. It refuses (ErrDataNotRestored) when the newest validation failed
// the data check, unless unrecovered is set: then the RTO is recorded as not
// known, and the incident as not recovered.
func ComputeClose(st *State, targets *Targets, targetsFile string, unrecovered bool) (*CloseReport, error) {
	if st.Scenario == nil {
		return nil, errors.New("no scenario decided: run 'casino dr scenario A|B|C --reason ...' first")
	}
	if n := len(st.Validations); n > 0 && !unrecovered {
		last := st.Validations[n-1]
		if last.CheckStatus("data") == Fail {
			return nil, fmt.Errorf("%w: the newest validation (%s) failed data: %s. Point the service at the restored database and validate again, or close with --unrecovered to record that it was not recovered",
				ErrDataNotRestored, last.End.Format(time.RFC3339), last.CheckDetail("data"))
		}
	}
	// The declared configuration chooses the targets, never the restore.
	tg, config, ok := targets.For(st.Scenario.Scenario, st.Declaration.PITR)
	if !ok {
		return nil, fmt.Errorf("targets %s has no scenario %s", targetsFile, st.Scenario.Scenario)
	}
	rep := &CloseReport{Scenario: st.Scenario.Scenario, TargetsFile: targetsFile, Configuration: config}
	met := func(b bool) *bool { return &b }
	// RTO
	rto := &Measure{Target: tg.RTO, From: st.IncidentStart, Basis: "incident_start_utc to the end of the first complete validation where every must-pass check passed"}
	v := st.FirstPassedValidation()
	if v == nil {
		// Fall back to a validation that passed what it ran, and say what
		// it left out: a number with a caveat beats none at 03:00. Never
		// one that did not check the data: that is how an empty database
		// once passed.
		for i := range st.Validations {
			if st.Validations[i].Passed && st.Validations[i].CheckStatus("data") == Pass {
				v = &st.Validations[i]
				rto.Basis += fmt.Sprintf("; CAVEAT: no complete validation passed, this one skipped %s", strings.Join(v.Skipped, ", "))
				break
			}
		}
	}
	if unrecovered {
		v = nil
	}
	if v != nil {
		d := v.End.Sub(st.IncidentStart)
		target, _ := time.ParseDuration(tg.RTO)
		rto.To, rto.Value, rto.Seconds, rto.Met = v.End, d.Round(time.Second).String(), d.Seconds(), met(d <= target)
	} else {
		rto.NotKnown = "no validation passed with its data checked: service not shown restored"
		if unrecovered {
			rto.NotKnown = "closed --unrecovered: the service was not shown running on the restored data"
		}
		rto.Met = met(false)
	}
	rep.RTO = rto
	// RPO
	rpo := &Measure{Basis: "impact_start_utc minus snapshot_at of the restored backup (typed restore facts)"}
	if tg.RPO != nil {
		rpo.Target = *tg.RPO
	}
	r := st.Restored()
	switch {
	case r == nil && tg.RPO == nil:
		rpo.NotKnown = "no data restored (scenario " + rep.Scenario + " has no RPO target)"
	case r == nil:
		rpo.NotKnown = "the journal holds no restore facts of a restore that exited 0 and was not a dry run ('casino dr run -- casino restore --json ...' records them)"
		for _, x := range st.Restores {
			if ps := PITRProblems(&x.Facts); len(ps) > 0 {
				rpo.NotKnown += "; the point-in-time facts of " + x.Facts.Backup.Name + " contradict each other: " + ps[0]
				break
			}
		}
		rpo.Met = met(false)
	default:
		from, what := r.Facts.Backup.SnapshotAt, "snapshot_at"
		if r.Facts.PITR != nil && !r.Facts.PITR.ReachedAt.IsZero() {
			from, what = r.Facts.PITR.ReachedAt, "pitr.reached_at"
		}
		d := st.ImpactStart.Sub(from)
		if d < 0 {
			d = 0 // the restored data reaches past the impact start: nothing lost
		}
		rpo.From, rpo.To, rpo.Value, rpo.Seconds = from, st.ImpactStart, d.Round(time.Second).String(), d.Seconds()
		rpo.Basis = fmt.Sprintf("impact_start_utc minus %s of the restored backup %s (restore_id %s)", what, r.Facts.Backup.Name, r.Facts.RestoreID)
		if tg.RPO != nil {
			target, _ := time.ParseDuration(*tg.RPO)
			rpo.Met = met(d <= target)
		}
	}
	rep.RPO = rpo
	if !*rto.Met {
		rep.Unmet = append(rep.Unmet, "RTO")
	}
	if rpo.Met != nil && !*rpo.Met {
		rep.Unmet = append(rep.Unmet, "RPO")
	}
	return rep, nil
}

// CheckStatus returns the named check's status in the validation, "" when
// it did not run.
func (v *Validation) CheckStatus(name string) string {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// CheckDetail returns the named check's detail.
func (v *Validation) CheckDetail(name string) string {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.Detail
		}
	}
	return ""
}
