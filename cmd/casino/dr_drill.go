package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"net/url"

	"casino"
	"casino/backup"
	"casino/docs/ops"
	"casino/dr"
	drdrill "casino/dr/drill"
	"casino/pitr"
	"casino/redact"
	"casino/sqlstore"
)

const drDrillUsage = `dr drill [--pick latest|random-within DURATION] [--backup NAME] [--remote] [--to-time T|latest] [--target URL] [--browser] [--timeout D]

Rehearses a restore end to end and leaves evidence (package dr/drill):
  select    pick a backup: the newest trusted one (--pick latest, default),
            one drawn at random among those of the last DURATION
            (--pick random-within 7d), or --backup NAME; from the backup
            folder, or from the bucket with --remote (downloaded into a
            private folder, never into the backup folder)
  verify    signature, size and sha256, decryption: casino restore's path
  restore   into an isolated target that is proved not to be DATABASE_URL:
            a new database <db>__drill_<id> on production's PostgreSQL server
            (or --target URL, which must not exist), a SQLite file in a new
            folder under --scratch-dir; then migrate up
  boot      casino (API and console) in this process on a loopback port,
            with a random one-time owner password set in the copy only
  validate  health, ready, version, login, is_owner, data, UI smoke
            (--browser: also in headless Chromium), and the copy's row
            counts and schema against the manifest
  teardown  drops the copy, and proves it is gone
With --to-time T (or latest) the drill rehearses a point-in-time recovery
instead: select recovers the Litestream replica (SQLite, --pitr-replica) or
the verified WAL stream (PostgreSQL, --pitr-dir) to T into a new signed
scratch backup, and the phases after it run on that; the targets with PITR
apply.
Each phase is timed; recovery time is compared with the scenario B RTO
target and the backup's age with its RPO target. The DRILL PROOF (same
format and hash chain as incident proofs; casino dr verify-proof checks it)
is written to --proof-dir and closed. Production's database gets one drills
row (RUNNING first) and one verification record (kind drill). Leftovers of
interrupted drills (RUNNING rows whose process is gone, scratch databases,
SQLite scratch folders) are cleaned first.
Exit 0 only for SUCCESSFUL; FAILED and TIMED_OUT exit 1 with the reason.`

