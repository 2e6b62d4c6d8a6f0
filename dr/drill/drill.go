// Package drill is casino's restore drill (casino dr drill): it picks a
// backup, verifies and restores it into an isolated scratch target through
// the same path as casino restore, boots casino in-process on the copy,
// runs dr's must-pass checks and a data check against it, times every
// phase, tears the copy down, and leaves a DRILL PROOF (the incident
// proof's format and hash chain) and a drills row in production's
// database. A drill never writes to production's data beyond that row and
// one verification record, and never to production's backup folder.
package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/auth"
	"casino/backup"
	"casino/dr"
	"casino/keys"
	"casino/sqlstore"
)

// Options configures a drill.
type Options struct {
	// Production is DATABASE_URL: the drills row and the verification
	// record are written there, and the scratch target must not be it.
	Production sqlstore.Target
	// BackupDir is production's backup folder, read only.
	BackupDir string
	// Pick is PickLatest (default) or PickRandomWithin (with Within);
	// Backup names one instead.
	Pick   string
	Within time.Duration
	Backup string
	// Remote, when set, is the bucket to pick from and download.
	Remote *Remote
	// TargetURL, when set, is the database to restore into (it must not
	// exist); by default a new database <db>__drill_<id> on production's
	// PostgreSQL server, or a file in a new folder under ScratchDir.
	TargetURL  string
	ScratchDir string
	// ProofDir receives the DRILL PROOF; Template is its head.
	ProofDir string
	Template dr.Source
	// Targets are the RTO/RPO targets (TargetsName says where from);
	// Scenario is the one the drill rehearses (default B).
	Targets     *dr.Targets
	TargetsName string
	TargetsText string
	Scenario    string
	// Keys verify (and decrypt) the backup.
	Keys     *backup.Keys
	PGBinDir string
	Jobs     int
	// Browser adds the headless Chromium smoke (ChromiumPath).
	Browser      bool
	ChromiumPath string
	// Timeout bounds select through validate; past it the drill is
	// TIMED_OUT (teardown and recording still run).
	Timeout time.Duration
	// Hasher replaces the production password hashing parameters (tests).
	Hasher *auth.HasherConfig
	Red    *dr.Redactor
	// Signer, when set, signs the closed proof's journal head.
	Signer *keys.Private
	// Log receives one line per phase; may be nil.
	Log io.Writer
	// PITR, when set, makes this a point-in-time drill (--to-time): the
	// select phase recovers the replica or WAL stream to a new signed
	// scratch backup, which the drill then verifies, restores and
	// validates like a picked one, judged against the PITR targets.
	PITR *PITR
	// Pause is called at the restore's named points (backup.RestoreOptions)
	// and at the drill's own: "booted". Tests kill the process there.
	Pause func(point string)
	Now   func() time.Time
}

