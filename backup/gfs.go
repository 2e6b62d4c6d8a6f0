package backup

import (
	"strings"
	"time"

	"casino/retention"
)

// PlanRetention decides with a GFS policy (package retention: restic's
// semantics, UTC buckets) which backups in the folder to keep; entries come
// from List (and CheckSignatures). A backup without a readable manifest, or
// with a Problem (a lying snapshot_at, a bad signature), is held for a human
// and never counted, so a forged "newest" cannot push real backups out; and
// pre_restore_ safety copies are neither counted nor deleted unless
// p.IncludeSafety. Decisions are newest first; Reason lists every rule that
// keeps a backup.
func PlanRetention(entries []Entry, p retention.Policy, now time.Time) []PruneDecision {
	byName := map[string]Entry{}
	items := make([]retention.Item, 0, len(entries))
	for _, e := range entries {
		byName[e.Name] = e
		it := retention.Item{ID: e.Name, Time: e.Time(), Safety: strings.HasPrefix(e.Name, PrefixPreRestore)}
		switch {
		case e.Manifest == nil:
			it.Hold = "no manifest: not pruned automatically"
		case e.Problem != "":
			it.Hold = "untrusted, not counted and not pruned automatically: " + e.Problem
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
