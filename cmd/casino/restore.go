package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/backup"
	"casino/s3store"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "restore", Summary: "restore a backup (verify, restore aside, carry live state, swap; the old database is kept aside) or --undo one", Run: runRestore})
}

const restoreUsage = `restore FILE|latest|s3://bucket/prefix/NAME|--remote NAME|latest [--yes] [--dry-run] [--target DATABASE_URL] [flags]
restore --undo [--yes] [--terminate-connections]

Restores a backup over the database (DATABASE_URL, or --target):
  1. verifies the file: manifest, engine, size, sha256, schema not newer
  2. takes a safety backup DIR/pre_restore_casino_db_... (unless
     --no-safety-backup; a database too damaged to dump does not stop it)
  3. restores into a separate target: a new file (SQLite) or a scratch
     database (PostgreSQL), and checks it (integrity, row counts vs manifest)
  4. migrates it up and carries the live state into it: login freeze,
     maintenance, token revocations, password changes and audit events
     made after the backup, the verification store
  5. swaps it in atomically, keeping the replaced database aside
     (PostgreSQL: <db>_pre_restore_YYYYMMDD_HHMMSS; SQLite: a file beside it)
A failure or kill at any point leaves the old database or the new one whole.
--undo swaps the newest kept-aside database back in (and keeps the current
one aside, so a second --undo swaps again).
It refuses while other sessions use the database (PostgreSQL: unless
--terminate-connections; SQLite: stop casino serve), and over a database
that holds tables but no casino schema (unless --force-foreign-target).
Without --yes (or a typed confirmation on a terminal) it prints the plan and
exits 1 without changing anything. FILE must lie inside --dir.
--json prints one casino.RestoreFacts object on stdout (text goes to stderr);
--result-file F writes the same object to F.

restore --to-time T|latest [--pitr-dir pitr|s3://bucket/prefix] [--yes] ...
  PostgreSQL: recovers the WAL stream folder of 'casino pitr stream' to the
  RFC 3339 instant T (or its end) in a temporary server, dumps it, and
  restores that dump through the same steps 1-5. An s3:// --pitr-dir is the
  bucket the stream shipped to: pulled and verified as 'casino pitr pull'
  does, into a scratch folder removed afterwards. SQLite: restores the
  Litestream replica (--pitr-replica) as of T into a new file, then the same
  steps. The facts gain "pitr". See docs/ops/pitr.md.`