// PITR is a point-in-time drill's recovery.
type PITR struct {
	// Config names the configuration rehearsed; it chooses the targets.
	Config *dr.PITRConfig
	// Target is the instant (nil: the newest state).
	Target *time.Time
	// Recover writes the recovered data as a backup into dir and returns
	// its path, the recovery's facts and the keys that verify it
	// (pitr.RecoverToBackup).
	Recover func(ctx context.Context, dir string) (string, *casino.PITRFacts, *backup.Keys, error)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func (o *Options) pause(point string) {
	if o.Pause != nil {
		o.Pause(point)
	}
}

// Result is a finished drill.
type Result struct {
	Drill casino.Drill
	// Cleaned lists the leftovers of interrupted drills this one removed.
	Cleaned []string
}

// Failure reasons name why a drill did not succeed; each starts the
// drill's Reason.
const (
	ReasonPick        = "pick"
	ReasonDownload    = "download"
	ReasonVerify      = "verify"
	ReasonNotIsolated = "target_is_production"
	// ReasonTarget: the target cannot be used (it exists already).
	ReasonTarget       = "target"
	ReasonRestore      = "restore"
	ReasonData         = "data"
	ReasonBoot         = "boot"
	ReasonValidate     = "validate"
	ReasonTimeout      = "timeout"
	ReasonTeardown     = "teardown"
	ReasonInterrupted  = "interrupted"
	verificationDetail = 500
)

// drillError is a phase's failure with its named reason.
type drillError struct {
	reason string
	err    error
}

func (e *drillError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *drillError) Unwrap() error { return e.err }

func fail(reason string, err error) error { return &drillError{reason: reason, err: err} }

// run is one drill in progress.
type run struct {
	o       *Options
	d       casino.Drill
	prod    *sqlstore.DB
	proof   *dr.Incident
	sc      scratch
	inst    *instance
	pick    *picked
	workDir string // private: downloads and the restore's own folder
	// owned is set once the target is proved not to be production: a
	// target that failed the proof (production itself, or a database that
	// existed before) is never torn down.
	owned  bool
	facts  *casino.RestoreFacts
	counts map[string]int64
	schema int
	start  time.Time
	recEnd time.Time

	// pitr are a point-in-time drill's recovery facts (select), journaled
	// with the restore's facts so the proof shows the target and the
	// instant reached.
	pitr *casino.PITRFacts
}

// NewID returns a random drill id (32 hex digits).
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Run runs one drill. It returns an error only when the drill could not
// be recorded at all (production's database unreachable, the proof folder
// unwritable); every other failure is a drill that did not succeed, in
// Result.Drill.Verdict and Reason.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Scenario == "" {
		o.Scenario = "B"
	}
	if o.Red == nil {
		o.Red = &dr.Redactor{}
	}
	prod, err := sqlstore.Open(ctx, o.Production.URL)
	if err != nil {
		return nil, fmt.Errorf("open the production database to record the drill: %w", err)
	}
	// Production is open only while the drill reads or writes its rows:
	// not during the restore, boot and checks, so the drill holds no
	// connection a production restore would wait for.
	defer func() {
		if prod != nil {
			prod.Close()
		}
	}()
	if err := prod.CheckSchema(ctx); err != nil {
		return nil, fmt.Errorf("production database: %w", err)
	}
	r := &run{o: &o, prod: prod, start: o.now()}
	r.d = casino.Drill{ID: NewID(), StartedAt: r.start.Truncate(time.Microsecond), Verdict: casino.DrillRunning, Engine: string(o.Production.Dialect)}
	// A drill restores a logical backup: the targets without
	// point-in-time recovery apply, unless it rehearses one.
	var cfg *dr.PITRConfig
	if o.PITR != nil {
		cfg = o.PITR.Config
		if o.PITR.Target != nil {
			to := o.PITR.Target.UTC()
			r.d.ToTime = &to
		}
	}
	if tg, _, ok := o.Targets.For(o.Scenario, cfg); ok {
		if d, err := time.ParseDuration(tg.RTO); err == nil {
			r.d.RTOTargetSeconds = d.Seconds()
		}
		if tg.RPO != nil {
			if d, err := time.ParseDuration(*tg.RPO); err == nil {
				r.d.RPOTargetSeconds = d.Seconds()
			}
		}
	}
	proofID := "drill-" + r.start.Format("2006-01-02") + "-" + r.d.ID[:12]
	r.d.ProofPath = filepath.Join(o.ProofDir, proofID+".md")
	if r.sc, err = newScratch(o.Production, o.TargetURL, o.ScratchDir, r.d.ID[:12]); err != nil {
		return nil, err
	}
	r.d.Scratch = r.sc.Name()
	// The row comes first: a drill killed from here on leaves a RUNNING
	// row, which the next drill marks FAILED (interrupted).
	if err := prod.StartDrill(ctx, r.d); err != nil {
		return nil, err
	}
	r.proof, err = dr.DeclareNamed(o.ProofDir, proofID, o.Template, dr.Declaration{
		Severity: "DRILL", IC: "casino dr drill", Comms: "none (drill)", IncidentStart: r.start, ImpactStart: r.start, Drill: true, DrillID: r.d.ID,
	}, o.Red, r.start)
	if err != nil {
		r.d.Verdict, r.d.Reason = casino.DrillFailed, "proof: "+err.Error()
		return nil, errors.Join(fmt.Errorf("write the drill proof: %w", err), r.record(ctx))
	}
	res := &Result{}
	res.Cleaned = r.cleanLeftovers(ctx)
	prod.Close()
	r.prod, prod = nil, nil

	dctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	runErr := r.phases(dctx)
	r.recEnd = o.now()
	if r.inst != nil {
		if err := r.inst.stop(); err != nil {
			o.logf("stop the drill instance: %v", err)
		}
	}
	r.teardown(ctx)
	switch {
	case errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		// Past --timeout, whatever the phases answered: a drill that
		// overran its budget did not pass.
		r.d.Verdict = casino.DrillTimedOut
		r.d.Reason = fmt.Sprintf("%s: the drill did not finish within --timeout %s (%s)", ReasonTimeout, o.Timeout, errText(runErr))
	case runErr == nil && r.d.Reason == "":
		r.d.Verdict = casino.DrillSuccessful
	default:
		r.d.Verdict = casino.DrillFailed
		if runErr != nil {
			r.d.Reason = errText(runErr)
		}
	}
	r.d.Reason = o.Red.String(r.d.Reason)
	r.close()
	err = r.record(ctx)
	res.Drill = r.d
	if err != nil {
		return res, fmt.Errorf("drill %s %s, but recording it in the production database failed: %w", r.d.ID, r.d.Verdict, err)
	}
	return res, nil
}

