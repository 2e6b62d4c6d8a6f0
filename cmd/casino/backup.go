package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/backup"
	"casino/retention"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "backup", Summary: "create, list, verify or prune database backups", Run: runBackup})
}

const backupUsage = `backup create|list|verify|prune|keygen|adopt [flags]

  create [--dir backups] [--compress gzip|zstd|none] [--encrypt-to AGE_RECIPIENT]... [--json]
      snapshot the live database (it may keep serving) into
      DIR/casino_db_YYYYMMDD_HHMMSS.sql.gz (PostgreSQL, pg_dump plain SQL)
      or .sqlite.gz (SQLite), with a .manifest.json and its Ed25519
      signature .manifest.json.sig beside it; with recipients, the file is
      age-encrypted (.sql.gz.age)
  list [--dir backups] [--json]
      name, age, size, engine, schema, signing key fingerprint and last
      verification (from the live database) of each backup
  verify [--deep] [--verify-key PUB]... [--trust-unsigned] [--force-unverified] [--json] FILE
      signature, checksum, full decompression and a structural check; --deep
      restores a PostgreSQL dump into a scratch database and compares row
      counts; the result is recorded in the live database
  prune [--keep-last N] [--keep-hourly|daily|weekly|monthly|yearly N]
        [--keep-within 7d] [--include-safety] [--yes] [--dir backups]
      GFS retention with restic's semantics (UTC buckets): show every kept
      backup with its reasons and every deleted one; --yes deletes
  keygen --out DIR [--name backup-signing]
      write an Ed25519 key pair DIR/NAME.key (0600) and DIR/NAME.pub, and
      print the public key
  adopt FILE
      sign a backup made before signatures existed, after a full verify
  prune --kept-aside --older-than 7d [--yes]
      the databases restores kept aside for --undo (PostgreSQL
      <db>_pre_restore_..., SQLite <file>.pre_restore_...): show those older
      than the age; --yes removes them
  pull s3://bucket/prefix/NAME | --remote NAME|latest
      download one backup from the bucket, verified, into the folder

Every command takes --remote (the bucket in CASINO_BACKUP_REMOTE) or an
s3://bucket/prefix URL; "latest" names the newest backup wherever a name is
expected. create --remote uploads the new backup (encrypted by default;
--allow-plaintext-remote otherwise; --remote-only keeps no local copy) with
--lock-mode compliance|governance --lock-min 7d; list --remote reports
orphans and backups that vanished since the last listing; prune --remote
extends the Object Lock of what longer classes keep.

Settings: DATABASE_URL, CASINO_BACKUP_DIR (default backups), CASINO_PG_BINDIR
(folder of pg_dump/psql; default PATH, then /usr/lib/postgresql/*/bin),
CASINO_BACKUP_SIGNING_KEY (private key: PEM value or file; with the embedded
SQLite default and none set, a pair is generated once in the database's
folder, under keys/; a remote needs it set), CASINO_BACKUP_VERIFY_KEY (public
keys: PEM values or comma-separated files; derived from the signing key when
unset), CASINO_BACKUP_RECIPIENTS (age recipients, comma-separated),
CASINO_BACKUP_IDENTITY (age identity: value or file, to read encrypted
backups); remote: CASINO_BACKUP_REMOTE=s3://bucket/prefix, CASINO_S3_ENDPOINT,
CASINO_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
CASINO_S3_CA_FILE, CASINO_S3_ADDRESSING (auto|path|virtual),
CASINO_BACKUP_LOCK_MODE, CASINO_BACKUP_LOCK_MIN.`

// backupFlags are the flags every backup and restore subcommand shares.
type backupFlags struct {
	cfg      Config
	dir      string
	jsonOut  bool
	pgBinDir string
	// keys: the environment's, and the flags that add to them
	keys          backup.KeyConfig
	trustUnsigned bool
}

func bindBackupCommon(fs *flag.FlagSet, env *Env, b *backupFlags) {
	bindDatabaseFlag(fs, env, &b.cfg)
	stringSetting(fs, env, &b.dir, "dir", "CASINO_BACKUP_DIR", backup.DefaultDir, "backup folder")
	fs.BoolVar(&b.jsonOut, "json", false, "print the result as JSON for automation")
	b.pgBinDir = env.Getenv("CASINO_PG_BINDIR")
	b.keys.SigningKey = env.Getenv("CASINO_BACKUP_SIGNING_KEY")
	b.keys.VerifyKeys = splitKeyList(env.Getenv("CASINO_BACKUP_VERIFY_KEY"))
	b.keys.Identity = env.Getenv("CASINO_BACKUP_IDENTITY")
	if r := env.Getenv("CASINO_BACKUP_RECIPIENTS"); r != "" {
		b.keys.Recipients = []string{r}
	}
}