func runRestore(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "restore", restoreUsage)
	bindBackupCommon(fs, env, &b)
	bindVerifyKeyFlags(fs, &b)
	yes := fs.Bool("yes", false, "carry out the restore without asking")
	dryRun := fs.Bool("dry-run", false, "verify the file and print the plan; change nothing")
	target := fs.String("target", "", "database URL to restore into (default: DATABASE_URL)")
	noSafety := fs.Bool("no-safety-backup", false, "skip the pre_restore_ safety backup (the current data is then lost)")
	force := fs.Bool("force-unverified", false, "restore a backup that has no manifest (no checksum or row-count check)")
	jobs := fs.Int("jobs", 0, "PostgreSQL: connections that load the data and build the indexes (default: the number of CPUs)")
	undo := fs.Bool("undo", false, "swap the newest kept-aside database back in")
	foreign := fs.Bool("force-foreign-target", false, "replace a database that holds tables but no casino schema (it is kept aside)")
	terminate := fs.Bool("terminate-connections", false, "PostgreSQL: terminate the other sessions of the database before carrying its live state over and swapping")
	resultFile := fs.String("result-file", "", "write the restore's facts (JSON) to this file")
	toTime, pitrSrc := bindPITRRestoreFlags(fs, env)
	var rf remoteFlags
	bindRemoteFlags(fs, &rf)
	// flags may follow FILE, as the checklist writes "restore FILE --yes"
	file, err := parseWithFile(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if *undo {
		if file != "" {
			return usageErrorf("restore --undo takes no FILE: it swaps back the newest kept-aside database")
		}
	} else if file == "" && *toTime == "" {
		return usageErrorf("restore: want a backup FILE or --to-time (see 'casino restore -h')")
	} else if file != "" && *toTime != "" {
		return usageErrorf("restore: give a backup FILE or --to-time, not both")
	}
	if *target != "" {
		b.cfg.DatabaseURL = *target
	}
	if err := b.cfg.validateDatabase(fs); err != nil {
		if *target != "" {
			return usageErrorf("invalid --target: %s", sqlstore.Redact(err.Error()))
		}
		return err
	}
	// The safety backup is signed too: on embedded SQLite the zero-config
	// key pair is created for it when there is none.
	keys, err := b.loadKeys(env, b.cfg.target.Dialect == sqlstore.SQLite)
	if err != nil {
		return err
	}
	out := env.Stdout
	if b.jsonOut {
		out = env.Stderr
	}
	if *undo {
		return runUndo(ctx, env, &b, out, *yes, *terminate)
	}
	// s3://bucket/prefix/NAME or --remote NAME|latest is streamed from the
	// bucket through the same verified path as a local backup, with no
	// local copy; latest is the newest backup whose manifest (signature
	// included) is trusted.
	latestKeys, _ := b.loadKeys(env, false)
	path, src, err := backup.SelectSource(ctx, file, backup.SourceOptions{
		Dir: b.dir, Keys: latestKeys, Remote: rf.remote.set,
		FindRemote: func(ctx context.Context, arg string) (*s3store.Store, *s3store.Backup, error) {
			return findRemote(ctx, env, &rf, &b, arg)
		},
	})
	if err != nil {
		return cliError(err)
	}
	o := backup.RestoreOptions{
		File: path, Target: b.cfg.target, BackupDir: b.dir,
		NoSafetyBackup: *noSafety, ForceUnverified: *force, DryRun: *dryRun,
		ForceForeignTarget: *foreign, TerminateConnections: *terminate,
		PGBinDir: b.pgBinDir, Jobs: *jobs, Progress: progressFor(env, b.jsonOut), Log: out,
		Pause: pauseHook(ctx, env), Keys: keys, Source: src,
	}
	o.Confirm = func(p *backup.Plan) bool {
		printPlan(out, p)
		if *yes {
			return true
		}
		return confirmOnTTY(env, p)
	}
	if *toTime != "" {
		return restoreToTime(ctx, env, &b, o, *toTime, pitrSrc, *resultFile)
	}
	res, err := backup.Restore(ctx, o)
	if errors.Is(err, backup.ErrNotConfirmed) {
		return err
	}
	if err != nil {
		return cliError(err)
	}
	if err := writeFacts(env, b.jsonOut, *resultFile, res.Facts); err != nil {
		return err
	}
	if *dryRun {
		printPlan(out, res.Plan)
		fmt.Fprintln(out, "dry run: nothing was changed")
		return nil
	}
	fmt.Fprintf(out, "restore complete: %s is now %s\n", res.Plan.Target, filepath.Base(path))
	fmt.Fprintf(out, "  restore_id:       %s\n", res.Facts.RestoreID)
	if res.SnapshotAt != nil {
		fmt.Fprintf(out, "  snapshot_at:      %s\n", res.SnapshotAt.Format(time.RFC3339))
		fmt.Fprintf(out, "  data-loss window: %s (now - snapshot_at: changes after the snapshot are not in the restored data)\n", time.Duration(res.DataLossSec*float64(time.Second)).Round(time.Second))
	} else {
		fmt.Fprintln(out, "  snapshot_at:      unknown (no manifest)")
	}
	if res.KeyFingerprint != "" {
		fmt.Fprintf(out, "  signed by:        %s\n", res.KeyFingerprint)
	}
	if len(res.Overrides) > 0 {
		fmt.Fprintf(out, "  overrides used:   %s\n", strings.Join(res.Overrides, ", "))
	}
	fmt.Fprintf(out, "  duration:         %.1fs\n", res.DurationMS/1000)
	fmt.Fprintf(out, "  rows:             %s\n", formatCounts(res.RowCounts))
	if len(res.Migrated) > 0 {
		fmt.Fprintf(out, "  migrated up:      %v\n", res.Migrated)
	}
	if len(res.Terminated) > 0 {
		for _, s := range res.Terminated {
			fmt.Fprintf(out, "  terminated:       %s\n", s)
		}
	}
	if c := res.Carried; c != nil {
		printCarried(out, c)
	}
	if res.KeptAside != "" {
		fmt.Fprintf(out, "  kept aside:       %s (casino restore --undo swaps it back)\n", res.KeptAside)
	}
	if res.SafetyBackup != "" {
		fmt.Fprintf(out, "  safety backup:    %s (restore it to undo)\n", res.SafetyBackup)
	} else if res.SafetyBackupError != "" {
		fmt.Fprintf(out, "  safety backup:    FAILED (%s); the previous database is kept aside instead\n", res.SafetyBackupError)
	}
	fmt.Fprintln(out, "next: restart the backend so every replica reconnects to the restored database")
	return nil
}