func errText(err error) string {
	if err == nil {
		return "every phase answered, after the deadline"
	}
	var de *drillError
	if errors.As(err, &de) {
		return de.reason + ": " + message(de.err)
	}
	return message(err)
}

// message is a casino.Error's message, or the error's text: a drill's
// reason is for the operator, who needs the detail.
func message(err error) string {
	var ce *casino.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	return err.Error()
}

// phase runs one timed phase, journaled as a step of the proof.
func (r *run) phase(name string, fn func() (string, error)) error {
	var perr error
	err := r.step(name, func() error {
		t0 := time.Now()
		var detail string
		detail, perr = fn()
		p := casino.DrillPhase{Name: name, Seconds: round3(time.Since(t0).Seconds()), OK: perr == nil, Detail: r.o.Red.String(detail)}
		if perr != nil {
			p.Detail = r.o.Red.String(strings.TrimSpace(detail + " " + errText(perr)))
		}
		r.d.Phases = append(r.d.Phases, p)
		r.o.logf("%-9s %7.3fs %s", name, p.Seconds, map[bool]string{true: "ok", false: "FAILED"}[p.OK])
		if detail != "" {
			if err := r.proof.AddNote(name + ": " + detail); err != nil && perr == nil {
				perr = err
			}
		}
		return perr
	})
	if perr != nil {
		return perr
	}
	return err
}

// step runs body as one step of the proof (dr's step lifecycle: a synced
// step_start before body, a step_end with its error after) and returns
// body's own error, which keeps its named reason, or else the journal's.
func (r *run) step(name string, body func() error) error {
	var berr error
	err := r.proof.RunStep(context.Background(), dr.StepSpec{Step: name, Kind: "drill"}, func(context.Context, *dr.StepRun) dr.StepResult {
		berr = body()
		return dr.StepResult{Err: berr}
	})
	if berr != nil {
		return berr
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", name, err)
	}
	return nil
}

