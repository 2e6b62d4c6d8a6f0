package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
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
	// NoSafetyBackup skips the dump-based safety backup. The replaced
	// database is kept aside either way (see KeptAside).
	NoSafetyBackup bool
	// ForceUnverified accepts a backup without a manifest.
	ForceUnverified bool
	// ForceForeignTarget restores over a database that holds tables but
	// none of casino's (it is kept aside, never dropped).
	ForceForeignTarget bool
	// TerminateConnections terminates the other sessions of the live
	// PostgreSQL database before carrying its live state over; without it
	// a restore refuses while any is connected.
	TerminateConnections bool
	// Overrides are further safety overrides the caller used (for example
	// "verify_key", "trust_unsigned"), recorded in the facts.
	Overrides []string
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
	// Keys verify the backup's signature (and decrypt it), and sign the
	// safety backup.
	Keys *Keys
	// Pause is called at named points (tests kill the process there): verified,
	// backup_written (inside the safety backup), safety_backup_done, restoring
	// (PostgreSQL, data loading), loaded (the copy is built, before its
	// migrate up; a drill times the migration from it), scratch_ready, carried, before_swap,
	// during_swap (PostgreSQL), kept_aside (SQLite), after_swap.
	Pause func(point string)

	// Source, when set, is the backup to restore instead of File, streamed
	// without a local copy (casino restore s3://...): checked like a file,
	// its data loaded into the scratch copy as it streams, and the swap
	// only after the stream's sha256 matched the signed manifest.
	Source *Source

	// verified is the verified backup: the engine's restore reads the data
	// through verified.Open, which checks it again as it streams.
	verified *VerifyResult
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
	// Sessions are the other sessions connected to the live PostgreSQL
	// database when the plan was made.
	Sessions []Session `json:"sessions,omitempty"`
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
	// KeptAside is the replaced database, kept for --undo: a PostgreSQL
	// database name or a SQLite file path; "" when there was none.
	KeptAside string `json:"kept_aside,omitempty"`
	// Carried is the live state carried into the restored copy.
	Carried *casino.CarriedState `json:"carried,omitempty"`
	// Terminated are the sessions --terminate-connections ended.
	Terminated []Session `json:"terminated,omitempty"`
	// SafetyBackupError says why the safety backup failed, when it did
	// (the restore goes on: the replaced database is kept aside).
	SafetyBackupError string `json:"safety_backup_error,omitempty"`
	// Facts are the typed facts of this restore (casino restore --json).
	Facts *casino.RestoreFacts `json:"-"`
	// KeyFingerprint is the key whose signature verified the backup ("" when
	// --trust-unsigned let an unsigned one through); Overrides lists the
	// verification overrides used (OverrideVerifyKey, OverrideTrustUnsigned).
	// Facts carries both too.
	KeyFingerprint string   `json:"key_fingerprint,omitempty"`
	Overrides      []string `json:"overrides,omitempty"`
	// Decrypt is the time spent in age decryption (0 for a plain backup),
	// without the time waiting on the stored bytes; DecryptInVerify is the
	// part of it spent before the "verified" pause point, while the data
	// was checked. Both are part of DurationMS, not added to it.
	Decrypt         time.Duration `json:"-"`
	DecryptInVerify time.Duration `json:"-"`
}

