package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/backup"
	"casino/retention"
	"casino/s3store"
	"casino/sqlstore"
)

// remoteFlag is --remote: alone, the bucket in CASINO_BACKUP_REMOTE; as
// --remote=s3://bucket/prefix, that remote.
type remoteFlag struct {
	set bool
	url string
}

func (r *remoteFlag) String() string   { return r.url }
func (r *remoteFlag) IsBoolFlag() bool { return true }
func (r *remoteFlag) Set(v string) error {
	switch {
	case v == "true":
		r.set, r.url = true, ""
	case v == "false":
		r.set, r.url = false, ""
	case s3store.IsRemote(v):
		r.set, r.url = true, v
	default:
		return fmt.Errorf("want --remote (the bucket in CASINO_BACKUP_REMOTE) or --remote=s3://bucket/prefix, not %q", v)
	}
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// remoteFlags are the remote settings of the backup commands.
type remoteFlags struct {
	remote     remoteFlag
	verifyKeys listFlag
	lockMode   string
	lockMin    string
	// create only
	remoteOnly     bool
	allowPlaintext bool
}

// bindRemoteFlags adds --remote and, where the command has none yet
// (bindVerifyKeyFlags), --verify-key.
func bindRemoteFlags(fs *flag.FlagSet, r *remoteFlags) {
	fs.Var(&r.remote, "remote", "work on the bucket in CASINO_BACKUP_REMOTE, or --remote=s3://bucket/prefix")
	if fs.Lookup("verify-key") == nil {
		fs.Var(&r.verifyKeys, "verify-key", "public key (PEM value or file) a remote manifest may be signed with, in addition to CASINO_BACKUP_VERIFY_KEY; repeatable")
	}
}

func bindRemoteLockFlags(fs *flag.FlagSet, env *Env, r *remoteFlags) {
	stringSetting(fs, env, &r.lockMode, "lock-mode", "CASINO_BACKUP_LOCK_MODE", "", "Object Lock mode of remote objects: compliance or governance (empty: no lock)")
	stringSetting(fs, env, &r.lockMin, "lock-min", "CASINO_BACKUP_LOCK_MIN", "", "shortest retention class: lock every remote object this long (36h, 7d, 2w, 1y)")
}

// on reports whether a command works on the remote: --remote, or an s3://
// argument.
func (r *remoteFlags) on(arg string) bool { return r.remote.set || s3store.IsRemote(arg) }

// openRemote opens the remote named by arg (s3://bucket/prefix[/NAME]) or
// --remote, and returns the backup NAME the argument names ("" when none).
// With nameInArg, the last segment of an s3:// argument is the NAME.
func openRemote(env *Env, r *remoteFlags, arg string, nameInArg bool) (*s3store.Store, string, error) {
	url, name := r.remote.url, arg
	if s3store.IsRemote(arg) {
		url, name = arg, ""
		if nameInArg {
			i := strings.LastIndex(arg, "/")
			if i < len(s3store.Scheme) {
				return nil, "", usageErrorf("%s: want s3://bucket/prefix/NAME", arg)
			}
			url, name = arg[:i], arg[i+1:]
		}
	}
	cfg, err := s3store.ConfigFromEnv(url, env.Getenv)
	if err != nil {
		return nil, "", usageErrorf("%v", err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		return nil, "", usageErrorf("%v", err)
	}
	return st, name, nil
}

// remoteOptions loads the keys and lock settings of a remote command: the
// signing key from CASINO_BACKUP_SIGNING_KEY, verify keys from
// CASINO_BACKUP_VERIFY_KEY, --verify-key and the signer's public half.
func remoteOptions(env *Env, r *remoteFlags, b *backupFlags) (backup.RemoteOptions, error) {
	if b.trustUnsigned {
		return backup.RemoteOptions{}, usageErrorf("--trust-unsigned does not apply to a remote: a remote backup is read only through its signed manifest, which pins its data")
	}
	o, err := backup.RemoteConfig{
		SigningKey:     env.Getenv("CASINO_BACKUP_SIGNING_KEY"),
		VerifyKeys:     splitKeyList(env.Getenv("CASINO_BACKUP_VERIFY_KEY")),
		FlagVerifyKeys: append(append([]string(nil), r.verifyKeys...), b.keys.FlagVerifyKeys...),
		LockMode:       r.lockMode, LockMin: r.lockMin,
		AllowPlaintext: r.allowPlaintext,
		StatePath:      filepath.Join(dataDir(env, b.cfg.DatabaseURL), s3store.SeenFile),
	}.Options()
	if err != nil {
		return o, usageErrorf("%v", err)
	}
	o.Pause = pauseHook(context.Background(), env)
	return o, nil
}

// openRemoteFor is openRemote and remoteOptions: the bucket arg names, the
// backup NAME in it, and the command's keys and lock settings.
func openRemoteFor(env *Env, r *remoteFlags, b *backupFlags, arg string, nameInArg bool) (*s3store.Store, string, backup.RemoteOptions, error) {
	st, name, err := openRemote(env, r, arg, nameInArg)
	if err != nil {
		return nil, "", backup.RemoteOptions{}, err
	}
	o, err := remoteOptions(env, r, b)
	return st, name, o, err
}

// dataDir is the data folder: CASINO_DATA_DIR, else beside the SQLite
// database at databaseURL, else ./data.
func dataDir(env *Env, databaseURL string) string {
	if d := env.Getenv("CASINO_DATA_DIR"); d != "" {
		return d
	}
	if t, err := sqlstore.ParseURL(databaseURL); err == nil && t.Dialect == sqlstore.SQLite && t.Path != "" {
		return filepath.Dir(t.Path)
	}
	return "data"
}

// pushRemote uploads a backup just created (create --remote).
func pushRemote(ctx context.Context, env *Env, r *remoteFlags, b *backupFlags, res *backup.CreateResult) error {
	st, _, o, err := openRemoteFor(env, r, b, "", false)
	if err != nil {
		return err
	}
	up, err := backup.Push(ctx, st, res.Path, res.Manifest, o)
	if err != nil {
		return cliError(err)
	}
	recordRemoteSuccess(env, st, o, up)
	fmt.Fprintf(env.Stderr, "uploaded: %s/%s (data version %s, %s in %.1fs)\n", st.URL(), up.Name, up.Data.VersionID, backup.HumanBytes(up.Bytes), up.Duration.Seconds())
	if up.Lock.IsSet() {
		fmt.Fprintf(env.Stderr, "  locked:   %s until %s\n", up.Lock.Mode, up.Lock.Until.Format(time.RFC3339))
	}
	return nil
}

// createRemoteOnly streams a new backup into the bucket with no local copy
// (create --remote-only).
func createRemoteOnly(ctx context.Context, env *Env, r *remoteFlags, b *backupFlags, co backup.CreateOptions) error {
	st, _, o, err := openRemoteFor(env, r, b, "", false)
	if err != nil {
		return err
	}
	// A private folder for what a SQLite snapshot needs (a copy of the
	// database file), removed at the end; a killed run's is removed by the
	// next.
	if co.Dir, err = backup.RemoteOnlyDir(b.dir); err != nil {
		return err
	}
	defer os.RemoveAll(co.Dir)
	m, up, err := backup.CreateRemoteOnly(ctx, co, st, o)
	if err != nil {
		return cliError(err)
	}
	recordRemoteSuccess(env, st, o, up)
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"remote": st.URL(), "name": up.Name, "data_version_id": up.Data.VersionID, "manifest": m})
	}
	backup.WriteUploaded(env.Stdout, st.URL(), m, up)
	return nil
}