// timed adds a phase measured by the caller (the parts of backup.Restore
// told apart by its pause points).
func (r *run) timed(name string, secs float64, ok bool, detail string) {
	r.d.Phases = append(r.d.Phases, casino.DrillPhase{Name: name, Seconds: round3(secs), OK: ok, Detail: r.o.Red.String(detail)})
	verdict := map[bool]string{true: "ok", false: "FAILED"}[ok]
	r.o.logf("%-9s %7.3fs %s", name, secs, verdict)
	if err := r.proof.AddNote(fmt.Sprintf("%s (%.3fs, %s): %s", name, round3(secs), verdict, detail)); err != nil {
		r.o.logf("journal %s: %v", name, err)
	}
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func (r *run) phases(ctx context.Context) error {
	o := r.o
	var err error
	r.workDir, err = os.MkdirTemp(o.ScratchDir, "casino-drill-work-")
	if err == nil {
		err = writePidFile(r.workDir)
	}
	if err != nil {
		return fail(ReasonTarget, err)
	}
	if err := r.phase(casino.DrillPhaseSelect, func() (string, error) {
		engine := string(o.Production.Dialect)
		if o.PITR != nil {
			return r.pickPITR(ctx)
		}
		if o.Remote != nil {
			r.pick, err = pickRemote(ctx, o.Remote, engine, o.Pick, o.Within, o.Backup, r.start)
		} else {
			r.pick, err = pickLocal(o.BackupDir, engine, o.Pick, o.Within, o.Backup, o.Keys, r.start)
		}
		if err != nil {
			return "", fail(ReasonPick, err)
		}
		r.d.Backup, r.d.BackupSource, r.d.PickReason = r.pick.Name, r.pick.Source, r.pick.Reason
		if m := r.pick.Manifest; m != nil {
			at := m.SnapshotAt.UTC()
			r.d.BackupSHA256, r.d.BackupSnapshotAt = m.SHA256, &at
			r.d.BackupAgeSeconds = round3(r.start.Sub(at).Seconds())
		}
		return fmt.Sprintf("picked %s from %s. Why: %s", r.pick.Name, r.pick.Source, r.pick.Reason), nil
	}); err != nil {
		return err
	}
	if err := r.phase(casino.DrillPhaseDownload, func() (string, error) {
		if r.pick.remote == nil {
			return "local backup: nothing to download", nil
		}
		p, err := backup.Pull(ctx, o.Remote.Store, r.pick.remote, filepath.Join(r.workDir, "download"))
		if err != nil {
			return "", fail(ReasonDownload, err)
		}
		r.pick.Path = p
		st, _ := os.Stat(p)
		var size int64
		if st != nil {
			size = st.Size()
		}
		return fmt.Sprintf("pulled the pinned data version of %s (%s, sha256 and size checked while streaming) into the drill's private folder, not the backup folder", r.pick.Name, backup.HumanBytes(size)), nil
	}); err != nil {
		return err
	}
	if err := r.restore(ctx); err != nil {
		return err
	}
	if err := r.phase(casino.DrillPhaseBoot, func() (string, error) {
		logger := slog.New(slog.DiscardHandler)
		inst, err := bootInstance(ctx, r.sc.URL(), o.Hasher, logger)
		if err != nil {
			return "", fail(ReasonBoot, err)
		}
		r.inst = inst
		o.Red.Add(inst.Password)
		if err := inst.waitReady(ctx); err != nil {
			return "", fail(ReasonBoot, err)
		}
		o.pause("booted")
		return fmt.Sprintf("casino (backend API and frontend-admin) serves the restored copy at %s; a random one-time password was set on the copy's owner %s, in the copy only; metrics go to a private registry; no backup scheduler, no lock on production", inst.URL, inst.Email), nil
	}); err != nil {
		return err
	}
	return r.phase(casino.DrillPhaseValidate, func() (string, error) { return r.validate(ctx) })
}

// pickPITR is the select phase of a point-in-time drill.
func (r *run) pickPITR(ctx context.Context) (string, error) {
	p := r.o.PITR
	path, facts, keys, err := p.Recover(ctx, filepath.Join(r.workDir, "pitr"))
	if err != nil {
		return "", fail(ReasonPick, err)
	}
	m, err := backup.ReadManifest(path)
	if err != nil {
		return "", fail(ReasonPick, err)
	}
	// Facts no recovery produces make no successful drill: the proof would
	// mark them CONTRADICT, and an incident's dr run would refuse them.
	if ps := dr.PITRProblems(&casino.RestoreFacts{Backup: casino.RestoredBackup{SnapshotAt: m.SnapshotAt}, FinishedAt: r.o.now(), PITR: facts}); len(ps) > 0 {
		return "", fail(ReasonPick, fmt.Errorf("the recovery's facts contradict each other: %s", strings.Join(ps, "; ")))
	}
	r.o.Keys = keys // the scratch key signed it
	r.pitr = facts
	to := "the newest state"
	if p.Target != nil {
		to = p.Target.UTC().Format(time.RFC3339Nano)
	}
	r.pick = &picked{Name: filepath.Base(path), Path: path, Source: facts.Source, Manifest: m,
		Reason: fmt.Sprintf("point in time: recovered %s to %s (%s); last recovered change %s", facts.Source, to, facts.Mode, facts.ReachedAt.Format(time.RFC3339Nano))}
	r.d.Backup, r.d.BackupSource, r.d.PickReason = r.pick.Name, r.pick.Source, r.pick.Reason
	at := m.SnapshotAt.UTC()
	r.d.BackupSHA256, r.d.BackupSnapshotAt = m.SHA256, &at
	r.d.BackupAgeSeconds = round3(r.start.Sub(at).Seconds())
	return fmt.Sprintf("recovered to %s into %s. Why: %s", to, r.pick.Name, r.pick.Reason), nil
}

// restore runs backup.Restore into the scratch target and tells its parts
// apart by the pause points it passes: verify (signature, checksum, and
// for SQLite the decryption and decompression into the new file), restore
// (loading the data, renaming it into place), migrate (migrate up).
func (r *run) restore(ctx context.Context) error {
	return r.step(casino.DrillPhaseRestore, func() error { return r.restoreBody(ctx) })
}

func (r *run) restoreBody(ctx context.Context) error {
	o := r.o
	// The isolation check comes before anything is created, and is
	// journaled whether it passes or not.
	ev, err := r.sc.ProveNotProduction(ctx)
	if err == nil {
		// From here on the target is the drill's own: only now may
		// teardown remove it.
		r.owned = true
		err = r.sc.Create()
		if err != nil {
			err = fail(ReasonTarget, err)
		}
	} else if errors.Is(err, ErrTargetIsProduction) {
		err = fail(ReasonNotIsolated, err)
	} else {
		err = fail(ReasonTarget, err)
	}
	if err != nil {
		r.d.Phases = append(r.d.Phases, casino.DrillPhase{Name: casino.DrillPhaseRestore, OK: false, Detail: o.Red.String(errText(err))})
		r.proof.AddNote("restore: refused before anything was created: " + errText(err))
		return err
	}
	if err := r.proof.AddNote("restore: isolation check: " + ev); err != nil {
		return err
	}
	marks := map[string]time.Time{}
	t0 := time.Now()
	tgt, _ := sqlstore.ParseURL(r.sc.URL())
	ro := backup.RestoreOptions{
		File: r.pick.Path, Target: tgt, BackupDir: filepath.Join(r.workDir, "restore"),
		NoSafetyBackup: true, PGBinDir: o.PGBinDir, Jobs: o.Jobs, Keys: o.Keys,
		Overrides: []string{"drill"},
		Pause: func(p string) {
			marks[p] = time.Now()
			o.pause(p)
		},
	}
	res, rerr := backup.Restore(ctx, ro)
	end := time.Now()
	at := func(p string, def time.Time) time.Time {
		if t, ok := marks[p]; ok {
			return t
		}
		return def
	}
	verified := at("verified", end)
	loaded := at("loaded", verified)
	ready := at("scratch_ready", loaded)
	verifyDetail := "signature, size and sha256 of the file checked against the signed manifest"
	if rerr == nil && res != nil && res.Plan != nil {
		verifyDetail = strings.Join(res.Plan.Checks, "; ")
	}
	encrypted := r.pick.Manifest != nil && r.pick.Manifest.Encryption != nil
	if _, ok := marks["verified"]; !ok && rerr != nil {
		// Refused before anything was restored: a verify failure.
		err := fail(ReasonVerify, rerr)
		r.timed(casino.DrillPhaseVerify, end.Sub(t0).Seconds(), false, errText(err))
		return err
	}
	// Decryption runs inside verify and the load, as age streams; its
	// measured time (backup.RestoreResult.Decrypt) is its own phase and is
	// taken out of the phases it ran in, so the phases still add up.
	var decryptAll, decryptInVerify time.Duration
	if res != nil {
		decryptAll, decryptInVerify = res.Decrypt, res.DecryptInVerify
	}
	r.timed(casino.DrillPhaseVerify, (verified.Sub(t0) - decryptInVerify).Seconds(), true, verifyDetail)
	decrypt := "not encrypted: nothing to decrypt"
	if encrypted {
		decrypt = fmt.Sprintf("age-encrypted: decrypted as it streamed (%s while verify read it, %s while it loaded; time in age, not waiting on the stored bytes), checked against the signed sha256 before the load commits",
			decryptInVerify.Round(time.Millisecond), (decryptAll - decryptInVerify).Round(time.Millisecond))
	}
	r.timed(casino.DrillPhaseDecrypt, decryptAll.Seconds(), true, decrypt)
	restoreSecs := loaded.Sub(verified).Seconds() + end.Sub(ready).Seconds() - (decryptAll - decryptInVerify).Seconds()
	if rerr != nil {
		err := fail(ReasonRestore, rerr)
		r.timed(casino.DrillPhaseRestore, restoreSecs, false, errText(err))
		return err
	}
	r.facts = res.Facts
	if r.pitr != nil {
		f := *r.facts
		f.PITR = r.pitr
		r.facts = &f
	}
	r.timed(casino.DrillPhaseRestore, restoreSecs, true, fmt.Sprintf("restored into %s through casino restore's path (no safety backup: the target was new)", r.sc.Name()))
	r.timed(casino.DrillPhaseMigrate, ready.Sub(loaded).Seconds(), true, fmt.Sprintf("migrated up: %v (schema %d)", res.Migrated, sqlstore.LatestVersion(o.Production.Dialect)))
	if err := r.proof.Append(dr.TypeRestore, dr.RestoreRecord{Step: casino.DrillPhaseRestore, ExitCode: 0, Source: "casino dr drill", Facts: *r.facts}); err != nil {
		return err
	}
	// What the copy holds before the drill instance touches it (the
	// one-time password): the data check compares it with the manifest.
	db, err := sqlstore.Open(ctx, r.sc.URL())
	if err == nil {
		r.counts, err = tableCounts(ctx, db, r.facts.RestoreID)
		if err == nil {
			r.schema, err = db.SchemaVersion(ctx)
		}
		db.Close()
	}
	if err != nil {
		err = fail(ReasonData, err)
	}
	return err
}

// tableCounts counts the rows of every application table that exists in
// db, and marks a missing one with -1. audit_events leaves out the event
// in which the restore recorded itself (restore_id restoreID): the backup
// cannot hold it.
func tableCounts(ctx context.Context, db *sqlstore.DB, restoreID string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range sqlstore.Tables {
		var n int64
		q, args := "SELECT COUNT(*) FROM "+t, []any(nil)
		if t == "audit_events" {
			q += " WHERE NOT (action = ? AND after LIKE ?)"
			args = []any{casino.ActionRestore, "%" + restoreID + "%"}
		}
		if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out[t] = -1
			continue
		}
		out[t] = n
	}
	return out, nil
}