// bindVerifyKeyFlags adds --verify-key and --trust-unsigned (the commands
// that read backups).
func bindVerifyKeyFlags(fs *flag.FlagSet, b *backupFlags) {
	fs.Func("verify-key", "public key (PEM file or value) to check the manifest signature with, in addition to CASINO_BACKUP_VERIFY_KEY; repeatable; recorded as an override", func(v string) error {
		b.keys.FlagVerifyKeys = append(b.keys.FlagVerifyKeys, v)
		return nil
	})
	fs.BoolVar(&b.trustUnsigned, "trust-unsigned", false, "accept a backup whose signature is missing or does not verify (recorded as an override)")
}

// splitKeyList splits CASINO_BACKUP_VERIFY_KEY: PEM values are kept whole
// (they may hold several keys), file paths are comma-separated.
func splitKeyList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if strings.Contains(v, "-----BEGIN") {
		return []string{v}
	}
	return strings.Split(v, ",")
}

// loadKeys loads the backup keys for the validated database target; with
// generate (backup create on embedded SQLite) a missing key pair is
// created, and said so on stderr.
func (b *backupFlags) loadKeys(env *Env, generate bool) (*backup.Keys, error) {
	c := b.keys
	c.Target, c.BackupDir, c.Generate, c.TrustUnsigned = b.cfg.target, b.dir, generate, b.trustUnsigned
	k, err := backup.LoadKeys(c)
	if err != nil {
		return nil, cliError(err)
	}
	if k.Generated != "" {
		fmt.Fprintf(env.Stderr, "generated the backup signing key %s (public key %s.pub, fingerprint %s): keep a copy of the public key wherever backups are restored (CASINO_BACKUP_VERIFY_KEY); set CASINO_BACKUP_SIGNING_KEY to use your own\n", k.Generated, strings.TrimSuffix(k.Generated, ".key"), k.Signer.Public().Fingerprint())
	}
	return k, nil
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
	case "keygen":
		return runBackupKeygen(ctx, env, args)
	case "adopt":
		return runBackupAdopt(ctx, env, args)
	case "pull":
		return runBackupPull(ctx, env, args)
	case "":
		fs := newFlagSet(env, "backup", backupUsage)
		if err := parseFlags(fs, args); err != nil {
			return helpOK(err)
		}
		return usageErrorf("backup: want one of create, list, verify, prune, keygen, adopt, pull (see 'casino backup -h')")
	}
	return usageErrorf("backup: unknown subcommand %q: want create, list, verify, prune, keygen, adopt or pull", sub)
}

func runBackupCreate(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup create", "backup create [--dir backups] [--compress gzip|zstd|none] [--encrypt-to AGE_RECIPIENT]... [--json]")
	bindBackupCommon(fs, env, &b)
	fs.Func("encrypt-to", "age recipient (age1...) to encrypt the backup to; repeatable; adds to CASINO_BACKUP_RECIPIENTS", func(v string) error {
		b.keys.Recipients = append(b.keys.Recipients, v)
		return nil
	})
	compress := fs.String("compress", backup.Gzip, "gzip (default; plain .gz any gunzip reads), zstd (faster) or none")
	level := fs.Int("level", 0, "gzip level 1-9 (0: default 6)")
	kind := fs.String("kind", backup.KindManual, "manual or scheduled (recorded in the manifest)")
	var rf remoteFlags
	bindRemoteFlags(fs, &rf)
	bindRemoteLockFlags(fs, env, &rf)
	fs.BoolVar(&rf.remoteOnly, "remote-only", false, "upload to the remote and keep no local copy (implies --remote)")
	fs.BoolVar(&rf.allowPlaintext, "allow-plaintext-remote", false, "upload a backup that is not age-encrypted")
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
	err := b.cfg.validateDatabase(fs)
	if err != nil {
		return err
	}
	if rf.remoteOnly {
		rf.remote.set = true
	}
	if rf.remote.set && strings.TrimSpace(env.Getenv("CASINO_BACKUP_SIGNING_KEY")) == "" {
		// A key generated on this host would be lost with it.
		return usageErrorf("backup create --remote: %v", backup.ErrNoRemoteSigner)
	}
	k, err := b.loadKeys(env, !rf.remote.set)
	if err != nil {
		return err
	}
	co := backup.CreateOptions{
		Target: b.cfg.target, Dir: b.dir, Compression: *compress, Level: *level, Kind: *kind,
		PGBinDir: b.pgBinDir, Progress: progressFor(env, b.jsonOut), Keys: k,
	}
	if rf.remoteOnly {
		return createRemoteOnly(ctx, env, &rf, &b, co)
	}
	res, err := backup.Create(ctx, co)
	if err != nil {
		return cliError(err)
	}
	if rf.remote.set {
		if err := pushRemote(ctx, env, &rf, &b, res); err != nil {
			return err
		}
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"path": res.Path, "manifest": res.Manifest})
	}
	backup.WriteCreated(env.Stdout, res.Path, res.Manifest)
	return nil
}

