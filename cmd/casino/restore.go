package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"casino/backup"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "restore", Summary: "restore a backup: verify, safety backup, restore aside, check, swap", Run: runRestore})
}

const restoreUsage = `restore FILE [--yes] [--dry-run] [--target DATABASE_URL] [flags]

Restores a backup over the database (DATABASE_URL, or --target):
  1. verifies the file: manifest, engine, size, sha256, schema not newer
  2. takes a safety backup DIR/pre_restore_casino_db_... (unless --no-safety-backup)
  3. restores into a separate target: a new file (SQLite) or a scratch
     database (PostgreSQL), and checks it (integrity, row counts vs manifest)
  4. migrates it up, then swaps it in atomically
A failure or kill at any point leaves the old database or the new one whole.
Without --yes (or a typed confirmation on a terminal) it prints the plan and
exits 1 without changing anything. FILE must lie inside --dir.`

func runRestore(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "restore", restoreUsage)
	bindBackupCommon(fs, env, &b)
	yes := fs.Bool("yes", false, "carry out the restore without asking")
	dryRun := fs.Bool("dry-run", false, "verify the file and print the plan; change nothing")
	target := fs.String("target", "", "database URL to restore into (default: DATABASE_URL)")
	noSafety := fs.Bool("no-safety-backup", false, "skip the pre_restore_ safety backup (the current data is then lost)")
	force := fs.Bool("force-unverified", false, "restore a backup that has no manifest (no checksum or row-count check)")
	jobs := fs.Int("jobs", 0, "PostgreSQL: connections that load the data and build the indexes (default: the number of CPUs)")
	// flags may follow FILE, as the checklist writes "restore FILE --yes"
	file, err := parseWithFile(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if file == "" {
		return usageErrorf("restore: want a backup FILE (see 'casino restore -h')")
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
	path, err := resolveBackupPath(b.dir, file)
	if err != nil {
		return err
	}
	out := env.Stdout
	if b.jsonOut {
		out = env.Stderr
	}
	o := backup.RestoreOptions{
		File: path, Target: b.cfg.target, BackupDir: b.dir,
		NoSafetyBackup: *noSafety, ForceUnverified: *force, DryRun: *dryRun,
		PGBinDir: b.pgBinDir, Jobs: *jobs, Progress: progressFor(env, b.jsonOut), Log: out,
		Pause: pauseHook(ctx, env),
	}
	o.Confirm = func(p *backup.Plan) bool {
		printPlan(out, p)
		if *yes {
			return true
		}
		return confirmOnTTY(env, p)
	}
	res, err := backup.Restore(ctx, o)
	if errors.Is(err, backup.ErrNotConfirmed) {
		if b.jsonOut {
			writeJSON(env.Stdout, map[string]any{"ok": false, "plan": res.Plan, "error": err.Error()})
		}
		return err
	}
	if err != nil {
		if b.jsonOut {
			writeJSON(env.Stdout, map[string]any{"ok": false, "error": cliError(err).Error()})
		}
		return cliError(err)
	}
	if *dryRun {
		printPlan(out, res.Plan)
		fmt.Fprintln(out, "dry run: nothing was changed")
		if b.jsonOut {
			return writeJSON(env.Stdout, map[string]any{"ok": true, "dry_run": true, "plan": res.Plan})
		}
		return nil
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"ok": true, "result": res})
	}
	fmt.Fprintf(out, "restore complete: %s is now %s\n", res.Plan.Target, filepath.Base(path))
	if res.SnapshotAt != nil {
		fmt.Fprintf(out, "  snapshot_at:      %s\n", res.SnapshotAt.Format(time.RFC3339))
		fmt.Fprintf(out, "  data-loss window: %s (now - snapshot_at: changes after the snapshot are not in the restored data)\n", time.Duration(res.DataLossSec*float64(time.Second)).Round(time.Second))
	} else {
		fmt.Fprintln(out, "  snapshot_at:      unknown (no manifest)")
	}
	fmt.Fprintf(out, "  duration:         %.1fs\n", res.DurationMS/1000)
	fmt.Fprintf(out, "  rows:             %s\n", formatCounts(res.RowCounts))
	if len(res.Migrated) > 0 {
		fmt.Fprintf(out, "  migrated up:      %v\n", res.Migrated)
	}
	if res.SafetyBackup != "" {
		fmt.Fprintf(out, "  safety backup:    %s (restore it to undo)\n", res.SafetyBackup)
	}
	fmt.Fprintln(out, "next: restart the backend so every replica reconnects to the restored database")
	return nil
}

// resolveBackupPath returns FILE's path, refusing one that escapes the
// backup folder (after symlinks): a bare name is looked up inside it.
func resolveBackupPath(dir, file string) (string, error) {
	if !strings.ContainsRune(file, filepath.Separator) {
		file = filepath.Join(dir, file)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	if d, err := filepath.EvalSymlinks(absDir); err == nil {
		absDir = d
	}
	if f, err := filepath.EvalSymlinks(absFile); err == nil {
		absFile = f
	} else if d, err := filepath.EvalSymlinks(filepath.Dir(absFile)); err == nil {
		absFile = filepath.Join(d, filepath.Base(absFile))
	}
	rel, err := filepath.Rel(absDir, absFile)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("refusing %s: it lies outside the backup folder %s (set --dir or CASINO_BACKUP_DIR to the folder that holds it)", file, absDir)
	}
	return file, nil
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
