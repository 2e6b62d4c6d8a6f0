package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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
	// (PostgreSQL, psql mid-stream), scratch_ready, before_swap, during_swap, after_swap.
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

	engine := engineOf(o.Target.Dialect)
	vo := VerifyOptions{Engine: engine, ForceUnverified: o.ForceUnverified, PGBinDir: o.PGBinDir, Progress: o.Progress}
	// SQLite: decompress and check straight into the file that will be
	// swapped in. PostgreSQL: checksum now, decompress while restoring.
	var newFile string
	if o.Target.Dialect == sqlstore.SQLite {
		newFile = o.Target.Path + ".restore-" + time.Now().UTC().Format("20060102T150405") + "-" + strconv.Itoa(os.Getpid())
		if dir := filepath.Dir(o.Target.Path); dir != "." {
			os.MkdirAll(dir, 0o750)
		}
		if o.DryRun {
			vo.ScratchDir = o.BackupDir
		} else {
			vo.SQLiteOut = newFile
		}
	} else if o.DryRun {
		// a dry run decompresses the whole dump to check it
	} else {
		vo.Quick = true
	}
	removeNew := func() {
		if newFile != "" {
			removeSQLiteFiles(newFile)
		}
	}
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

	var pg *pgTarget
	var admin *pgAdmin
	var psql string
	switch o.Target.Dialect {
	case sqlstore.SQLite:
		_, err := os.Stat(o.Target.Path)
		plan.TargetExists = err == nil
	default:
		if pg, err = newPGTarget(o.Target.URL); err != nil {
			return nil, err
		}
		switch pg.dbname {
		case "postgres", "template0", "template1":
			return nil, errorf(casino.EINVALID, "refusing to restore over the %s database: restore into the application's own database", pg.dbname)
		}
		if admin, err = openPGAdmin(ctx, pg); err != nil {
			return nil, err
		}
		defer admin.close()
		if plan.TargetExists, err = admin.exists(ctx, pg.dbname); err != nil {
			return nil, err
		}
		major, err := serverMajor(ctx, admin.db)
		if err != nil {
			return nil, err
		}
		if psql, err = findPGTool("psql", o.PGBinDir, major); err != nil {
			return nil, err
		}
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
	if o.Target.Dialect == sqlstore.SQLite {
		plan.Steps = append(plan.Steps,
			"decompress into a new file beside the database, PRAGMA integrity_check, compare row counts",
			"migrate the new file up to schema "+strconv.Itoa(sqlstore.LatestVersion(sqlstore.SQLite)),
			"checkpoint the live database (refused if another process has it open), then rename(2) the new file over it")
	} else {
		plan.Steps = append(plan.Steps,
			"create a scratch database on the same server, build casino's schema there from its migrations at the backup's schema version, and load only the dump's COPY data (any other statement refuses the restore)",
			"compare its row counts with the manifest, migrate it up to schema "+strconv.Itoa(sqlstore.LatestVersion(sqlstore.Postgres)),
			"swap in one transaction: terminate sessions, ALTER DATABASE "+pg.dbname+" RENAME to "+pgBase(pg.dbname)+pgOldTag+"..., scratch RENAME to "+pg.dbname,
			"drop the old database")
	}
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
		cleaned, err := leftovers(ctx, o.Target, o.BackupDir, true, newFile)
		for _, c := range cleaned {
			o.logf("cleaned leftover of an interrupted run: %s", c)
		}
		if err != nil {
			return nil, fmt.Errorf("clean leftovers: %w", err)
		}
	}
	if o.Target.Dialect == sqlstore.SQLite && plan.TargetExists {
		// Fail fast, before the safety backup, if another process has the
		// file open; checked again right before the swap.
		if err := checkpointAlone(ctx, o.Target.Path); err != nil {
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
	switch o.Target.Dialect {
	case sqlstore.SQLite:
		if err := restoreSQLite(ctx, &o, newFile, want, plan.TargetExists, res); err != nil {
			return nil, err
		}
	default:
		if err := restorePostgres(ctx, &o, pg, admin, psql, want, plan.TargetExists, res); err != nil {
			return nil, err
		}
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

func restoreSQLite(ctx context.Context, o *RestoreOptions, newFile string, want map[string]int64, liveExists bool, res *RestoreResult) error {
	// Verify already decompressed newFile and ran integrity_check and the
	// row-count comparison on it.
	if err := migrateScratch(ctx, "sqlite:"+newFile, res); err != nil {
		return err
	}
	if err := setRollbackJournal(ctx, newFile); err != nil {
		return err
	}
	if f, err := os.OpenFile(newFile, os.O_RDWR, 0); err == nil {
		f.Sync()
		f.Close()
	}
	o.pause("scratch_ready")
	live := o.Target.Path
	if liveExists {
		// Fold the WAL into the live file and make sure nobody else has it
		// open: a live writer would keep appending to <db>-wal, which would
		// then be replayed onto the new file.
		if err := checkpointAlone(ctx, live); err != nil {
			return err
		}
	}
	o.pause("before_swap")
	o.logf("swapping %s into place", filepath.Base(newFile))
	if err := os.Rename(newFile, live); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	if err := syncDir(filepath.Dir(live)); err != nil {
		return err
	}
	o.pause("after_swap")
	// The old WAL is empty (checkpointed); remove it and the stale index.
	os.Remove(live + "-wal")
	os.Remove(live + "-shm")
	return syncDir(filepath.Dir(live))
}

// checkpointAlone checkpoints the SQLite database with TRUNCATE and checks
// that no other connection has it open (the WAL file must be gone once we
// close, as SQLite deletes it when the last connection closes).
func checkpointAlone(ctx context.Context, path string) error {
	db, err := sqlstore.Open(ctx, "sqlite:"+path)
	if err != nil {
		return err
	}
	var busy, logFrames, ckpt int
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &ckpt)
	db.Close()
	if err != nil {
		return fmt.Errorf("checkpoint the live database %s: %w (if it is damaged: stop the backend, move it and its -wal/-shm files aside, and restore again; nothing was changed)", path, err)
	}
	if busy != 0 {
		return errorf(casino.ECONFLICT, "the database %s is busy in another process: stop casino serve (and any other user of the file) first; nothing was changed", path)
	}
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		return errorf(casino.ECONFLICT, "the database %s is open in another process (its WAL is in use): stop casino serve first; nothing was changed", path)
	} else if err == nil {
		// An empty WAL left behind means another connection still has the
		// file open.
		return errorf(casino.ECONFLICT, "the database %s is open in another process: stop casino serve first; nothing was changed", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func restorePostgres(ctx context.Context, o *RestoreOptions, pg *pgTarget, admin *pgAdmin, psql string, want map[string]int64, liveExists bool, res *RestoreResult) error {
	scratch := pgSideName(pg.dbname, pgScratchTag)
	old := pgSideName(pg.dbname, pgOldTag)
	if err := admin.create(ctx, scratch); err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			admin.drop(context.Background(), scratch)
		}
	}()
	scratchURL := withDatabase(pg.url, scratch)
	o.logf("restoring into scratch database %s", scratch)
	counts, err := loadPostgresDump(ctx, o.File, scratchURL, pgLoadOptions{BinDir: o.PGBinDir, Manifest: res.Plan.Manifest, Jobs: o.Jobs, Progress: o.Progress, Pause: o.Pause})
	if err != nil {
		return fmt.Errorf("restore into scratch database failed, the live database was not touched: %w", err)
	}
	if want != nil {
		if err := compareCounts(want, counts); err != nil {
			return fmt.Errorf("the restored copy fails its check, the live database was not touched: %w", err)
		}
	}
	if err := migrateScratch(ctx, scratchURL, res); err != nil {
		return err
	}
	o.pause("scratch_ready")
	o.pause("before_swap")
	o.logf("swapping %s into place as %s", scratch, pg.dbname)
	if err := admin.swap(ctx, scratch, old, liveExists, o.pause); err != nil {
		return fmt.Errorf("swap failed, the live database is unchanged: %w", err)
	}
	swapped = true
	o.pause("after_swap")
	if liveExists {
		if err := admin.drop(ctx, old); err != nil {
			o.logf("could not drop the previous database %s (the next restore or serve retries): %v", old, err)
		}
	}
	return nil
}