// dataChecks compares the copy with the manifest: every table of casino's
// schema exists, each table's rows equal the manifest's (system_state gains
// the restore_id, schema_migrations the migrations applied), and the schema
// is the version this binary expects.
func (r *run) dataChecks() []dr.CheckResult {
	var out []dr.CheckResult
	add := func(name, title string, bad []string, ok string) {
		c := dr.CheckResult{Name: name, Title: title, MustPass: true, Status: dr.Pass, Detail: ok}
		if len(bad) > 0 {
			c.Status, c.Detail = dr.Fail, strings.Join(bad, "; ")
		}
		out = append(out, c)
	}
	var missing, diff []string
	for _, t := range sqlstore.Tables {
		if r.counts[t] < 0 {
			missing = append(missing, t)
		}
	}
	add("tables", "every table of casino's schema exists in the restored copy", prefix("restored data misses table ", missing), fmt.Sprintf("all %d tables present", len(sqlstore.Tables)))
	var want map[string]int64
	if r.pick.Manifest != nil {
		want = r.pick.Manifest.RowCounts
	}
	for _, t := range sqlstore.Tables {
		if t == "system_state" || t == "schema_migrations" || r.counts[t] < 0 {
			continue
		}
		w, ok := want[t]
		if !ok {
			diff = append(diff, fmt.Sprintf("the manifest has no row count for %s", t))
			continue
		}
		if g := r.counts[t]; g != w {
			diff = append(diff, fmt.Sprintf("%s has %d rows, the manifest %d", t, g, w))
		}
	}
	var counts []string
	for _, t := range sqlstore.Tables {
		counts = append(counts, fmt.Sprintf("%s=%d", t, r.counts[t]))
	}
	add("rows_manifest", "row counts equal the manifest's (system_state and schema_migrations change by the restore itself)", diff, "equal to the manifest: "+strings.Join(counts, " "))
	latest := sqlstore.LatestVersion(r.o.Production.Dialect)
	var sbad []string
	if r.schema != latest {
		sbad = append(sbad, fmt.Sprintf("schema version %d, expected %d", r.schema, latest))
	}
	add("schema", "schema version is the one this binary expects", sbad, fmt.Sprintf("schema version %d", r.schema))
	return out
}

