// Package retention decides which backups a GFS (grandfather-father-son)
// policy keeps, with restic's semantics, so that an auditor who knows
// `restic forget` reads casino's prune the same way:
//
//   - backups are taken newest first;
//   - --keep-last N keeps the N newest;
//   - --keep-hourly/-daily/-weekly/-monthly/-yearly N keep the newest backup
//     of each of the N most recent hours/days/ISO weeks/months/years that
//     have a backup, every bucket in UTC;
//   - --keep-within D keeps every backup taken within D of the newest one;
//   - a backup can satisfy several rules and is listed with every reason;
//   - -1 means "unlimited" for a count.
//
// Two things differ from restic, both because a backup folder is an attack
// surface: a backup dated in the future (a lying manifest) is never counted
// toward any rule, so it cannot push real backups out, and it is kept for a
// human to look at; and "newest" for --keep-within is the newest backup not
// in the future. pre_restore_ safety copies are kept and never counted unless
// the policy says IncludeSafety.
//
// The same policy serves local and remote prune; for a remote, KeepUntil says
// how long each kept backup's Object Lock must hold for the class that keeps
// it.
package retention

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Unlimited is the count that keeps every bucket of a rule.
const Unlimited = -1

// FutureSkew is how far past now a backup's time may lie before it counts
// as dated in the future.
const FutureSkew = 5 * time.Minute

// Policy is a GFS retention policy. A zero count disables its rule.
type Policy struct {
	Last    int
	Hourly  int
	Daily   int
	Weekly  int
	Monthly int
	Yearly  int
	// Within keeps every backup taken within this span of the newest.
	Within time.Duration
	// IncludeSafety counts (and may delete) pre_restore_ safety copies.
	IncludeSafety bool
}

// Empty reports whether no rule is set: such a policy would delete
// everything, so callers refuse it.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within == 0
}

// Validate refuses counts below -1 and a negative span.
func (p Policy) Validate() error {
	for _, c := range []struct {
		name string
		n    int
	}{{"keep-last", p.Last}, {"keep-hourly", p.Hourly}, {"keep-daily", p.Daily}, {"keep-weekly", p.Weekly}, {"keep-monthly", p.Monthly}, {"keep-yearly", p.Yearly}} {
		if c.n < Unlimited {
			return fmt.Errorf("--%s %d: want a count, or -1 for unlimited", c.name, c.n)
		}
	}
	if p.Within < 0 {
		return fmt.Errorf("--keep-within %s: want a positive duration", p.Within)
	}
	if p.Empty() {
		return fmt.Errorf("no retention rule: give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within")
	}
	return nil
}

// String renders the policy as the flags that give it.
func (p Policy) String() string {
	var parts []string
	for _, c := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}} {
		if c.n != 0 {
			parts = append(parts, fmt.Sprintf("--keep-%s %d", c.name, c.n))
		}
	}
	if p.Within > 0 {
		parts = append(parts, "--keep-within "+p.Within.String())
	}
	if p.IncludeSafety {
		parts = append(parts, "--include-safety")
	}
	return strings.Join(parts, " ")
}

// Item is one backup as the policy sees it.
type Item struct {
	// ID names the backup (its file name).
	ID string
	// Time is its snapshot_at.
	Time time.Time
	// Safety marks a pre_restore_ safety copy.
	Safety bool
	// Hold, when not empty, keeps the item out of the policy with this
	// reason (a backup without a readable manifest, for one).
	Hold string
}

// Class names of the rules, as reasons and KeepUntil use them.
const (
	ClassLast    = "last"
	ClassHourly  = "hourly"
	ClassDaily   = "daily"
	ClassWeekly  = "weekly"
	ClassMonthly = "monthly"
	ClassYearly  = "yearly"
	ClassWithin  = "within"
)

// Reason is one rule that keeps a backup.
type Reason struct {
	Class string `json:"class"`
	// Bucket is the UTC hour/day/week/month/year the backup stands for ("" for
	// last and within).
	Bucket string `json:"bucket,omitempty"`
	// Text is the reason in words.
	Text string `json:"text"`
}

// Decision is what the policy does with one item.
type Decision struct {
	Item    Item     `json:"item"`
	Keep    bool     `json:"keep"`
	Reasons []Reason `json:"reasons"`
}

// Why joins the reasons' texts.
func (d Decision) Why() string {
	var s []string
	for _, r := range d.Reasons {
		s = append(s, r.Text)
	}
	return strings.Join(s, ", ")
}