// printCarried says what live state the restore carried over.
func printCarried(out io.Writer, c *casino.CarriedState) {
	onOff := map[bool]string{true: "on", false: "off"}
	fmt.Fprintf(out, "  carried over:     login freeze %s, maintenance %s, %d token revocation(s), %d tokens_valid_after cut-off(s), %d audit event(s), %d verification(s)\n",
		onOff[c.LoginFreeze], onOff[c.Maintenance], c.RevokedTokens, c.TokensValidAfter, c.AuditEvents, c.Verifications)
	if len(c.PasswordHashes) > 0 {
		fmt.Fprintf(out, "  passwords kept:   %s (changed after the backup)\n", strings.Join(c.PasswordHashes, ", "))
	}
	for _, u := range c.NotCarriedUsers {
		fmt.Fprintf(out, "  not carried:      %s\n", u)
	}
	for _, s := range c.Skipped {
		fmt.Fprintf(out, "  could not carry:  %s\n", s)
	}
}

// writeFacts prints the facts as JSON on stdout (--json) and writes them
// to the result file, each as one object.
func writeFacts(env *Env, jsonOut bool, resultFile string, f *casino.RestoreFacts) error {
	if resultFile != "" {
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(resultFile, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("write --result-file: %w", err)
		}
	}
	if jsonOut {
		return writeJSON(env.Stdout, f)
	}
	return nil
}

func runUndo(ctx context.Context, env *Env, b *backupFlags, out io.Writer, yes, terminate bool) error {
	kept, err := backup.ListKeptAside(ctx, b.cfg.target)
	if err != nil {
		return cliError(err)
	}
	if len(kept) == 0 {
		return cliError(casino.Errorf(casino.ENOTFOUND, "nothing to undo: no database is kept aside for %s", b.cfg.target.Identity()))
	}
	fmt.Fprintf(out, "undo plan\n  target:  %s\n  swap in: %s (kept aside %s, %s)\n  the current database is kept aside in its place (a second --undo swaps back)\n",
		b.cfg.target.Identity(), kept[0].Name, kept[0].KeptAt.Format(time.RFC3339), backup.HumanBytes(kept[0].SizeBytes))
	if !yes && !confirmOnTTY(env, &backup.Plan{Target: b.cfg.target.Identity()}) {
		return backup.ErrNotConfirmed
	}
	res, err := backup.Undo(ctx, backup.UndoOptions{Target: b.cfg.target, TerminateConnections: terminate, Log: out, Pause: pauseHook(ctx, env)})
	if err != nil {
		return cliError(err)
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, res)
	}
	fmt.Fprintf(out, "undo complete: %s is live again\n", res.Restored)
	if res.KeptAside != "" {
		fmt.Fprintf(out, "  kept aside:       %s (casino restore --undo swaps it back)\n", res.KeptAside)
	}
	fmt.Fprintln(out, "next: restart the backend so every replica reconnects")
	return nil
}

func printPlan(w io.Writer, p *backup.Plan) {
	fmt.Fprintf(w, "restore plan\n  backup:  %s (%s)\n  target:  %s", p.File, p.Engine, p.Target)
	if !p.TargetExists {
		fmt.Fprint(w, " (does not exist yet)")
	}
	fmt.Fprintln(w)
	if m := p.Manifest; m != nil {
		fmt.Fprintf(w, "  snapshot_at: %s (data-loss window %s), schema %d, from %s\n", m.SnapshotAt.Format(time.RFC3339), p.DataLossWindow, m.SchemaVersion, m.Source)
		fmt.Fprintf(w, "  rows:    %s\n", formatCounts(m.RowCounts))
	} else {
		fmt.Fprintln(w, "  UNVERIFIED: no manifest (--force-unverified)")
	}
	fmt.Fprintln(w, "  checks passed:")
	for _, c := range p.Checks {
		fmt.Fprintf(w, "    - %s\n", c)
	}
	if len(p.Leftovers) > 0 {
		fmt.Fprintln(w, "  leftovers of an interrupted run (removed first):")
		for _, l := range p.Leftovers {
			fmt.Fprintf(w, "    - %s\n", l)
		}
	}
	fmt.Fprintln(w, "  steps:")
	for i, s := range p.Steps {
		fmt.Fprintf(w, "    %d. %s\n", i+1, s)
	}
}

// confirmOnTTY asks for the target's name on a terminal; elsewhere it
// refuses, so a script without --yes never restores by accident.
func confirmOnTTY(env *Env, p *backup.Plan) bool {
	if !isTerminal(env.Stdin) {
		return false
	}
	want := p.Target
	fmt.Fprintf(env.Stdout, "type %q to replace it: ", want)
	line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
	return strings.TrimSpace(line) == want
}

// pauseHook lets tests stop a restore at a named point (CASINO_TEST_PAUSE_AT)
// and kill -9 it there. It prints "paused at POINT" on stderr and waits.
func pauseHook(ctx context.Context, env *Env) func(string) {
	at := env.Getenv("CASINO_TEST_PAUSE_AT")
	if at == "" {
		return nil
	}
	return func(point string) {
		if point != at {
			return
		}
		fmt.Fprintf(env.Stderr, "paused at %s\n", point)
		<-ctx.Done()
	}
}