// recordRemoteSuccess records the upload for casino serve's metrics; a
// failure to record is not a failed backup.
func recordRemoteSuccess(env *Env, st *s3store.Store, o backup.RemoteOptions, up *s3store.Uploaded) {
	path := filepath.Join(filepath.Dir(o.StatePath), s3store.StatusFile)
	err := s3store.WriteStatus(path, s3store.Status{Remote: st.URL(), Name: up.Name, At: time.Now().UTC(), Bytes: up.Bytes, DurationSeconds: up.Duration.Seconds()})
	if err != nil {
		fmt.Fprintf(env.Stderr, "warning: cannot record the upload for the metrics in %s: %v\n", path, err)
	}
}

func runBackupListRemote(ctx context.Context, env *Env, r *remoteFlags, b *backupFlags, arg string, acceptMissing bool, verified map[string]casino.BackupVerification) error {
	st, _, o, err := openRemoteFor(env, r, b, arg, false)
	if err != nil {
		return err
	}
	if acceptMissing {
		if err := backup.AcceptMissing(ctx, st, o); err != nil {
			return err
		}
	}
	l, err := backup.ListRemote(ctx, st, o)
	if err != nil {
		return err
	}
	rep := backup.NewRemoteReport(st.URL(), l, verified, time.Now())
	if b.jsonOut {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(env.Stdout)
	}
	return rep.Err()
}

