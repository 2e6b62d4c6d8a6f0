package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"casino"
	"casino/sqlstore"
)

// RestoreOptions configures a restore.
type RestoreOptions struct {
	// File is the backup to restore.
	File string
	// Target is the database to replace (or create).
	Target sqlstore.Target
	// BackupDir receives the pre_restore_ safety backup.
	BackupDir string
	// NoSafetyBackup skips the safety backup.
	NoSafetyBackup bool
	// ForceUnverified accepts a backup without a manifest.
	ForceUnverified bool
	// DryRun verifies and prints the plan, and changes nothing.
	DryRun bool
	// Confirm is asked, with the plan, before anything changes; returning
	// false stops the restore with ErrNotConfirmed. Nil means confirmed.
	Confirm  func(plan *Plan) bool
	PGBinDir string
	// Jobs is the number of connections a PostgreSQL restore loads data
	// and builds indexes with (0: the number of CPUs).
	Jobs     int
	Progress *Progress
	// Log receives one line per step; may be nil.
	Log io.Writer
	// Pause is called at named points (tests kill the process there): verified,
	// backup_written (inside the safety backup), safety_backup_done, restoring
	// (PostgreSQL, data loading), scratch_ready, before_swap, during_swap, after_swap.
	Pause func(point string)
}

// Plan is what a restore will do, printed before it does it.
type Plan struct {
	File           string                 `json:"file"`
	Engine         string                 `json:"engine"`
	Target         string                 `json:"target"` // identity, no credentials
	TargetExists   bool                   `json:"target_exists"`
	Manifest       *casino.BackupManifest `json:"manifest,omitempty"`
	Unverified     bool                   `json:"unverified"`
	SafetyBackup   bool                   `json:"safety_backup"`
	SafetyDir      string                 `json:"safety_backup_dir,omitempty"`
	Checks         []string               `json:"checks"`
	Steps          []string               `json:"steps"`
	Leftovers      []string               `json:"leftovers,omitempty"` // removed once confirmed
	DataLossWindow string                 `json:"data_loss_window,omitempty"`
}

// RestoreResult is a finished restore.
type RestoreResult struct {
	Plan         *Plan            `json:"plan"`
	SafetyBackup string           `json:"safety_backup,omitempty"`
	SnapshotAt   *time.Time       `json:"snapshot_at,omitempty"`
	DataLossSec  float64          `json:"data_loss_window_seconds,omitempty"`
	DurationMS   float64          `json:"duration_ms"`
	RowCounts    map[string]int64 `json:"row_counts"`
	Migrated     []int            `json:"migrated_to,omitempty"`
}

