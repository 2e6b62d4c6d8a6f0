package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"casino"
	"casino/backup"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "backup", Summary: "create, list, verify or prune database backups", Run: runBackup})
}

const backupUsage = `backup create|list|verify|prune [flags]

  create [--dir backups] [--compress gzip|zstd|none] [--json]
      snapshot the live database (it may keep serving) into
      DIR/casino_db_YYYYMMDD_HHMMSS.sql.gz (PostgreSQL, pg_dump plain SQL)
      or .sqlite.gz (SQLite), with a .manifest.json beside it
  list [--dir backups] [--json]
      name, age, size, engine, schema and last verification of each backup
  verify [--deep] [--force-unverified] [--json] FILE
      checksum, full decompression and a structural check; --deep restores a
      PostgreSQL dump into a scratch database and compares row counts
  prune --keep-last N --keep-daily N [--yes] [--dir backups]
      show what retention would delete; --yes deletes it

Settings: DATABASE_URL, CASINO_BACKUP_DIR (default backups), CASINO_PG_BINDIR
(folder of pg_dump/psql; default PATH, then /usr/lib/postgresql/*/bin).`

// backupFlags are the flags every backup and restore subcommand shares.
type backupFlags struct {
	cfg      Config
	dir      string
	jsonOut  bool
	pgBinDir string
}

func bindBackupCommon(fs *flag.FlagSet, env *Env, b *backupFlags) {
	bindDatabaseFlag(fs, env, &b.cfg)
	stringSetting(fs, env, &b.dir, "dir", "CASINO_BACKUP_DIR", backup.DefaultDir, "backup folder")
	fs.BoolVar(&b.jsonOut, "json", false, "print the result as JSON for automation")
	b.pgBinDir = env.Getenv("CASINO_PG_BINDIR")
}

// progressFor returns a progress bar on a TTY stderr, plain lines otherwise,
// and nothing with --json (stdout then carries only the JSON).
func progressFor(env *Env, jsonOut bool) *backup.Progress {
	p := &backup.Progress{W: env.Stderr}
	p.TTY = isTerminal(env.Stderr)
	if jsonOut && !p.TTY {
		p.W = nil
	}
	return p
}

func runBackup(ctx context.Context, env *Env, args []string) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "create":
		return runBackupCreate(ctx, env, args)
	case "list":
		return runBackupList(ctx, env, args)
	case "verify":
		return runBackupVerify(ctx, env, args)
	case "prune":
		return runBackupPrune(ctx, env, args)
	case "":
		fs := newFlagSet(env, "backup", backupUsage)
		if err := parseFlags(fs, args); err != nil {
			return helpOK(err)
		}
		return usageErrorf("backup: want one of create, list, verify, prune (see 'casino backup -h')")
	}
	return usageErrorf("backup: unknown subcommand %q: want create, list, verify or prune", sub)
}

func runBackupCreate(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup create", "backup create [--dir backups] [--compress gzip|zstd|none] [--json]")
	bindBackupCommon(fs, env, &b)
	compress := fs.String("compress", backup.Gzip, "gzip (default; plain .gz any gunzip reads), zstd (faster) or none")
	level := fs.Int("level", 0, "gzip level 1-9 (0: default 6)")
	kind := fs.String("kind", backup.KindManual, "manual or scheduled (recorded in the manifest)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("backup create: unexpected argument %q", fs.Arg(0))
	}
	if *compress != backup.Gzip && *compress != backup.Zstd && *compress != backup.None {
		return usageErrorf("backup create: --compress must be gzip, zstd or none, not %q", *compress)
	}
	if *kind != backup.KindManual && *kind != backup.KindScheduled {
		return usageErrorf("backup create: --kind must be manual or scheduled")
	}
	if err := b.cfg.validateDatabase(fs); err != nil {
		return err
	}
	res, err := backup.Create(ctx, backup.CreateOptions{
		Target: b.cfg.target, Dir: b.dir, Compression: *compress, Level: *level, Kind: *kind,
		PGBinDir: b.pgBinDir, Progress: progressFor(env, b.jsonOut),
	})
	if err != nil {
		return cliError(err)
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"path": res.Path, "manifest": res.Manifest})
	}
	m := res.Manifest
	fmt.Fprintf(env.Stdout, "backup written: %s\n", res.Path)
	fmt.Fprintf(env.Stdout, "  manifest:    %s\n", casino.ManifestPath(res.Path))
	fmt.Fprintf(env.Stdout, "  engine:      %s, schema %d, source %s\n", m.Engine, m.SchemaVersion, m.Source)
	fmt.Fprintf(env.Stdout, "  snapshot_at: %s\n", m.SnapshotAt.Format(time.RFC3339Nano))
	fmt.Fprintf(env.Stdout, "  size:        %s (%s), sha256 %s\n", backup.HumanBytes(m.SizeBytes), m.Compression, m.SHA256)
	fmt.Fprintf(env.Stdout, "  duration:    %.1fs\n", m.DurationMS/1000)
	fmt.Fprintf(env.Stdout, "  rows:        %s\n", formatCounts(m.RowCounts))
	return nil
}

