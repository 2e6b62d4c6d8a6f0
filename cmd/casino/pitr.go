package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"casino"
	"casino/backup"
	"casino/keys"
	"casino/logging"
	"casino/pitr"
	"casino/redact"
	"casino/s3store"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "pitr", Summary: "point-in-time recovery: stream WAL and base backups, report the window, pull a shipped stream back", Run: runPITR})
}

const pitrUsage = `pitr stream|status|pull [flags]

  stream --replication-url URL [--dir DIR] [--slot casino_pitr] [--base-every 24h] [--keep-base 7] [--metrics-addr ADDR]
         [--remote s3://bucket/prefix [--lock-mode compliance --lock-min 7d]]
      runs until stopped: pg_receivewal through a replication slot into DIR/wal,
      a pg_basebackup (tar, gzip) into DIR/base every --base-every, and a
      heartbeat in DIR/stream.json. Every base backup and every batch of
      completed WAL segments gets a manifest signed with
      CASINO_BACKUP_SIGNING_KEY (required); restore --to-time verifies them
      with CASINO_BACKUP_VERIFY_KEY before it replays anything. Needs a role with REPLICATION and a
      pg_hba "replication" line; the server needs max_slot_wal_keep_size.
  status [--dir DIR] [--json]
      streaming lag, newest base backup, recoverable window, bytes the slot
      retains; read from DIR alone
  pull [--remote s3://bucket/prefix] [--dir DIR] [--to-time T] [--verify-key PUB]... [--json]
      the host that streamed is lost: rebuild DIR (which must not exist)
      from what the stream shipped to REMOTE/pitr. Every manifest's
      signature (CASINO_BACKUP_VERIFY_KEY, --verify-key) and every file's
      sha256 are checked, files decrypted with CASINO_BACKUP_IDENTITY; DIR
      appears only when all is verified. --to-time pulls only the newest
      base backup finished by T and the WAL after it. Then:
      casino restore --to-time T --pitr-dir DIR

Settings: CASINO_PITR_DIR (default pitr), CASINO_PITR_REPLICATION_URL,
CASINO_PG_BINDIR (pg_receivewal/pg_basebackup/pg_waldump of the server's major).
See docs/ops/pitr.md.`

func runPITR(ctx context.Context, env *Env, args []string) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "stream":
		return runPITRStream(ctx, env, args)
	case "status":
		return runPITRStatus(ctx, env, args)
	case "pull":
		return runPITRPull(ctx, env, args)
	case "":
		fs := newFlagSet(env, "pitr", pitrUsage)
		if err := parseFlags(fs, args); err != nil {
			return helpOK(err)
		}
		return usageErrorf("pitr: want stream, status or pull (see 'casino pitr -h')")
	}
	return usageErrorf("pitr: unknown subcommand %q: want stream, status or pull", sub)
}