// restoreJob is what the engine's restore needs beyond the options.
type restoreJob struct {
	want       map[string]int64
	liveExists bool
	snapshotAt time.Time // zero without a manifest
	restoreID  RestoreIDValue
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

// Restore verifies the backup, restores it into a separate copy (a new file
// or a scratch database), checks and migrates the copy, carries the live
// database's state into it, and swaps it in atomically, keeping the
// replaced database aside for Undo. It holds the database's lock
// throughout, and once confirmed first cleans the leftovers of any
// interrupted restore. A failure or kill at any point leaves the target
// database whole: untouched, or wholly replaced.
//
// It refuses (casino.ECONFLICT) while other sessions use the live database
// (PostgreSQL: unless TerminateConnections; SQLite: always), and
// (casino.EINVALID) a target that holds tables but no casino schema unless
// ForceForeignTarget.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	start := time.Now()
	if o.BackupDir == "" {
		o.BackupDir = DefaultDir
	}
	if o.Source != nil {
		o.File = o.Source.Location
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
	vo := VerifyOptions{Engine: engineOf(o.Target.Dialect), ForceUnverified: o.ForceUnverified, PGBinDir: o.PGBinDir, Progress: o.Progress, Keys: o.Keys, Source: o.Source}
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
			return nil, &casino.Error{Code: ce.Code, Message: "refusing the restore, nothing was changed: " + ce.Message, Err: ce}
		}
		return nil, err
	}
	plan.Engine, plan.Manifest, plan.Unverified, plan.Checks = vr.Engine, vr.Manifest, vr.Manifest == nil, vr.Checks
	if m := vr.Manifest; m != nil {
		plan.DataLossWindow = time.Since(m.SnapshotAt).Round(time.Second).String()
	}
	facts := newFacts(&o, vr)

	if plan.TargetExists, err = eng.open(ctx, &o); err != nil {
		removeNew()
		return nil, err
	}
	facts.Target = eng.identity(ctx)
	kind := targetEmpty
	if plan.TargetExists {
		var tables []string
		kind, tables = classifyTarget(ctx, o.Target)
		if kind == targetForeign && !o.ForceForeignTarget {
			removeNew()
			return nil, errorf(casino.EINVALID, "refusing to restore over %s: it holds tables but no casino schema (%s); is --target right? Nothing was changed. Re-run with --force-foreign-target to replace it (it is kept aside, not dropped)", plan.Target, strings.Join(tables, ", "))
		}
	}
	if kind != targetCasino {
		plan.SafetyBackup = false
	}
	if plan.SafetyBackup {
		plan.SafetyDir = o.BackupDir
		plan.Steps = append(plan.Steps, "take a safety backup of "+plan.Target+" into "+o.BackupDir+"/"+PrefixPreRestore+"... (a failure to dump a damaged database does not stop the restore)")
	} else if kind != targetCasino {
		plan.Steps = append(plan.Steps, "no safety backup: the target holds no casino data")
	} else {
		plan.Steps = append(plan.Steps, "no dump-based safety backup (--no-safety-backup)")
	}
	plan.Steps = append(plan.Steps, eng.steps(plan.TargetExists)...)
	if plan.TargetExists {
		// Fail fast, before anything is written, if another process uses
		// the database; checked again right before the swap.
		sessions, err := eng.checkAlone(ctx, &o)
		plan.Sessions = sessions
		if err != nil {
			removeNew()
			return nil, err
		}
	}
	if o.DryRun {
		removeNew()
		facts.DryRun = true
		facts.FinishedAt = time.Now().UTC()
		return &RestoreResult{Plan: plan, Facts: facts, KeyFingerprint: vr.KeyFingerprint, Overrides: vr.Overrides}, nil
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
	res := &RestoreResult{Plan: plan, Facts: facts, KeyFingerprint: vr.KeyFingerprint, Overrides: vr.Overrides, DecryptInVerify: vr.DecryptTime()}
	o.pause("verified")
	o.verified = vr

	if plan.SafetyBackup {
		o.logf("taking safety backup of %s", plan.Target)
		cr, err := Create(ctx, CreateOptions{Target: o.Target, Dir: o.BackupDir, Kind: KindPreRestore, PGBinDir: o.PGBinDir, Progress: o.Progress, NoLock: true, Pause: o.Pause, Keys: o.Keys})
		if err != nil {
			// The database is kept aside by the swap, so the undo does not
			// depend on this dump: a damaged database that cannot be
			// dumped must not block its own restore.
			res.SafetyBackupError = casino.ErrorMessage(err)
			o.logf("safety backup failed (%s); going on: the current database is kept aside for --undo", res.SafetyBackupError)
		} else {
			res.SafetyBackup = cr.Path
			o.logf("safety backup: %s", cr.Path)
		}
	}
	o.pause("safety_backup_done")

	job := &restoreJob{liveExists: plan.TargetExists, restoreID: RestoreIDValue{RestoreID: facts.RestoreID, Backup: facts.Backup.Name, RestoredAt: facts.StartedAt}}
	if vr.Manifest != nil {
		job.want = vr.Manifest.RowCounts
		job.snapshotAt = vr.Manifest.SnapshotAt
	}
	if err := eng.restore(ctx, &o, job, res); err != nil {
		return nil, err
	}
	ok = true
	if m := vr.Manifest; m != nil {
		at := m.SnapshotAt
		res.SnapshotAt = &at
		res.DataLossSec = time.Since(at).Seconds()
	}
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	res.Decrypt = vr.DecryptTime()
	facts.Carried, facts.KeptAside, facts.RowCounts = res.Carried, res.KeptAside, res.RowCounts
	facts.FinishedAt = time.Now().UTC()
	return res, nil
}