func (o *RestoreOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func (o *RestoreOptions) pause(point string) {
	if o.Pause != nil {
		o.Pause(point)
	}
}

// Restore verifies the backup, takes a safety backup of the target, restores
// into a separate scratch target, checks it, migrates it up, and swaps it in
// atomically. It holds the database's lock throughout, and once confirmed
// first cleans the leftovers of any interrupted restore. A failure at any
// point leaves the target database whole: untouched, or wholly replaced.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	start := time.Now()
	if o.BackupDir == "" {
		o.BackupDir = DefaultDir
	}
	lock, err := AcquireLock(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	plan := &Plan{File: o.File, Target: o.Target.Identity(), SafetyBackup: !o.NoSafetyBackup}
	// Report leftovers of an interrupted run now; remove them once the
	// restore is confirmed (a plan-only run changes nothing).
	left, err := FindLeftovers(ctx, o.Target, o.BackupDir)
	if err != nil {
		return nil, fmt.Errorf("look for leftovers: %w", err)
	}
	for _, l := range left {
		o.logf("found leftover of an interrupted backup or restore: %s", l)
	}
	plan.Leftovers = left

	eng := newEngineRestore(o.Target)
	defer eng.close()
	vo := VerifyOptions{Engine: engineOf(o.Target.Dialect), ForceUnverified: o.ForceUnverified, PGBinDir: o.PGBinDir, Progress: o.Progress}
	eng.verifyInto(&vo, o.DryRun, o.BackupDir)
	removeNew := eng.discard
	vr, err := Verify(ctx, o.File, vo)
	if err == nil && vo.Quick && vr.Manifest == nil {
		// No manifest, no checksum: decompress and check the whole dump
		// before anything is touched.
		vo.Quick = false
		vr, err = Verify(ctx, o.File, vo)
	}
	if err != nil {
		removeNew()
		if ce := (*casino.Error)(nil); errors.As(err, &ce) {
			return nil, &casino.Error{Code: ce.Code, Message: "refusing the restore, nothing was changed: " + ce.Message}
		}
		return nil, err
	}
	plan.Engine, plan.Manifest, plan.Unverified, plan.Checks = vr.Engine, vr.Manifest, vr.Manifest == nil, vr.Checks
	if m := vr.Manifest; m != nil {
		plan.DataLossWindow = time.Since(m.SnapshotAt).Round(time.Second).String()
	}

	if plan.TargetExists, err = eng.open(ctx, &o); err != nil {
		return nil, err
	}
	hasSchema := plan.TargetExists && targetHasSchema(ctx, o.Target)
	if !hasSchema {
		plan.SafetyBackup = false
	}
	if plan.SafetyBackup {
		plan.SafetyDir = o.BackupDir
		plan.Steps = append(plan.Steps, "take a safety backup of "+plan.Target+" into "+o.BackupDir+"/"+PrefixPreRestore+"...")
	} else if !hasSchema {
		plan.Steps = append(plan.Steps, "no safety backup: the target holds no casino data")
	} else {
		plan.Steps = append(plan.Steps, "NO safety backup (--no-safety-backup): the current data cannot be brought back")
	}
	plan.Steps = append(plan.Steps, eng.steps()...)
	if o.DryRun {
		removeNew()
		return &RestoreResult{Plan: plan}, nil
	}
	if o.Confirm != nil && !o.Confirm(plan) {
		removeNew()
		return &RestoreResult{Plan: plan}, ErrNotConfirmed
	}
	ok := false
	defer func() {
		if !ok {
			removeNew()
		}
	}()
	if len(left) > 0 {
		cleaned, err := leftovers(ctx, o.Target, o.BackupDir, true, eng.keep())
		for _, c := range cleaned {
			o.logf("cleaned leftover of an interrupted run: %s", c)
		}
		if err != nil {
			return nil, fmt.Errorf("clean leftovers: %w", err)
		}
	}
	if plan.TargetExists {
		// Fail fast, before the safety backup, if another process uses the
		// database; checked again right before the swap.
		if err := eng.checkAlone(ctx); err != nil {
			return nil, err
		}
	}
	o.pause("verified")
	res := &RestoreResult{Plan: plan}

	if plan.SafetyBackup {
		o.logf("taking safety backup of %s", plan.Target)
		cr, err := Create(ctx, CreateOptions{Target: o.Target, Dir: o.BackupDir, Kind: KindPreRestore, PGBinDir: o.PGBinDir, Progress: o.Progress, NoLock: true, Pause: o.Pause})
		if err != nil {
			return nil, fmt.Errorf("safety backup failed, nothing was changed (if the current database is too damaged to back up, re-run with --no-safety-backup): %w", err)
		}
		res.SafetyBackup = cr.Path
		o.logf("safety backup: %s", cr.Path)
	}
	o.pause("safety_backup_done")

	var want map[string]int64
	if vr.Manifest != nil {
		want = vr.Manifest.RowCounts
	}
	if err := eng.restore(ctx, &o, want, plan.TargetExists, res); err != nil {
		return nil, err
	}
	ok = true
	if m := vr.Manifest; m != nil {
		at := m.SnapshotAt
		res.SnapshotAt = &at
		res.DataLossSec = time.Since(at).Seconds()
	}
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// targetHasSchema reports whether the target database may carry casino data
// (something worth a safety backup). Only a database that answers and has
// no schema is empty: one that cannot be read gets the safety backup
// attempted, whose failure then says what is wrong.
func targetHasSchema(ctx context.Context, t sqlstore.Target) bool {
	db, err := sqlstore.Open(ctx, t.URL)
	if err != nil {
		return true
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	return err != nil || v > 0
}

// migrateScratch migrates a restored copy up and returns its row counts.
func migrateScratch(ctx context.Context, url string, res *RestoreResult) error {
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate the restored copy: %w", err)
	}
	for _, m := range applied {
		res.Migrated = append(res.Migrated, m.Version)
	}
	res.RowCounts, err = db.RowCounts(ctx)
	return err
}

// engineRestore is the part of a restore that differs by engine: where the
// backup is decompressed, how the target is inspected, how the restored copy
// is built aside and swapped in. Restore drives it in this order: verifyInto,
// open, steps, checkAlone, restore; discard and close on the way out.
type engineRestore interface {
	// verifyInto tells Verify where to decompress (SQLite keeps the checked
	// copy as the new file; PostgreSQL only checksums before restoring).
	verifyInto(vo *VerifyOptions, dryRun bool, backupDir string)
	// open inspects the target and reports whether it exists.
	open(ctx context.Context, o *RestoreOptions) (exists bool, err error)
	// steps describes restore's work for the plan.
	steps() []string
	// checkAlone fails when another process uses the existing target.
	checkAlone(ctx context.Context) error
	// restore builds the restored copy aside, checks and migrates it, and
	// swaps it in.
	restore(ctx context.Context, o *RestoreOptions, want map[string]int64, liveExists bool, res *RestoreResult) error
	// keep names the restore's own file a leftover cleanup must spare.
	keep() string
	// discard removes what verifyInto prepared, when the restore stops.
	discard()
	close()
}

func newEngineRestore(t sqlstore.Target) engineRestore {
	if t.Dialect == sqlstore.SQLite {
		return &sqliteRestore{target: t}
	}
	return &pgRestore{target: t}
}