// formatCounts renders row counts as "table=n ..." (backup.FormatCounts).
func formatCounts(c map[string]int64) string { return backup.FormatCounts(c) }

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
	fs := newFlagSet(env, "backup list", "backup list [--dir backups] [--json] [--remote[=s3://bucket/prefix] [--accept-missing]]")
	bindBackupCommon(fs, env, &b)
	var rf remoteFlags
	bindRemoteFlags(fs, &rf)
	acceptMissing := fs.Bool("accept-missing", false, "with --remote: accept that backups seen before are gone (stop reporting them)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	dbOK := b.cfg.validateDatabase(fs) == nil
	var verified map[string]casino.BackupVerification
	if dbOK {
		if db := openVerificationStore(ctx, b.cfg.target); db != nil {
			verified, _ = db.LastVerifications(ctx)
			db.Close()
		}
	}
	if rf.on(fs.Arg(0)) && fs.NArg() <= 1 {
		return runBackupListRemote(ctx, env, &rf, &b, fs.Arg(0), *acceptMissing, verified)
	}
	if fs.NArg() > 0 {
		return usageErrorf("backup list: unexpected argument %q", fs.Arg(0))
	}
	entries, err := backup.List(b.dir)
	if err != nil {
		return err
	}
	if dbOK {
		if k, err := b.loadKeys(env, false); err == nil && len(k.Verify) > 0 {
			backup.CheckSignatures(entries, k)
		}
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, backup.ListRows(entries, verified, time.Now()))
	}
	backup.WriteList(env.Stdout, b.dir, entries, verified, time.Now())
	printKeptAside(ctx, env, fs, &b)
	return nil
}

// printKeptAside lists the databases restores kept aside for --undo, when
// the database setting names one.
func printKeptAside(ctx context.Context, env *Env, fs *flag.FlagSet, b *backupFlags) {
	if err := b.cfg.validateDatabase(fs); err != nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kept, err := backup.ListKeptAside(lctx, b.cfg.target)
	if err != nil {
		fmt.Fprintf(env.Stdout, "(kept-aside databases not listed: %s)\n", sqlstore.Redact(casino.ErrorMessage(err)))
		return
	}
	backup.WriteKeptAside(env.Stdout, kept, time.Now())
}

func runPruneKeptAside(ctx context.Context, env *Env, fs *flag.FlagSet, b *backupFlags, olderThan string, yes bool) error {
	if olderThan == "" {
		return usageErrorf("backup prune --kept-aside: give --older-than AGE (like 7d)")
	}
	age, err := parseAge(olderThan)
	if err != nil {
		return usageErrorf("backup prune: %v", err)
	}
	if err := b.cfg.validateDatabase(fs); err != nil {
		return err
	}
	old, err := backup.PruneKeptAside(ctx, backup.PruneKeptAsideOptions{Target: b.cfg.target, OlderThan: age, Yes: yes})
	if err != nil {
		return cliError(err)
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"dry_run": !yes, "kept_aside": old})
	}
	verb := "would remove"
	if yes {
		verb = "removed"
	}
	for _, k := range old {
		fmt.Fprintf(env.Stdout, "%s %s (%s, kept %s ago)\n", verb, k.Name, backup.HumanBytes(k.SizeBytes), backup.HumanAge(time.Since(k.KeptAt)))
	}
	if len(old) == 0 {
		fmt.Fprintf(env.Stdout, "no kept-aside database older than %s\n", olderThan)
	}
	if !yes {
		fmt.Fprintln(env.Stdout, "dry run: nothing removed; re-run with --yes to remove")
	}
	return nil
}

// openVerificationStore is backup.OpenVerificationStore.
func openVerificationStore(ctx context.Context, t sqlstore.Target) *sqlstore.DB {
	return backup.OpenVerificationStore(ctx, t)
}