func prefix(p string, xs []string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, p+x)
	}
	return out
}

func (r *run) validate(ctx context.Context) (string, error) {
	o := r.o
	names := "health,ready,version,login,is_owner,data,ui"
	if o.Browser {
		names += ",browser"
	}
	checks, err := dr.Select(names)
	if err != nil {
		return "", err
	}
	v := &dr.Validator{
		URL: r.inst.URL, Email: r.inst.Email, Password: r.inst.Password,
		ExpectVersion: casino.Build().Version, VersionSource: "the drill runs this binary: its own version",
		Data:    &dr.DataExpectation{Source: "manifest of " + r.pick.Name, RestoreID: r.facts.RestoreID, RowCounts: r.facts.RowCounts},
		Browser: o.Browser, ChromiumPath: o.ChromiumPath, Red: o.Red,
	}
	val := v.Run(ctx, checks)
	// A drill has no production request logs: the log checks do not apply
	// to it, and the validation is complete without them.
	var skipped []string
	for _, n := range val.Skipped {
		if !strings.HasPrefix(n, "logs_") {
			skipped = append(skipped, n)
		}
	}
	val.Skipped, val.Complete = skipped, len(skipped) == 0
	for _, c := range r.dataChecks() {
		val.Checks = append(val.Checks, c)
		if c.Status == dr.Fail {
			val.Passed = false
			val.Failed = append(val.Failed, c.Name)
		}
	}
	if err := r.proof.Append(dr.TypeValidate, val); err != nil {
		return "", err
	}
	if ctx.Err() != nil {
		return "", fail(ReasonTimeout, ctx.Err())
	}
	if !val.Passed {
		var why []string
		for _, c := range val.Checks {
			if c.Status == dr.Fail && c.MustPass {
				why = append(why, c.Name+": "+c.Detail)
			}
		}
		reason := ReasonValidate
		for _, f := range val.Failed {
			if f == "tables" || f == "rows_manifest" || f == "schema" {
				reason = ReasonData
				break
			}
		}
		return "", fail(reason, errors.New(strings.Join(why, "; ")))
	}
	return fmt.Sprintf("%d checks passed against %s", len(val.Checks), r.inst.URL), nil
}