func runBackupVerifyRemote(ctx context.Context, env *Env, r *remoteFlags, b *backupFlags, arg string, policy *retention.Policy) error {
	st, name, o, err := openRemoteFor(env, r, b, arg, true)
	if err != nil {
		return err
	}
	l, err := backup.ListRemote(ctx, st, o)
	if err != nil {
		return err
	}
	rep, err := backup.VerifyRemoteNamed(ctx, st, l, name, backup.RemoteVerifyOptions{RequireLock: o.LockMode != "", LockMin: o.LockMin, Policy: policy, Now: time.Now()})
	if err != nil {
		return err
	}
	for _, v := range rep.Verifications(time.Now()) {
		recordVerification(ctx, env, b.cfg.target, v)
	}
	if b.jsonOut {
		writeJSON(env.Stdout, rep)
	} else {
		rep.WriteText(env.Stdout)
	}
	return rep.Err()
}

func runBackupPruneRemote(ctx context.Context, env *Env, r *remoteFlags, b *backupFlags, policy retention.Policy, yes bool) error {
	st, _, o, err := openRemoteFor(env, r, b, "", false)
	if err != nil {
		return err
	}
	l, err := backup.ListRemote(ctx, st, o)
	if err != nil {
		return err
	}
	acts, err := backup.PruneRemote(ctx, st, l, policy, o.LockMode, yes, o)
	if b.jsonOut {
		writeJSON(env.Stdout, map[string]any{"remote": st.URL(), "dry_run": !yes, "actions": acts, "regressions": l.Regressions})
	} else {
		backup.WritePruneText(env.Stdout, acts, l.Regressions, yes)
	}
	return err
}

const backupPullUsage = `backup pull s3://bucket/prefix/NAME | --remote NAME|latest [--dir backups]

Downloads one backup from the bucket into the backup folder: exactly the
data version its signed manifest pins, checked against its sha256 and size
while it streams, then its signature and manifest. It never replaces a file.`

func runBackupPull(ctx context.Context, env *Env, args []string) error {
	var b backupFlags
	var r remoteFlags
	fs := newFlagSet(env, "backup pull", backupPullUsage)
	bindBackupCommon(fs, env, &b)
	bindRemoteFlags(fs, &r)
	arg, err := parseWithFile(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if arg == "" || !r.on(arg) {
		return usageErrorf("backup pull: want s3://bucket/prefix/NAME, or --remote NAME")
	}
	path, err := pullRemote(ctx, env, &r, &b, arg)
	if err != nil {
		return err
	}
	if b.jsonOut {
		return writeJSON(env.Stdout, map[string]any{"path": path})
	}
	fmt.Fprintf(env.Stdout, "pulled: %s\n", path)
	return nil
}

// findRemote opens the remote arg names and finds the backup it names
// (latest included), refusing latest after a regression.
func findRemote(ctx context.Context, env *Env, r *remoteFlags, b *backupFlags, arg string) (*s3store.Store, *s3store.Backup, error) {
	st, name, o, err := openRemoteFor(env, r, b, arg, true)
	if err != nil {
		return nil, nil, err
	}
	if name == "" {
		return nil, nil, usageErrorf("want a backup NAME or latest after the remote")
	}
	bk, regressions, err := backup.FindRemote(ctx, st, o, name)
	for _, g := range regressions {
		fmt.Fprintf(env.Stderr, "warning: REGRESSION %s\n", g)
	}
	if err != nil {
		return nil, nil, err
	}
	return st, bk, nil
}

// pullRemote downloads the remote backup arg names (latest included) into
// the backup folder and returns its path.
func pullRemote(ctx context.Context, env *Env, r *remoteFlags, b *backupFlags, arg string) (string, error) {
	st, bk, err := findRemote(ctx, env, r, b, arg)
	if err != nil {
		return "", err
	}
	path, err := backup.Pull(ctx, st, bk, b.dir)
	if err != nil {
		return "", cliError(err)
	}
	return path, nil
}