func runDRDrill(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	var f drFlags
	var rf remoteFlags
	fs := newFlagSet(env, "dr drill", drDrillUsage)
	bindBackupCommon(fs, env, &b)
	bindVerifyKeyFlags(fs, &b)
	bindRemoteFlags(fs, &rf)
	bindDRFlags(fs, env, &f)
	pick := fs.String("pick", drdrill.PickLatest, "latest, or random-within DURATION (like 7d)")
	name := fs.String("backup", "", "drill this backup (a file name in --dir, or in the bucket with --remote)")
	target := fs.String("target", "", "database URL to restore into, which must not exist (default: a new <db>__drill_<id> database on production's server, or a SQLite file under --scratch-dir)")
	scratchDir := fs.String("scratch-dir", env.Getenv("CASINO_DRILL_SCRATCH_DIR"), "folder of SQLite scratch copies and downloads (default: the system temp folder)")
	targets := fs.String("targets", "", "RTO/RPO targets (JSON; default "+dr.DefaultTargets+" when it exists, else the targets built into casino)")
	tpl := fs.String("template", "", "proof template (default DIR/template.md when it exists, else the one built into casino)")
	timeout := fs.Duration("timeout", 30*time.Minute, "past this, the drill stops and is TIMED_OUT (teardown and recording still run)")
	browser := fs.Bool("browser", false, "also run the UI smoke in headless Chromium (CASINO_CHROMIUM or /usr/bin/chromium)")
	jobs := fs.Int("jobs", 0, "PostgreSQL: connections that load the data (default: the number of CPUs)")
	toTime, pitrSrc := bindPITRRestoreFlags(fs, env)
	if err := parseFlags(fs, positionalsLast(joinPickWindow(args))); err != nil {
		return helpOK(err)
	}
	rest := fs.Args()
	mode, within := *pick, time.Duration(0)
	if m, d, ok := strings.Cut(mode, " "); ok {
		mode, rest = m, append([]string{d}, rest...)
	}
	switch mode {
	case drdrill.PickLatest:
	case drdrill.PickRandomWithin:
		if len(rest) == 0 {
			return usageErrorf("dr drill: --pick random-within wants a DURATION (like 7d)")
		}
		d, err := parseAge(rest[0])
		if err != nil || d <= 0 {
			return usageErrorf("dr drill: --pick random-within %s: want a positive duration like 7d or 36h", rest[0])
		}
		within, rest = d, rest[1:]
	default:
		return usageErrorf("dr drill: --pick %q: want latest or random-within DURATION", mode)
	}
	if len(rest) > 0 {
		return usageErrorf("dr drill: unexpected argument %q", rest[0])
	}
	if *name != "" && mode != drdrill.PickLatest {
		return usageErrorf("dr drill: give --backup NAME or --pick, not both")
	}
	if *timeout <= 0 {
		return usageErrorf("dr drill: --timeout must be positive")
	}
	if err := b.cfg.validateDatabase(fs); err != nil {
		return err
	}
	k, err := b.loadKeys(env, false)
	if err != nil {
		return err
	}
	o := drdrill.Options{
		Production: b.cfg.target, BackupDir: b.dir, Pick: mode, Within: within, Backup: *name,
		TargetURL: *target, ScratchDir: *scratchDir, ProofDir: f.proofDir, Keys: k,
		PGBinDir: b.pgBinDir, Jobs: *jobs, Browser: *browser, ChromiumPath: dr.ChromiumPath(env.Getenv),
		Timeout: *timeout, Hasher: testHasherConfig, Red: newRedactor(env), Pause: pauseHook(ctx, env),
	}
	// Phase lines go to stderr; stdout carries the result (--json: one
	// casino.Drill).
	o.Log = env.Stderr
	if rf.on("") {
		st, _, err := openRemote(env, &rf, "", false)
		if err != nil {
			return err
		}
		ro, err := remoteOptions(env, &rf, &b)
		if err != nil {
			return err
		}
		o.Remote = &drdrill.Remote{Store: st, Options: ro}
	}
	if *toTime != "" {
		if *name != "" || rf.on("") || mode != drdrill.PickLatest {
			return usageErrorf("dr drill: --to-time rehearses a point-in-time recovery: give it without --backup, --pick or --remote")
		}
		if o.PITR, err = drillPITR(env, &b, k, *toTime, pitrSrc); err != nil {
			return err
		}
	}
	if o.Template, err = dr.LoadSource(*tpl, filepath.Join(f.proofDir, "template.md"), "template.md", ops.Template); err != nil {
		return fmt.Errorf("dr drill: proof template: %w", err)
	}
	src, err := dr.LoadSource(*targets, dr.DefaultTargets, "dr_targets.json", ops.Targets)
	if err != nil {
		return fmt.Errorf("dr drill: RTO/RPO targets: %w", err)
	}
	if o.Targets, err = dr.ParseTargets(src.Text, src.Name); err != nil {
		return err
	}
	o.TargetsName, o.TargetsText = src.Name, string(src.Text)
	if o.Signer, err = drSigner(env); err != nil {
		return err
	}
	res, err := drdrill.Run(ctx, o)
	if res == nil {
		return cliError(err)
	}
	d := res.Drill
	if b.jsonOut {
		if err := writeJSON(env.Stdout, d); err != nil {
			return err
		}
	} else {
		printDrill(env, d)
	}
	if err != nil {
		return cliError(err)
	}
	if d.Verdict != casino.DrillSuccessful {
		return fmt.Errorf("drill %s %s: %s", d.ID, d.Verdict, d.Reason)
	}
	return nil
}