func runPITRStream(ctx context.Context, env *Env, args []string) error {
	var o pitr.StreamOptions
	var metricsAddr, level string
	fs := newFlagSet(env, "pitr stream", pitrUsage)
	stringSetting(fs, env, &o.Dir, "dir", "CASINO_PITR_DIR", "pitr", "stream folder")
	stringSetting(fs, env, &o.URL, "replication-url", "CASINO_PITR_REPLICATION_URL", "", "postgres:// URL of a role with REPLICATION")
	stringSetting(fs, env, &o.Slot, "slot", "CASINO_PITR_SLOT", pitr.DefaultSlot, "physical replication slot")
	durationSetting(fs, env, &o.BaseEvery, "base-every", "CASINO_PITR_BASE_EVERY", 24*time.Hour, "how often a base backup is taken")
	fs.IntVar(&o.KeepBase, "keep-base", 7, "base backups to keep; older ones and the WAL before the oldest kept one are deleted (0: keep all)")
	stringSetting(fs, env, &metricsAddr, "metrics-addr", "CASINO_PITR_METRICS_ADDR", "", "serve /metrics here (host:port; empty: off)")
	stringSetting(fs, env, &level, "log-level", "CASINO_LOG_LEVEL", "info", "debug, info, warn or error")
	var remote string
	stringSetting(fs, env, &remote, "remote", "CASINO_BACKUP_REMOTE", "", "s3://bucket/prefix: ship every signed base backup and WAL batch, age-encrypted, to PREFIX/pitr")
	allowPlain := fs.Bool("allow-plaintext-remote", false, "ship to the remote without age encryption")
	var lockFlags remoteFlags
	bindRemoteLockFlags(fs, env, &lockFlags)
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("pitr stream: unexpected argument %q", fs.Arg(0))
	}
	if !strings.HasPrefix(o.URL, "postgres://") && !strings.HasPrefix(o.URL, "postgresql://") {
		return usageErrorf("pitr stream: %s must be a postgres:// URL of a role with REPLICATION", settingName(fs, "replication-url", "CASINO_PITR_REPLICATION_URL"))
	}
	if o.KeepBase < 0 {
		return usageErrorf("pitr stream: --keep-base must be 0 (keep all) or more")
	}
	if o.BaseEvery < time.Minute {
		return usageErrorf("pitr stream: --base-every must be at least 1m")
	}
	lvl, err := logging.ParseLevel(level)
	if err != nil {
		return usageErrorf("pitr stream: %v", err)
	}
	o.BinDir = env.Getenv("CASINO_PG_BINDIR")
	o.Log = logging.New(env.Stdout, lvl)
	sk := env.Getenv("CASINO_BACKUP_SIGNING_KEY")
	if strings.TrimSpace(sk) == "" {
		return usageErrorf("pitr stream: %v", backup.ErrNoSigningKey)
	}
	signer, err := keys.LoadPrivate(sk)
	if err != nil {
		return usageErrorf("pitr stream: CASINO_BACKUP_SIGNING_KEY: %v", err)
	}
	o.Signer = &signer
	if remote != "" {
		ship, where, err := pitrShipper(env, remote, *allowPlain, &lockFlags)
		if err != nil {
			return err
		}
		o.OnSealed = ship
		o.Log.Info("shipping sealed base backups and WAL", slog.String("remote", where))
	}
	if metricsAddr != "" {
		if err := validateAddr(metricsAddr); err != nil {
			return usageErrorf("pitr stream: --metrics-addr %q: %v", metricsAddr, err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(pitr.NewCollector(o.Dir))
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("pitr stream: metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		o.Log.Info("serving pitr metrics", slog.String("addr", ln.Addr().String()))
	}
	if err := pitr.Stream(ctx, o); err != nil {
		return errors.New(redact.DatabaseURL(err.Error()))
	}
	return nil
}

func runPITRStatus(ctx context.Context, env *Env, args []string) error {
	var dir string
	var jsonOut bool
	fs := newFlagSet(env, "pitr status", pitrUsage)
	stringSetting(fs, env, &dir, "dir", "CASINO_PITR_DIR", "pitr", "stream folder")
	fs.BoolVar(&jsonOut, "json", false, "print the status as JSON")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	st, err := pitr.ReadStatus(dir, time.Now())
	if err != nil {
		return fmt.Errorf("pitr status: %w", err)
	}
	if jsonOut {
		return writeJSON(env.Stdout, st)
	}
	st.WriteText(env.Stdout)
	return nil
}

func runPITRPull(ctx context.Context, env *Env, args []string) error {
	var dir, remote, toTime string
	var jsonOut bool
	var verifyKeys listFlag
	fs := newFlagSet(env, "pitr pull", pitrUsage)
	stringSetting(fs, env, &dir, "dir", "CASINO_PITR_DIR", "pitr", "stream folder to create (must not exist)")
	stringSetting(fs, env, &remote, "remote", "CASINO_BACKUP_REMOTE", "", "s3://bucket/prefix the stream shipped to (its objects are under PREFIX/pitr)")
	fs.StringVar(&toTime, "to-time", "", "pull only the newest base backup finished by this RFC 3339 instant and the WAL after it")
	fs.Var(&verifyKeys, "verify-key", "public key (PEM value or file) a manifest may be signed with, besides CASINO_BACKUP_VERIFY_KEY; repeatable")
	fs.BoolVar(&jsonOut, "json", false, "print what was pulled as JSON")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("pitr pull: unexpected argument %q", fs.Arg(0))
	}
	if remote == "" {
		return usageErrorf("pitr pull: name the bucket: --remote s3://bucket/prefix (or CASINO_BACKUP_REMOTE), as casino pitr stream shipped to")
	}
	o, err := pitrPullOptions(env, remote, verifyKeys)
	if err != nil {
		return usageErrorf("pitr pull: %v", err)
	}
	o.Dir = dir
	if toTime != "" {
		if o.Target, err = pitr.ParseTarget(toTime, false); err != nil {
			return usageErrorf("pitr pull: %v", err)
		}
	}
	res, err := pitr.Pull(ctx, o)
	if err != nil {
		return fmt.Errorf("pitr pull: %w", err)
	}
	if jsonOut {
		return writeJSON(env.Stdout, res)
	}
	pitr.WritePulled(env.Stdout, res)
	return nil
}

// pitrPullOptions opens REMOTE/pitr and loads the keys a pull verifies and
// decrypts with: CASINO_BACKUP_VERIFY_KEY, the signing key's public half,
// --verify-key, and the age identity CASINO_BACKUP_IDENTITY.
func pitrPullOptions(env *Env, remote string, verifyKeys []string) (pitr.PullOptions, error) {
	o := pitr.PullOptions{BinDir: env.Getenv("CASINO_PG_BINDIR"), Log: env.Stderr}
	cfg, err := s3store.ConfigFromEnv(strings.TrimSuffix(remote, "/")+"/"+pitr.RemotePrefix, env.Getenv)
	if err != nil {
		return o, err
	}
	if o.Store, err = s3store.Open(cfg); err != nil {
		return o, err
	}
	k, err := backup.LoadKeys(backup.KeyConfig{SigningKey: env.Getenv("CASINO_BACKUP_SIGNING_KEY"), VerifyKeys: splitKeyList(env.Getenv("CASINO_BACKUP_VERIFY_KEY")),
		FlagVerifyKeys: verifyKeys, Identity: env.Getenv("CASINO_BACKUP_IDENTITY")})
	if err != nil {
		return o, cliError(err)
	}
	o.Verify, o.Decrypt = k.Verify, k.DecryptFrom
	return o, nil
}

// pitrShipper opens REMOTE/pitr and returns the stream's shipper: age
// encryption to CASINO_BACKUP_RECIPIENTS, refused without recipients unless
// allowPlain, and the Object Lock of --lock-mode/--lock-min
// (CASINO_BACKUP_LOCK_MODE, CASINO_BACKUP_LOCK_MIN), as backups get.
func pitrShipper(env *Env, remote string, allowPlain bool, lf *remoteFlags) (func(context.Context, pitr.Sealed) error, string, error) {
	lo, err := backup.RemoteConfig{LockMode: lf.lockMode, LockMin: lf.lockMin}.Options()
	if err != nil {
		return nil, "", usageErrorf("pitr stream: %v", err)
	}
	cfg, err := s3store.ConfigFromEnv(strings.TrimSuffix(remote, "/")+"/"+pitr.RemotePrefix, env.Getenv)
	if err != nil {
		return nil, "", usageErrorf("pitr stream: %v", err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		return nil, "", usageErrorf("pitr stream: %v", err)
	}
	var kc backup.KeyConfig
	if r := env.Getenv("CASINO_BACKUP_RECIPIENTS"); r != "" {
		kc.Recipients = []string{r}
	}
	k, err := backup.LoadKeys(kc)
	if err != nil {
		return nil, "", usageErrorf("pitr stream: %v", err)
	}
	var enc pitr.Encrypter
	switch {
	case k.Encrypts():
		enc = k.EncryptTo
	case !allowPlain:
		return nil, "", usageErrorf("pitr stream: a remote gets the WAL age-encrypted: set CASINO_BACKUP_RECIPIENTS (age1... public keys), or pass --allow-plaintext-remote")
	}
	return pitr.RemoteShipper(st, enc, pitr.LockFor(lo.LockMode, lo.LockMin, nil)), cfg.URL(), nil
}

// bindPITRRestoreFlags adds restore's point-in-time flags.
func bindPITRRestoreFlags(fs *flag.FlagSet, env *Env) (toTime *string, src *pitrSource) {
	toTime = fs.String("to-time", "", "point-in-time restore to this RFC 3339 instant, or 'latest' (PostgreSQL: from --pitr-dir; SQLite: from --pitr-replica)")
	src = new(pitrSource)
	stringSetting(fs, env, &src.dir, "pitr-dir", "CASINO_PITR_DIR", "pitr", "PITR stream folder (casino pitr stream --dir), or the bucket it shipped to (s3://bucket/prefix: pulled and verified as casino pitr pull does, into a scratch folder)")
	stringSetting(fs, env, &src.replica, "pitr-replica", "CASINO_PITR_REPLICA", "", "Litestream replica of a SQLite database: file:///path or s3://bucket/prefix")
	return toTime, src
}

// recoverOptions is a recovery from the stream folder dir with the
// settings both restore --to-time and dr drill --to-time take from the
// environment, verified with keys.
func recoverOptions(env *Env, b *backupFlags, dir string, keys *backup.Keys) pitr.RecoverOptions {
	return pitr.RecoverOptions{Dir: dir, BinDir: b.pgBinDir, ScratchDir: env.Getenv("CASINO_PITR_SCRATCH_DIR"), RunAs: env.Getenv("CASINO_PITR_RUN_AS"),
		Verify: pitr.Verifier{Keys: keys.Verify, TrustUnsigned: keys.TrustUnsigned}}
}

// pitrSource is where restore --to-time reads: a stream folder (PostgreSQL)
// or a Litestream replica (SQLite).
type pitrSource struct{ dir, replica string }

// restoreToTime is restore --to-time: pitr.Restore (PostgreSQL) or
// pitr.RestoreSQLiteOver (SQLite) with the restore's options; the facts are
// the restore's, with PITR set.
func restoreToTime(ctx context.Context, env *Env, b *backupFlags, o backup.RestoreOptions, toTime string, src *pitrSource, resultFile string) error {
	target, err := pitr.ParseTarget(toTime, true)
	if err != nil {
		return usageErrorf("restore: %v", err)
	}
	out := o.Log
	var res *backup.RestoreResult
	var facts *casino.PITRFacts
	var pulledFrom string
	if b.cfg.target.Dialect == sqlstore.SQLite {
		if src.replica == "" {
			return usageErrorf("restore --to-time on SQLite needs --pitr-replica (or CASINO_PITR_REPLICA), the Litestream replica")
		}
		rep := pitr.Replica{URL: src.replica, Getenv: env.Getenv}
		if err := pitr.CheckLitestreamReplica(rep, false); err != nil {
			return usageErrorf("restore: %v", err)
		}
		res, facts, err = pitr.RestoreSQLiteOver(ctx, rep, target, env.Getenv("CASINO_PITR_SCRATCH_DIR"), o)
	} else {
		if s3store.IsRemote(src.dir) {
			// The stream's bucket copy: pulled, verified, into a scratch
			// folder that goes when the restore ends.
			po, err := pitrPullOptions(env, src.dir, b.keys.FlagVerifyKeys)
			if err != nil {
				return usageErrorf("restore: --pitr-dir %s: %v", src.dir, err)
			}
			po.Target = target
			dir, remove, err := pitr.PullToScratch(ctx, po, env.Getenv("CASINO_PITR_SCRATCH_DIR"))
			if err != nil {
				return fmt.Errorf("restore: pull %s: %w", src.dir, err)
			}
			defer remove()
			pulledFrom = po.Store.URL()
			src = &pitrSource{dir: dir, replica: src.replica}
		}
		ro := recoverOptions(env, b, src.dir, o.Keys)
		ro.Target, ro.Log = target, out
		res, facts, err = pitr.Restore(ctx, pitr.RestoreOptions{Recover: ro, Restore: o})
	}
	if errors.Is(err, backup.ErrNotConfirmed) {
		return err
	}
	if err != nil {
		return errors.New(redact.DatabaseURL(cliError(err).Error()))
	}
	if pulledFrom != "" {
		facts.Source = pulledFrom // not the scratch folder it was pulled into
	}
	res.Facts.PITR = facts
	if facts.TrustUnsigned {
		res.Facts.Overrides = append(res.Facts.Overrides, backup.OverrideTrustUnsigned)
	}
	if err := writeFacts(env, b.jsonOut, resultFile, res.Facts); err != nil {
		return err
	}
	if o.DryRun {
		printPlan(out, res.Plan)
		fmt.Fprintln(out, "dry run: nothing was changed")
		return nil
	}
	fmt.Fprintf(out, "point-in-time restore complete: %s is now the data as of %s\n", res.Plan.Target, facts.ReachedAt.Format(time.RFC3339Nano))
	fmt.Fprintf(out, "  restore_id:       %s\n", res.Facts.RestoreID)
	if facts.TargetTime != nil {
		fmt.Fprintf(out, "  target:           %s (%s)\n", facts.TargetTime.UTC().Format(time.RFC3339Nano), facts.Mode)
	}
	if facts.LastXID != 0 {
		xid := fmt.Sprintf("transaction %d", facts.LastXID)
		if strings.Contains(facts.RecoveryStop, "stopping before") {
			xid = fmt.Sprintf("replay stopped before transaction %d", facts.LastXID)
		}
		fmt.Fprintf(out, "  last recovered:   %s (%s)\n", facts.ReachedAt.Format(time.RFC3339Nano), xid)
	} else {
		fmt.Fprintf(out, "  last synced:      %s\n", facts.ReachedAt.Format(time.RFC3339Nano))
	}
	fmt.Fprintf(out, "  source:           %s %s\n", facts.Source, facts.BaseBackup)
	fmt.Fprintf(out, "  rows:             %s\n", formatCounts(res.RowCounts))
	if c := res.Carried; c != nil {
		printCarried(out, c)
	}
	if res.KeptAside != "" {
		fmt.Fprintf(out, "  kept aside:       %s (casino restore --undo swaps it back)\n", res.KeptAside)
	}
	if res.SafetyBackup != "" {
		fmt.Fprintf(out, "  safety backup:    %s\n", res.SafetyBackup)
	}
	fmt.Fprintln(out, "next: restart the backend so every replica reconnects to the restored database")
	return nil
}