// teardown removes the scratch target whatever happened, and journals the
// evidence. A failed teardown fails the drill.
func (r *run) teardown(parent context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 2*time.Minute)
	defer cancel()
	err := r.phase(casino.DrillPhaseTeardown, func() (string, error) {
		ev, err := "nothing to remove: the target was never the drill's (it did not pass the isolation check), so it was left untouched", error(nil)
		if r.owned {
			ev, err = r.sc.Teardown(ctx)
		}
		if r.workDir != "" {
			if e := os.RemoveAll(r.workDir); e != nil && err == nil {
				err = e
			}
		}
		if err != nil {
			return "", fail(ReasonTeardown, err)
		}
		if r.workDir != "" {
			ev += "; removed the drill's private work folder " + r.workDir
		}
		return ev, nil
	})
	if err != nil && r.d.Reason == "" {
		r.d.Reason = errText(err)
	}
}

// close journals the verdict and the RTO/RPO measures and closes the proof.
func (r *run) close() {
	o := r.o
	var recovery float64
	for _, p := range r.d.Phases {
		if p.Name != casino.DrillPhaseTeardown {
			recovery += p.Seconds
		}
	}
	if !r.recEnd.IsZero() {
		recovery = r.recEnd.Sub(r.start).Seconds()
	}
	r.d.RecoverySeconds = round3(recovery)
	met := func(b bool) *bool { return &b }
	rep := dr.CloseReport{Scenario: o.Scenario, TargetsFile: o.TargetsName, TargetsText: o.TargetsText,
		Summary: fmt.Sprintf("DRILL %s of backup %s into %s.", verdictWord(r.d), orNone(r.d.Backup), r.d.Scratch)}
	if r.d.Reason != "" {
		rep.Summary += " Reason: " + r.d.Reason
	}
	rto := &dr.Measure{Seconds: r.d.RecoverySeconds, Value: secs(r.d.RecoverySeconds), From: r.start, To: r.recEnd,
		Basis: "drill recovery time: select through validate, in one process (the time an operator's restore of this backup would take, without the human steps)"}
	if r.d.RTOTargetSeconds > 0 {
		rto.Target = secs(r.d.RTOTargetSeconds)
		rto.Met = met(r.d.Verdict == casino.DrillSuccessful && r.d.RecoverySeconds <= r.d.RTOTargetSeconds)
	}
	rep.RTO = rto
	rpo := &dr.Measure{Basis: "backup age at drill start: the data an incident at this moment would lose"}
	if r.d.BackupSnapshotAt != nil {
		rpo.Seconds, rpo.Value, rpo.From, rpo.To = r.d.BackupAgeSeconds, secs(r.d.BackupAgeSeconds), *r.d.BackupSnapshotAt, r.start
		if r.d.RPOTargetSeconds > 0 {
			rpo.Target = secs(r.d.RPOTargetSeconds)
			rpo.Met = met(r.d.BackupAgeSeconds <= r.d.RPOTargetSeconds)
		}
	} else {
		rpo.NotKnown = "no backup with a manifest was picked"
	}
	rep.RPO = rpo
	for _, m := range []struct {
		n string
		m *dr.Measure
	}{{"RTO", rto}, {"RPO", rpo}} {
		if m.m.Met != nil && !*m.m.Met {
			rep.Unmet = append(rep.Unmet, m.n)
		}
	}
	var lines []string
	for _, p := range r.d.Phases {
		lines = append(lines, fmt.Sprintf("| %s | %.3f s | %s |", p.Name, p.Seconds, map[bool]string{true: "ok", false: "FAILED"}[p.OK]))
	}
	table := "| phase | duration | result |\n|---|---|---|\n" + strings.Join(lines, "\n")
	if err := r.proof.AddNote(fmt.Sprintf("verdict: %s%s\n\n%s\n\nrecovery time %s against the scenario %s RTO target %s; backup age %s against the RPO target %s",
		r.d.Verdict, ifReason(r.d.Reason), table, secs(r.d.RecoverySeconds), o.Scenario, secs(r.d.RTOTargetSeconds), secs(r.d.BackupAgeSeconds), secs(r.d.RPOTargetSeconds))); err != nil {
		o.logf("journal the verdict: %v", err)
	}
	if err := r.proof.Append(dr.TypeClose, rep); err != nil {
		o.logf("close the proof: %v", err)
	}
	if o.Signer != nil {
		if err := r.proof.Sign(*o.Signer); err != nil {
			o.logf("sign the proof: %v", err)
		}
	}
	if n := len(r.proof.Entries); n > 0 {
		r.d.JournalHead = r.proof.Entries[n-1].Hash
	}
}