// formatCounts renders row counts as "table=n ..." in table order.
func formatCounts(c map[string]int64) string {
	var parts []string
	seen := map[string]bool{}
	for _, t := range sqlstore.Tables {
		if n, ok := c[t]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", t, n))
			seen[t] = true
		}
	}
	var rest []string
	for t, n := range c {
		if !seen[t] {
			rest = append(rest, fmt.Sprintf("%s=%d", t, n))
		}
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), " ")
}

// cliError turns a backup error into the one-line message exitCode prints.
func cliError(err error) error {
	var ce *casino.Error
	if errors.As(err, &ce) {
		msg := ce.Message
		if s := err.Error(); !strings.HasPrefix(s, "casino error:") {
			// wrapped: keep the context before the casino error
			if i := strings.Index(s, "casino error:"); i > 0 {
				msg = s[:i] + ce.Message
			}
		}
		return errors.New(msg)
	}
	return err
}

func runBackupList(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup list", "backup list [--dir backups] [--json]")
	bindBackupCommon(fs, env, &b)
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("backup list: unexpected argument %q", fs.Arg(0))
	}
	entries, err := backup.List(b.dir)
	if err != nil {
		return err
	}
	if b.jsonOut {
		type row struct {
			Name           string     `json:"name"`
			Path           string     `json:"path"`
			AgeSeconds     float64    `json:"age_seconds"`
			SizeBytes      int64      `json:"size_bytes"`
			Engine         string     `json:"engine"`
			SchemaVersion  int        `json:"schema_version"`
			Kind           string     `json:"kind"`
			SnapshotAt     *time.Time `json:"snapshot_at"`
			LastVerifiedAt *time.Time `json:"last_verified_at"`
			ManifestError  string     `json:"manifest_error,omitempty"`
		}
		rows := []row{}
		for _, e := range entries {
			r := row{Name: e.Name, Path: e.Path, AgeSeconds: time.Since(e.Time()).Seconds(), SizeBytes: e.SizeBytes, Engine: backup.EngineOfName(e.Name), ManifestError: e.ManifestError}
			if m := e.Manifest; m != nil {
				at := m.SnapshotAt
				r.Engine, r.SchemaVersion, r.Kind, r.SnapshotAt, r.LastVerifiedAt = m.Engine, m.SchemaVersion, m.Kind, &at, m.LastVerifiedAt
			}
			rows = append(rows, r)
		}
		return writeJSON(env.Stdout, rows)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAGE\tSIZE\tENGINE\tSCHEMA\tKIND\tVERIFIED")
	for _, e := range entries {
		engine, schema, kind, verified := backup.EngineOfName(e.Name), "-", "-", "never"
		if m := e.Manifest; m != nil {
			engine, schema, kind = m.Engine, fmt.Sprint(m.SchemaVersion), m.Kind
			if m.LastVerifiedAt != nil {
				verified = humanAge(time.Since(*m.LastVerifiedAt)) + " ago"
			}
		} else {
			verified = "NO MANIFEST"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, humanAge(time.Since(e.Time())), backup.HumanBytes(e.SizeBytes), engine, schema, kind, verified)
	}
	tw.Flush()
	if len(entries) == 0 {
		fmt.Fprintf(env.Stdout, "(no backups in %s)\n", b.dir)
	}
	return nil
}