// newFacts starts the facts of a restore from its options and verification.
func newFacts(o *RestoreOptions, vr *VerifyResult) *casino.RestoreFacts {
	f := &casino.RestoreFacts{
		FormatVersion: casino.RestoreFactsVersion,
		RestoreID:     NewRestoreID(),
		StartedAt:     time.Now().UTC().Truncate(time.Second),
		Backup:        casino.RestoredBackup{Name: filepath.Base(o.File), Location: o.File},
		RowCounts:     map[string]int64{},
	}
	if m := vr.Manifest; m != nil {
		f.Backup.SHA256, f.Backup.SnapshotAt, f.Backup.SchemaVersion = m.SHA256, m.SnapshotAt, m.SchemaVersion
		f.RowCounts = m.RowCounts
		f.Backup.Encrypted = m.Encryption != nil
	}
	f.Backup.KeyFingerprint = vr.KeyFingerprint
	f.Overrides = append(f.Overrides, vr.Overrides...)
	f.Overrides = append(f.Overrides, o.Overrides...)
	for _, ov := range []struct {
		on   bool
		name string
	}{
		{o.ForceUnverified, "force_unverified"},
		{o.ForceForeignTarget, "force_foreign_target"},
		{o.TerminateConnections, "terminate_connections"},
		{o.NoSafetyBackup, "no_safety_backup"},
	} {
		if ov.on {
			f.Overrides = append(f.Overrides, ov.name)
		}
	}
	return f
}

// Kinds of target a restore may replace.
const (
	targetEmpty   = "empty"   // missing, or no tables at all
	targetCasino  = "casino"  // casino's schema, whole or damaged
	targetForeign = "foreign" // tables, none of them casino's
)

// classifyTarget tells casino's database from an empty or a foreign one.
// A damaged casino database (schema_migrations or other tables dropped) is
// still casino's when it keeps schema_migrations or at least three of
// casino's other tables. A database that cannot be read is taken as
// casino's: it is kept aside anyway.
func classifyTarget(ctx context.Context, t sqlstore.Target) (string, []string) {
	db, err := sqlstore.Open(ctx, ownURL(t.URL))
	if err != nil {
		return targetCasino, nil
	}
	defer db.Close()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`
	if t.Dialect == sqlstore.Postgres {
		q = `SELECT schemaname || '.' || tablename FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return targetCasino, nil
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			tables = append(tables, n)
		}
	}
	if rows.Err() != nil {
		return targetCasino, nil
	}
	if len(tables) == 0 {
		return targetEmpty, nil
	}
	ours := map[string]bool{}
	for _, n := range sqlstore.Tables {
		ours[n] = true
		ours["public."+n] = true
	}
	found := 0
	for _, n := range tables {
		if n == "schema_migrations" || n == "public.schema_migrations" {
			return targetCasino, tables
		}
		if ours[n] {
			found++
		}
	}
	if found >= 3 {
		return targetCasino, tables
	}
	if len(tables) > 8 {
		tables = append(tables[:8], "...")
	}
	return targetForeign, tables
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
// is built aside and swapped in, and how an undo swaps it back. Restore
// drives it in this order: verifyInto, open, identity, steps, checkAlone,
// restore; discard and close on the way out.
type engineRestore interface {
	// verifyInto tells Verify where to decompress (SQLite keeps the checked
	// copy as the new file; PostgreSQL only checksums before restoring).
	verifyInto(vo *VerifyOptions, dryRun bool, backupDir string)
	// open inspects the target and reports whether it exists.
	open(ctx context.Context, o *RestoreOptions) (exists bool, err error)
	// identity names the target for the facts.
	identity(ctx context.Context) casino.RestoreTarget
	// steps describes restore's work for the plan.
	steps(liveExists bool) []string
	// checkAlone fails (casino.ECONFLICT) when another process uses the
	// existing target, unless the options allow ending its sessions; it
	// returns the sessions it found.
	checkAlone(ctx context.Context, o *RestoreOptions) ([]Session, error)
	// restore builds the restored copy aside, checks and migrates it,
	// carries the live state into it, and swaps it in, keeping the
	// replaced database aside.
	restore(ctx context.Context, o *RestoreOptions, job *restoreJob, res *RestoreResult) error
	// undo swaps the newest kept-aside database back in.
	undo(ctx context.Context, o *UndoOptions) (*UndoResult, error)
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

// Session is a group of other sessions connected to the live database.
type Session struct {
	ApplicationName string `json:"application_name"`
	ClientAddr      string `json:"client_addr"`
	Count           int    `json:"count"`
}

func (s Session) String() string {
	app := s.ApplicationName
	if app == "" {
		app = "(no application_name)"
	}
	return fmt.Sprintf("%d x %s from %s", s.Count, app, s.ClientAddr)
}

func sessionList(ss []Session) string {
	parts := make([]string, len(ss))
	n := 0
	for i, s := range ss {
		parts[i] = s.String()
		n += s.Count
	}
	return fmt.Sprintf("%d session(s): %s", n, strings.Join(parts, "; "))
}

// rowCounts opens url and counts its rows.
func rowCounts(ctx context.Context, url string) (map[string]int64, error) {
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.RowCounts(ctx)
}