func ifReason(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func verdictWord(d casino.Drill) string {
	if d.Verdict == casino.DrillRunning {
		return "FAILED"
	}
	return string(d.Verdict)
}

func orNone(s string) string {
	if s == "" {
		return "(none picked)"
	}
	return s
}

func secs(f float64) string {
	return (time.Duration(f * float64(time.Second))).Round(time.Millisecond).String()
}

// record writes the drill's outcome to production's database: the drills
// row and, once a backup was picked, its verification (kind "drill"). The
// backup's signed manifest is never rewritten.
func (r *run) record(parent context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
	defer cancel()
	fin := r.o.now().Truncate(time.Microsecond)
	r.d.FinishedAt = &fin
	if r.d.Verdict == casino.DrillRunning {
		r.d.Verdict = casino.DrillFailed
	}
	prod := r.prod
	if prod == nil {
		var err error
		if prod, err = sqlstore.Open(ctx, r.o.Production.URL); err != nil {
			return err
		}
		defer prod.Close()
	}
	if err := prod.FinishDrill(ctx, r.d); err != nil {
		return err
	}
	if r.d.Backup == "" || r.pick == nil {
		return nil
	}
	detail := fmt.Sprintf("drill %s %s: restored into an isolated target, casino booted on it, must-pass checks run", r.d.ID, r.d.Verdict)
	if r.d.Reason != "" {
		detail = fmt.Sprintf("drill %s %s: %s", r.d.ID, r.d.Verdict, r.d.Reason)
	}
	if len(detail) > verificationDetail {
		detail = detail[:verificationDetail] + "…"
	}
	v := casino.BackupVerification{BackupName: r.d.Backup, SHA256: r.d.BackupSHA256, Kind: "drill", OK: r.d.Verdict == casino.DrillSuccessful, Detail: detail, VerifiedAt: fin}
	return prod.RecordVerification(ctx, v)
}