func runBackupVerify(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup verify", "backup verify [--deep] [--verify-key PUB]... [--trust-unsigned] [--force-unverified] [--json] FILE")
	bindBackupCommon(fs, env, &b)
	bindVerifyKeyFlags(fs, &b)
	deep := fs.Bool("deep", false, "PostgreSQL: restore into a scratch database on DATABASE_URL's server and compare row counts")
	force := fs.Bool("force-unverified", false, "check a backup that has no manifest (no checksum to compare)")
	var rf remoteFlags
	bindRemoteFlags(fs, &rf)
	bindRemoteLockFlags(fs, env, &rf)
	var keep retentionFlags
	bindRetentionFlags(fs, &keep)
	jobs := fs.Int("jobs", 0, "with --deep: connections that load the data and build the indexes (default: the number of CPUs)")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return helpOK(err)
	}
	dbOK := b.cfg.validateDatabase(fs) == nil
	if rf.on(file) {
		// Signature, streamed sha256 and locks in the bucket (against the
		// class the --keep-* policy puts each backup in, when given); --deep
		// then pulls it into a private folder and verifies that copy.
		policy, err := keep.optionalPolicy("backup verify")
		if err != nil {
			return err
		}
		if !dbOK {
			b.cfg.target = sqlstore.Target{}
		}
		if err := runBackupVerifyRemote(ctx, env, &rf, &b, file, policy); err != nil || !*deep {
			return err
		}
		pb := b
		if pb.dir, err = backup.RemoteOnlyDir(b.dir); err != nil {
			return err
		}
		defer os.RemoveAll(pb.dir)
		if file, err = pullRemote(ctx, env, &rf, &pb, file); err != nil {
			return err
		}
	} else if file == "latest" {
		// The newest backup whose manifest is trusted (signature included).
		k, _ := b.loadKeys(env, false)
		file = backup.LatestPath(b.dir, k, file)
	}
	if file == "" {
		return usageErrorf("backup verify: want exactly one FILE (see 'casino backup verify -h')")
	}
	file = backup.LookupPath(b.dir, file)
	if err := b.cfg.validateDatabase(fs); err != nil {
		return err
	}
	k, err := b.loadKeys(env, false)
	if err != nil {
		return err
	}
	o := backup.VerifyOptions{ForceUnverified: *force, Deep: *deep, PGBinDir: b.pgBinDir, Jobs: *jobs, Progress: progressFor(env, b.jsonOut), Keys: k}
	if *deep && b.cfg.target.Dialect == sqlstore.Postgres {
		o.AdminURL = b.cfg.DatabaseURL
	}
	res, err := backup.Verify(ctx, file, o)
	kind := "verify"
	if *deep {
		kind = "deep_verify"
	}
	if err != nil {
		recordVerification(ctx, env, b.cfg.target, casino.BackupVerification{BackupName: filepath.Base(file), Kind: kind, OK: false, Detail: casino.ErrorMessage(err), VerifiedAt: time.Now()})
		if b.jsonOut {
			writeJSON(env.Stdout, map[string]any{"file": file, "ok": false, "error": casino.ErrorMessage(err)})
		}
		return cliError(err)
	}
	if res.Manifest != nil && res.ContentsChecked() {
		recordVerification(ctx, env, b.cfg.target, res.Verification(kind, true, strings.Join(res.Overrides, ","), time.Now()))
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"file": file, "ok": true, "engine": res.Engine, "checks": res.Checks, "row_counts": res.RowCounts, "manifest": res.Manifest, "key_fingerprint": res.KeyFingerprint, "overrides": res.Overrides})
	}
	fmt.Fprintf(env.Stdout, "OK %s (%s)\n", file, res.Engine)
	for _, c := range res.Checks {
		fmt.Fprintf(env.Stdout, "  - %s\n", c)
	}
	return nil
}

// recordVerification appends a result to the live database's verification
// store when there is one; a failure to record is reported, not fatal.
func recordVerification(ctx context.Context, env *Env, t sqlstore.Target, v casino.BackupVerification) {
	db := openVerificationStore(ctx, t)
	if db == nil {
		return
	}
	defer db.Close()
	if err := db.RecordVerification(ctx, v); err != nil {
		fmt.Fprintf(env.Stderr, "warning: could not record the verification in the database: %s\n", sqlstore.Redact(err.Error()))
	}
}