// rule is one bucketed rule: its class, count and bucket function.
type rule struct {
	class  string
	count  int
	bucket func(time.Time) string
}

func (p Policy) rules() []*rule {
	return []*rule{
		{ClassLast, p.Last, nil},
		{ClassHourly, p.Hourly, func(t time.Time) string { return t.Format("2006-01-02T15") }},
		{ClassDaily, p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{ClassWeekly, p.Weekly, func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{ClassMonthly, p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
		{ClassYearly, p.Yearly, func(t time.Time) string { return t.Format("2006") }},
	}
}

// Apply decides every item's fate under p at time now. The result is
// newest first (ties by ID); every item appears once.
func Apply(items []Item, p Policy, now time.Time) []Decision {
	sorted := append([]Item(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return sorted[i].ID > sorted[j].ID
	})
	out := make([]Decision, len(sorted))
	future := now.Add(FutureSkew)
	var counted []int
	for i, it := range sorted {
		out[i].Item = it
		switch {
		case it.Hold != "":
			out[i].Keep = true
			out[i].Reasons = []Reason{{Class: "hold", Text: it.Hold}}
		case it.Safety && !p.IncludeSafety:
			out[i].Keep = true
			out[i].Reasons = []Reason{{Class: "safety", Text: "pre_restore_ safety copy: never counted or deleted without --include-safety"}}
		case it.Time.After(future):
			out[i].Keep = true
			out[i].Reasons = []Reason{{Class: "future", Text: fmt.Sprintf("snapshot_at %s is in the future: not counted, kept for a human to look at", it.Time.UTC().Format(time.RFC3339))}}
		default:
			counted = append(counted, i)
		}
	}
	rules := p.rules()
	last := make([]string, len(rules))
	for _, i := range counted {
		t := out[i].Item.Time.UTC()
		for k, r := range rules {
			if r.count == 0 {
				continue
			}
			if r.bucket == nil { // last
				if r.count == Unlimited || r.count > 0 {
					out[i].Reasons = append(out[i].Reasons, Reason{Class: r.class, Text: "last snapshot"})
					if r.count > 0 {
						r.count--
					}
				}
				continue
			}
			b := r.bucket(t)
			if b == last[k] {
				continue
			}
			last[k] = b
			out[i].Reasons = append(out[i].Reasons, Reason{Class: r.class, Bucket: b, Text: fmt.Sprintf("%s snapshot (%s)", r.class, b)})
			if r.count > 0 {
				r.count--
			}
		}
	}
	if p.Within > 0 && len(counted) > 0 {
		ref := out[counted[0]].Item.Time
		for _, i := range counted {
			// Strictly after, as restic: a backup exactly D older is out.
			if out[i].Item.Time.After(ref.Add(-p.Within)) {
				out[i].Reasons = append(out[i].Reasons, Reason{Class: ClassWithin, Text: fmt.Sprintf("within %s of the newest", p.Within)})
			}
		}
	}
	for _, i := range counted {
		out[i].Keep = len(out[i].Reasons) > 0
	}
	return out
}

// KeepUntil is how long the classes that keep d need it: the latest of
// snapshot_at plus each class's span (N hours, days, weeks, months or years
// for an hourly/daily/weekly/monthly/yearly count of N; the span of
// --keep-within). --keep-last and unlimited counts have no span of their own:
// zero when nothing else keeps d.
func (p Policy) KeepUntil(d Decision) time.Time {
	var until time.Time
	t := d.Item.Time.UTC()
	later := func(u time.Time) {
		if u.After(until) {
			until = u
		}
	}
	for _, r := range d.Reasons {
		switch r.Class {
		case ClassHourly:
			if p.Hourly > 0 {
				later(t.Add(time.Duration(p.Hourly) * time.Hour))
			}
		case ClassDaily:
			if p.Daily > 0 {
				later(t.AddDate(0, 0, p.Daily))
			}
		case ClassWeekly:
			if p.Weekly > 0 {
				later(t.AddDate(0, 0, 7*p.Weekly))
			}
		case ClassMonthly:
			if p.Monthly > 0 {
				later(t.AddDate(0, p.Monthly, 0))
			}
		case ClassYearly:
			if p.Yearly > 0 {
				later(t.AddDate(p.Yearly, 0, 0))
			}
		case ClassWithin:
			later(t.Add(p.Within))
		}
	}
	return until
}
