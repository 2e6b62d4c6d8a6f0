package dr

import (
	"fmt"
	"time"

	"casino"
)

// RollbackTarget returns Scenario A's rollback target: the most recently
// seen version in the history (newest first, as VersionService.Versions
// answers) that differs from running, the build that broke. ok is false
// when the history holds no other version.
func RollbackTarget(history []casino.VersionRecord, running string) (v casino.VersionRecord, ok bool) {
	for _, h := range history {
		if h.Version != running {
			return h, true
		}
	}
	return casino.VersionRecord{}, false
}

// FormatVersion is how a proof names a version of the history.
func FormatVersion(v casino.VersionRecord) string {
	return fmt.Sprintf("%s (commit %s, last seen %s)", v.Version, v.Commit, v.LastSeen.UTC().Format(time.RFC3339))
}

// SetVersions records what declare learned of the versions: the running
// version (VersionBefore, from /api/version; with the API down, the newest
// in the database's history) and the previous distinct version before it,
// Scenario A's rollback target. histErr says why the history could not be
// read (the database is not reachable from here, DATABASE_URL unset).
func (d *Declaration) SetVersions(hist []casino.VersionRecord, histErr error) {
	if histErr != nil {
		d.VersionPreviousError = histErr.Error()
		return
	}
	running := d.VersionBefore
	if running == "" && len(hist) > 0 {
		running = hist[0].Version
		d.VersionBefore = running
		d.VersionSource = "the database's versions history (newest last_seen): the API did not answer"
	}
	if v, ok := RollbackTarget(hist, running); ok {
		d.VersionPrevious = &v
		return
	}
	if running == "" {
		d.VersionPreviousError = "the versions history is empty"
	} else {
		d.VersionPreviousError = "the versions history holds no version other than " + running
	}
}

// ExpectedVersion is the version validate expects /api/version to answer
// when --expect-version is not given, and where it comes from: after a
// Scenario A (roll back the app), the rollback target; otherwise the version
// running at declare (a restore does not change the build).
func (st *State) ExpectedVersion() (version, source string) {
	if sc := st.Scenario; sc != nil && sc.Scenario == "A" {
		if sc.Rollback != nil {
			return sc.Rollback.Version, "scenario A's rollback target"
		}
		if st.VersionPrevious != nil {
			return st.VersionPrevious.Version, "scenario A's rollback target (previous distinct version, recorded at declare)"
		}
	}
	if st.VersionBefore != "" {
		return st.VersionBefore, "recorded at declare"
	}
	return "", ""
}

// Decide returns the scenario decision to journal. For Scenario A it
// carries the rollback target: the previous distinct version recorded at
// declare, else the one history (the database's versions, read only when
// needed: the API may be down) names now.
func (st *State) Decide(scenario, reason string, runbook Source, history func() ([]casino.VersionRecord, error)) ScenarioDecision {
	dec := ScenarioDecision{Scenario: scenario, Reason: reason, Runbook: runbook.Name}
	if scenario != "A" {
		return dec
	}
	if prev := st.VersionPrevious; prev != nil {
		dec.Rollback = prev
	} else {
		d := Declaration{VersionBefore: st.VersionBefore}
		d.SetVersions(history())
		dec.Rollback, dec.RollbackError = d.VersionPrevious, d.VersionPreviousError
	}
	if dec.Rollback != nil {
		dec.RollbackTarget = FormatVersion(*dec.Rollback)
	}
	return dec
}
