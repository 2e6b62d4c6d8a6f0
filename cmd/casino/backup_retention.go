package main

import (
	"flag"

	"casino/retention"
)

// retentionFlags are the GFS flags of backup prune, local and remote
// (restic's names and semantics; see package retention).
type retentionFlags struct {
	p      retention.Policy
	within string
}

func bindRetentionFlags(fs *flag.FlagSet, r *retentionFlags) {
	fs.IntVar(&r.p.Last, "keep-last", 0, "keep the N newest backups (-1: all)")
	fs.IntVar(&r.p.Hourly, "keep-hourly", 0, "keep the newest backup of each of the N most recent UTC hours that have one")
	fs.IntVar(&r.p.Daily, "keep-daily", 0, "keep the newest backup of each of the N most recent UTC days that have one")
	fs.IntVar(&r.p.Weekly, "keep-weekly", 0, "keep the newest backup of each of the N most recent ISO weeks that have one")
	fs.IntVar(&r.p.Monthly, "keep-monthly", 0, "keep the newest backup of each of the N most recent months that have one")
	fs.IntVar(&r.p.Yearly, "keep-yearly", 0, "keep the newest backup of each of the N most recent years that have one")
	fs.StringVar(&r.within, "keep-within", "", "keep every backup within DURATION (36h, 7d, 2w, 1y) of the newest")
	fs.BoolVar(&r.p.IncludeSafety, "include-safety", false, "count (and delete) pre_restore_ safety copies like other backups")
}

// policy validates the flags into a policy.
func (r *retentionFlags) policy(cmd string) (retention.Policy, error) {
	if r.within != "" {
		d, err := retention.ParseSpan(r.within)
		if err != nil {
			return retention.Policy{}, usageErrorf("%s: --keep-within: %v", cmd, err)
		}
		r.p.Within = d
	}
	if err := r.p.Validate(); err != nil {
		return retention.Policy{}, usageErrorf("%s: %v", cmd, err)
	}
	return r.p, nil
}

// optionalPolicy is policy when any rule is given, nil otherwise.
func (r *retentionFlags) optionalPolicy(cmd string) (*retention.Policy, error) {
	if r.p.Empty() && r.within == "" {
		return nil, nil
	}
	p, err := r.policy(cmd)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
