package backup

import (
	"strings"
	"time"

	"casino/retention"
)

// PlanRetention decides with a GFS policy (package retention: restic's
// semantics, UTC buckets) which backups in the folder to keep; entries come
// from List. A backup without a readable manifest is held for a human, and
// pre_restore_ safety copies are neither counted nor deleted unless
// p.IncludeSafety. Decisions are newest first; Reason lists every rule that
// keeps a backup.
func PlanRetention(entries []Entry, p retention.Policy, now time.Time) []PruneDecision {
	byName := map[string]Entry{}
	items := make([]retention.Item, 0, len(entries))
	for _, e := range entries {
		byName[e.Name] = e
		it := retention.Item{ID: e.Name, Time: e.Time(), Safety: strings.HasPrefix(e.Name, PrefixPreRestore)}
		if e.Manifest == nil {
			it.Hold = "no manifest: not pruned automatically"
		}
		items = append(items, it)
	}
	var out []PruneDecision
	for _, d := range retention.Apply(items, p, now) {
		r := d.Why()
		if !d.Keep {
			r = "matches no rule of " + p.String()
		}
		out = append(out, PruneDecision{Entry: byName[d.Item.ID], Keep: d.Keep, Reason: r})
	}
	return out
}
