package dr

import "casino"

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