func printDrill(env *Env, d casino.Drill) {
	w := env.Stdout
	fmt.Fprintf(w, "drill %s: %s\n", d.ID, d.Verdict)
	if d.Reason != "" {
		fmt.Fprintf(w, "  reason:   %s\n", d.Reason)
	}
	fmt.Fprintf(w, "  backup:   %s (%s)\n", orDash(d.Backup), d.PickReason)
	for _, p := range d.Phases {
		ok := "ok"
		if !p.OK {
			ok = "FAILED"
		}
		fmt.Fprintf(w, "  %-9s %8.3fs %s\n", p.Name, p.Seconds, ok)
	}
	verdict := func(v, target float64) string {
		if target <= 0 {
			return "no target"
		}
		if v <= target {
			return "within target " + secsText(target)
		}
		return "OVER target " + secsText(target)
	}
	rto := verdict(d.RecoverySeconds, d.RTOTargetSeconds)
	if d.Verdict != casino.DrillSuccessful {
		rto = "not a recovery: the drill did not succeed"
	}
	fmt.Fprintf(w, "  recovery: %s, %s (scenario B RTO)\n", secsText(d.RecoverySeconds), rto)
	if d.BackupSnapshotAt != nil {
		fmt.Fprintf(w, "  backup age: %s, %s (RPO: the exposure if the incident happened now)\n", secsText(d.BackupAgeSeconds), verdict(d.BackupAgeSeconds, d.RPOTargetSeconds))
	}
	fmt.Fprintf(w, "  proof:    %s (journal head sha256 %s)\n", d.ProofPath, d.JournalHead)
}

func secsText(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// joinPickWindow makes "--pick random-within 7d" one flag value, so flags
// after it still parse (the flag package stops at the first positional).
func joinPickWindow(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "--pick" || a == "-pick") && i+2 < len(args) && args[i+1] == drdrill.PickRandomWithin && !strings.HasPrefix(args[i+2], "-") {
			out = append(out, a, args[i+1]+" "+args[i+2])
			i += 2
			continue
		}
		if (a == "--pick="+drdrill.PickRandomWithin || a == "-pick="+drdrill.PickRandomWithin) && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out = append(out, a+" "+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// drillPITR wires dr drill --to-time: pitr.RecoverToBackup from the
// replica (SQLite) or the stream folder (PostgreSQL), verified with the
// backup keys.
func drillPITR(env *Env, b *backupFlags, k *backup.Keys, toTime string, src *pitrSource) (*drdrill.PITR, error) {
	target, err := pitr.ParseTarget(toTime, true)
	if err != nil {
		return nil, usageErrorf("dr drill: %v", err)
	}
	o := pitr.ToBackupOptions{Engine: b.cfg.target.Dialect, Target: target, Keys: k, PGBinDir: b.pgBinDir}
	p := &drdrill.PITR{Target: target}
	switch b.cfg.target.Dialect {
	case sqlstore.SQLite:
		if src.replica == "" {
			return nil, usageErrorf("dr drill --to-time on SQLite needs --pitr-replica (or CASINO_PITR_REPLICA), the Litestream replica")
		}
		o.Replica = pitr.Replica{URL: src.replica, Getenv: env.Getenv}
		if err := pitr.CheckLitestreamReplica(o.Replica, false); err != nil {
			return nil, usageErrorf("dr drill: %v", err)
		}
		p.Config = &dr.PITRConfig{Mode: dr.PITRLitestream, From: "--to-time", Source: redact.String(src.replica)}
	default:
		u, err := url.Parse(b.cfg.target.URL)
		if err != nil {
			return nil, usageErrorf("dr drill: DATABASE_URL does not parse")
		}
		o.Recover = recoverOptions(env, b, src.dir, k)
		o.Recover.Database = strings.Trim(u.Path, "/")
		p.Config = &dr.PITRConfig{Mode: dr.PITRWAL, From: "--to-time", Source: src.dir}
	}
	p.Recover = func(ctx context.Context, dir string) (string, *casino.PITRFacts, *backup.Keys, error) {
		o.Dir = dir
		return pitr.RecoverToBackup(ctx, o)
	}
	return p, nil
}