func runBackupKeygen(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup keygen", "backup keygen --out DIR [--name backup-signing]")
	bindBackupCommon(fs, env, &b)
	out := fs.String("out", "", "folder to write NAME.key (0600) and NAME.pub into; keep it out of the backup folder")
	name := fs.String("name", backup.KeyFileName, "file name of the pair, without .key/.pub")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("backup keygen: unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return usageErrorf("backup keygen: give --out DIR, a folder outside the backup folder (your secret store's staging folder)")
	}
	if *name == "" || strings.ContainsAny(*name, `/\`) {
		return usageErrorf("backup keygen: --name must be a plain file name")
	}
	priv, pub, err := backup.Keygen(*out, *name, b.dir)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.Stderr, "wrote %s (private, 0600) and %s (public)\nkeep the private key in your secret store as CASINO_BACKUP_SIGNING_KEY (value or file), never in the database or the backup folder;\ngive the public key to every host that verifies or restores as CASINO_BACKUP_VERIFY_KEY\n", priv, pub.Path)
	fmt.Fprintf(env.Stderr, "fingerprint: %s\n", pub.Fingerprint)
	_, err = env.Stdout.Write(pub.PEM)
	return err
}

func runBackupAdopt(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup adopt", "backup adopt FILE: sign a backup made before signatures existed, after a full verify")
	bindBackupCommon(fs, env, &b)
	file, err := parseWithFile(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if file == "" {
		return usageErrorf("backup adopt: want exactly one FILE")
	}
	file = backup.LookupPath(b.dir, file)
	if err := b.cfg.validateDatabase(fs); err != nil {
		return err
	}
	k, err := b.loadKeys(env, true)
	if err != nil {
		return err
	}
	res, err := backup.Adopt(ctx, file, backup.VerifyOptions{PGBinDir: b.pgBinDir, Progress: progressFor(env, b.jsonOut), Keys: k})
	if err != nil {
		return cliError(err)
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"file": file, "ok": true, "key_fingerprint": res.KeyFingerprint, "checks": res.Checks})
	}
	fmt.Fprintf(env.Stdout, "adopted %s: signed with key %s\n", file, res.KeyFingerprint)
	for _, c := range res.Checks {
		fmt.Fprintf(env.Stdout, "  - %s\n", c)
	}
	return nil
}

func runBackupPrune(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	fs := newFlagSet(env, "backup prune", "backup prune [--keep-last N] [--keep-hourly|daily|weekly|monthly|yearly N] [--keep-within D] [--include-safety] [--yes] [--dir backups] [--remote]\nbackup prune --kept-aside --older-than 7d [--yes]")
	bindBackupCommon(fs, env, &b)
	var rf retentionFlags
	bindRetentionFlags(fs, &rf)
	var remote remoteFlags
	bindRemoteFlags(fs, &remote)
	bindRemoteLockFlags(fs, env, &remote)
	yes := fs.Bool("yes", false, "delete; without it prune only prints what it would delete")
	keptAside := fs.Bool("kept-aside", false, "prune the databases restores kept aside for --undo (with --older-than)")
	olderThan := fs.String("older-than", "", "with --kept-aside: only those kept longer than this age (7d, 36h)")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("backup prune: unexpected argument %q", fs.Arg(0))
	}
	if *keptAside {
		return runPruneKeptAside(ctx, env, fs, &b, *olderThan, *yes)
	}
	policy, err := rf.policy("backup prune")
	if err != nil {
		return err
	}
	if remote.on("") {
		return runBackupPruneRemote(ctx, env, &remote, &b, policy, *yes)
	}
	entries, err := backup.List(b.dir)
	if err != nil {
		return err
	}
	if b.cfg.validateDatabase(fs) == nil {
		if k, err := b.loadKeys(env, false); err == nil && len(k.Verify) > 0 {
			backup.CheckSignatures(entries, k)
		}
	}
	plan, deleted, err := backup.PruneLocal(entries, policy, time.Now(), *yes)
	if b.jsonOut {
		if werr := writeJSON(env.Stdout, map[string]any{"dry_run": !*yes, "decisions": plan, "deleted": deleted}); err == nil {
			err = werr
		}
		return err
	}
	backup.WritePruneLocal(env.Stdout, plan, deleted, *yes)
	return err
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
	// Flags may also follow a FILE that came after flags ("--remote latest
	// --deep"): take it and parse the rest.
	for fs.NArg() > 0 {
		if file != "" {
			return "", usageErrorf("%s: want exactly one FILE, got extra argument %q", fs.Name(), fs.Arg(0))
		}
		file = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return "", err
		}
	}
	return file, nil
}

// parseAge parses 7d, 36h, 90m: a duration with days allowed (dr drill
// --pick random-within, backup prune --kept-aside --older-than).
func parseAge(s string) (time.Duration, error) {
	d, err := retention.ParseSpan(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid age %q: want like 7d, 36h or 90m", s)
	}
	return d, nil
}