// humanAge renders a duration as 45s, 12m, 3h, 2d.
func humanAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func runBackupVerify(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup verify", "backup verify [--deep] [--force-unverified] [--json] FILE")
	bindBackupCommon(fs, env, &b)
	deep := fs.Bool("deep", false, "PostgreSQL: restore into a scratch database on DATABASE_URL's server and compare row counts")
	force := fs.Bool("force-unverified", false, "check a backup that has no manifest (no checksum to compare)")
	jobs := fs.Int("jobs", 0, "with --deep: connections that load the data and build the indexes (default: the number of CPUs)")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if file == "" {
		return usageErrorf("backup verify: want exactly one FILE (see 'casino backup verify -h')")
	}
	if !strings.ContainsRune(file, filepath.Separator) {
		if _, err := os.Stat(file); err != nil {
			file = filepath.Join(b.dir, file)
		}
	}
	o := backup.VerifyOptions{ForceUnverified: *force, Deep: *deep, PGBinDir: b.pgBinDir, Jobs: *jobs, Progress: progressFor(env, b.jsonOut)}
	if *deep {
		if err := b.cfg.validateDatabase(fs); err != nil {
			return err
		}
		if b.cfg.target.Dialect == sqlstore.Postgres {
			o.AdminURL = b.cfg.DatabaseURL
		}
	}
	res, err := backup.Verify(ctx, file, o)
	if err != nil {
		if b.jsonOut {
			writeJSON(env.Stdout, map[string]any{"file": file, "ok": false, "error": casino.ErrorMessage(err)})
		}
		return cliError(err)
	}
	if res.Manifest != nil {
		if err := backup.MarkVerified(file, res.Manifest, time.Now()); err != nil {
			return fmt.Errorf("record verification in the manifest: %w", err)
		}
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"file": file, "ok": true, "engine": res.Engine, "checks": res.Checks, "row_counts": res.RowCounts, "manifest": res.Manifest})
	}
	fmt.Fprintf(env.Stdout, "OK %s (%s)\n", file, res.Engine)
	for _, c := range res.Checks {
		fmt.Fprintf(env.Stdout, "  - %s\n", c)
	}
	return nil
}

func runBackupPrune(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup prune", "backup prune --keep-last N --keep-daily N [--yes] [--dir backups]")
	bindBackupCommon(fs, env, &b)
	keepLast := fs.Int("keep-last", 0, "keep the N newest backups")
	keepDaily := fs.Int("keep-daily", 0, "keep the newest backup of each of the N most recent days")
	yes := fs.Bool("yes", false, "delete; without it prune only prints what it would delete")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("backup prune: unexpected argument %q", fs.Arg(0))
	}
	if *keepLast < 0 || *keepDaily < 0 {
		return usageErrorf("backup prune: --keep-last and --keep-daily must not be negative")
	}
	if !flagWasSet(fs, "keep-last") && !flagWasSet(fs, "keep-daily") {
		return usageErrorf("backup prune: give --keep-last N and/or --keep-daily N")
	}
	entries, err := backup.List(b.dir)
	if err != nil {
		return err
	}
	plan := backup.PlanPrune(entries, *keepLast, *keepDaily)
	deleted := 0
	for _, d := range plan {
		verb := "keep  "
		if !d.Keep {
			verb = "delete"
			if *yes {
				if err := backup.Remove(d.Entry); err != nil {
					return fmt.Errorf("delete %s: %w", d.Entry.Name, err)
				}
				deleted++
				verb = "deleted"
			}
		}
		if !b.jsonOut {
			fmt.Fprintf(env.Stdout, "%s %s (%s)\n", verb, d.Entry.Name, d.Reason)
		}
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"dry_run": !*yes, "decisions": plan, "deleted": deleted})
	}
	if !*yes {
		fmt.Fprintln(env.Stdout, "dry run: nothing deleted; re-run with --yes to delete")
	}
	return nil
}

// parseWithFile parses flags that may come before or after one FILE
// argument (the checklist writes "restore FILE --yes"), and returns FILE
// ("" when none was given).
func parseWithFile(fs *flag.FlagSet, args []string) (string, error) {
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		if file != "" || fs.NArg() > 1 {
			return "", usageErrorf("%s: want exactly one FILE, got extra argument %q", fs.Name(), fs.Arg(fs.NArg()-1))
		}
		file = fs.Arg(0)
	}
	return file, nil
}
