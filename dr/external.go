package dr

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"casino"
)

// ExternalPITRTools are the point-in-time recoveries run outside casino
// that `dr record-pitr` records: a CloudNativePG Cluster bootstrapped with
// recoveryTarget.targetTime, or pgBackRest restore --type=time.
var ExternalPITRTools = []string{"cnpg", "pgbackrest"}

// ExternalPITR is what the operator knows after an external point-in-time
// recovery: the tool, the target, the last recovered commit (the server
// log's "last completed transaction was at log time" line), and the data
// of the recovered database as casino reads it.
type ExternalPITR struct {
	Tool        string
	Source      string // the backup repository, object store or Cluster named
	Target      time.Time
	ReachedAt   time.Time
	RecoveryEnd string
	Data        *casino.DataSummary
}

// Check refuses an unknown tool, missing times, and a reached_at after the
// target or in the future.
func (x ExternalPITR) Check(now time.Time) error {
	if !slices.Contains(ExternalPITRTools, x.Tool) {
		return fmt.Errorf("--tool %q: want one of %v", x.Tool, ExternalPITRTools)
	}
	if x.Target.IsZero() || x.ReachedAt.IsZero() {
		return errors.New("--target-time and --reached-at are required: reached_at is the last recovered commit, from the server log's \"last completed transaction was at log time\" or \"recovery stopping before commit of transaction\" line")
	}
	if x.ReachedAt.After(x.Target) {
		return fmt.Errorf("--reached-at %s is after --target-time %s: a recovery to a time stops at or before it", x.ReachedAt.Format(time.RFC3339Nano), x.Target.Format(time.RFC3339Nano))
	}
	if x.ReachedAt.After(now.Add(ClockSkew)) {
		return fmt.Errorf("--reached-at %s is in the future", x.ReachedAt.Format(time.RFC3339Nano))
	}
	// The rest of what a restore's facts must hold together: a "last
	// completed transaction" line naming another instant than --reached-at.
	tt := x.Target
	if ps := PITRProblems(&casino.RestoreFacts{PITR: &casino.PITRFacts{TargetTime: &tt, ReachedAt: x.ReachedAt, Mode: "target_time", RecoveryEnd: x.RecoveryEnd}}); len(ps) > 0 {
		return fmt.Errorf("the recovery's facts contradict each other: %s", strings.Join(ps, "; "))
	}
	return nil
}

// RestoreRecord turns the recovery into the typed restore record dr close
// measures the RPO from and validate's data check expects: the service must
// answer the recovered database's restore_id and at least its row counts.
func (x ExternalPITR) RestoreRecord(step string, now time.Time) (*RestoreRecord, error) {
	if err := x.Check(now); err != nil {
		return nil, err
	}
	if x.Data == nil {
		return nil, errors.New("no data summary of the recovered database")
	}
	tt := x.Target.UTC()
	f := casino.RestoreFacts{
		FormatVersion: casino.RestoreFactsVersion,
		RestoreID:     x.Data.RestoreID,
		StartedAt:     now.UTC(),
		FinishedAt:    now.UTC(),
		Backup:        casino.RestoredBackup{Name: x.Tool + " point-in-time recovery", Location: x.Source},
		RowCounts:     x.Data.RowCounts,
		Target:        x.Data.Identity,
		PITR: &casino.PITRFacts{TargetTime: &tt, ReachedAt: x.ReachedAt.UTC(), Source: x.Tool + ": " + x.Source,
			Mode: "target_time", RecoveryEnd: x.RecoveryEnd},
	}
	return &RestoreRecord{Step: step, ExitCode: 0, Source: "dr record-pitr --tool " + x.Tool, Facts: f}, nil
}
