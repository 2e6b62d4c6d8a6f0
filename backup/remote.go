package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"casino"
	"casino/keys"
	"casino/retention"
	"casino/s3store"
)

// Remote backups: the same backup files, written to S3-compatible storage
// (package s3store) with a manifest that pins the data object's version and
// is signed again for it. The logic of `backup create --remote`, `backup
// list|verify|prune --remote` and `backup pull` lives here; the objects and
// their order in s3store.

// RemoteOptions configure the remote side of a backup command.
type RemoteOptions struct {
	// Signer signs the remote manifest (required to upload).
	Signer *keys.Private
	// Verify are the keys a remote manifest's signature may verify with.
	Verify []keys.Public
	// LockMode is "GOVERNANCE" or "COMPLIANCE" (s3store.ParseMode); empty
	// uploads without a lock.
	LockMode string
	// LockMin is the shortest retention class: every object is locked
	// until upload time + LockMin.
	LockMin time.Duration
	// AllowPlaintext permits uploading a backup that is not age-encrypted.
	AllowPlaintext bool
	// StatePath is the rollback state file (s3store.SeenFile in the data
	// folder); empty skips rollback detection.
	StatePath string
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
	// Pause is passed to s3store.UploadBackup (tests kill the process at
	// its points).
	Pause func(point string)
}

func (o RemoteOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// ErrPlaintextRemote: a backup that is not encrypted may not leave the host
// without --allow-plaintext-remote.
var ErrPlaintextRemote = errors.New("remote backups are encrypted by default: this backup is not age-encrypted (set CASINO_BACKUP_RECIPIENTS or --encrypt-to to encrypt it), or pass --allow-plaintext-remote to upload it in the clear")

// ErrNoRemoteSigner: a remote manifest must be signed.
var ErrNoRemoteSigner = errors.New("no backup signing key: a remote backup's manifest must be signed; set CASINO_BACKUP_SIGNING_KEY to the private key (create one with `casino backup keygen`, keep it in your secret store, never on the host alone)")

// Push uploads the local backup at path, described by m, to st: data
// streamed from the file, then the signature, then the manifest pinning the
// data version. The local manifest is left as it is.
func Push(ctx context.Context, st *s3store.Store, path string, m *casino.BackupManifest, o RemoteOptions) (*s3store.Uploaded, error) {
	if m == nil {
		return nil, errorf(casino.EINVALID, "%s has no manifest: only a complete backup is uploaded", path)
	}
	if m.Encryption == nil && !o.AllowPlaintext {
		return nil, errorf(casino.EINVALID, "%s", ErrPlaintextRemote.Error())
	}
	if o.Signer == nil {
		return nil, errorf(casino.EINVALID, "%s", ErrNoRemoteSigner.Error())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rm := *m
	rm.File = filepath.Base(path)
	var lock s3store.Lock
	if o.LockMode != "" && o.LockMin > 0 {
		lock = s3store.Lock{Mode: o.LockMode, Until: o.now().Add(o.LockMin).UTC().Truncate(time.Second).Add(time.Second)}
	}
	return st.UploadBackup(ctx, rm.File, f, s3store.StoredOf(&rm), &rm, SignRemote(*o.Signer), s3store.UploadOptions{Lock: lock, Pause: o.Pause})
}

// SignRemote signs a remote manifest: the signer's fingerprint inside, the
// indented JSON bytes, an Ed25519 signature over exactly those bytes.
func SignRemote(k keys.Private) s3store.Sign {
	return func(m *casino.BackupManifest) ([]byte, []byte, error) {
		m.KeyFingerprint = k.Public().Fingerprint()
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return nil, nil, err
		}
		b = append(b, '\n')
		return b, k.Sign(b), nil
	}
}

// ListRemote lists the remote's backups with their signatures checked and,
// with a state path, rollback detection.
func ListRemote(ctx context.Context, st *s3store.Store, o RemoteOptions) (*s3store.Listing, error) {
	l, err := st.ListBackups(ctx, s3store.KeyVerifier(o.Verify))
	if err != nil {
		return nil, err
	}
	if o.StatePath != "" {
		if err := s3store.CheckRollback(o.StatePath, st.URL(), l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Pull downloads a trusted remote backup into dir: the pinned data version
// (its sha256 and size checked while it streams), then the signature, then
// the manifest exactly as stored, so the local copy verifies like any other.
// It refuses to replace a backup already in dir.
func Pull(ctx context.Context, st *s3store.Store, b *s3store.Backup, dir string) (string, error) {
	if !b.Trusted() {
		return "", errorf(casino.EINVALID, "refusing %s: %s", b.Name, b.Problem)
	}
	if !IsBackupName(b.Name) {
		return "", errorf(casino.EINVALID, "refusing %q: not a casino backup file name", b.Name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, b.Name)
	for _, p := range []string{path, casino.ManifestPath(path)} {
		if _, err := os.Lstat(p); err == nil {
			return "", errorf(casino.ECONFLICT, "%s already exists: not replaced (verify or restore it from the folder, or move it aside)", p)
		}
	}
	r, err := st.OpenData(ctx, b)
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := createTemp(dir, b.Name)
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("pull %s: %w", b.Name, err)
	}
	if err := publish(tmp, dir, b.Name); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("pull %s: %w", b.Name, err)
	}
	for _, obj := range []struct {
		name string
		data []byte
	}{{filepath.Base(casino.ManifestPath(path)) + ".sig", b.Signature()}, {filepath.Base(casino.ManifestPath(path)), b.ManifestBytes()}} {
		t, err := createTemp(dir, obj.name)
		if err != nil {
			return "", err
		}
		_, err = t.Write(obj.data)
		if err == nil {
			err = t.Sync()
		}
		if cerr := t.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = publish(t.Name(), dir, obj.name)
		}
		if err != nil {
			os.Remove(t.Name())
			return "", fmt.Errorf("pull %s: %w", obj.name, err)
		}
	}
	return path, nil
}

// remoteOnlyPrefix names the private folders of --remote-only backups.
const remoteOnlyPrefix = ".remote-only-"

// RemoteOnlyDir creates a private folder inside dir where a --remote-only
// backup (or a --deep remote verify) is written, uploaded or checked, and
// then removed by the caller. Folders of earlier runs whose process is dead
// (killed mid-upload) are removed first.
func RemoteOnlyDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), remoteOnlyPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		if pid, err := strconv.Atoi(pidStr); err == nil && pid > 0 && !pidAlive(pid) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return os.MkdirTemp(dir, fmt.Sprintf("%s%d-", remoteOnlyPrefix, os.Getpid()))
}

// RemoteCheck is the outcome of verifying one remote backup.
type RemoteCheck struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Checks   []string `json:"checks"`
	Problems []string `json:"problems,omitempty"`

	sha256 string // the manifest's, for the verification store
}

// VerifyRemote checks one remote backup without keeping a copy: its
// signature (from the listing), the pinned data version streamed through
// sha256 and size, and the Object Lock of its data and manifest objects,
// read from the objects: missing, or shorter than lockMin after the
// snapshot, or shorter than the class of policy (when given) that keeps it.
func VerifyRemote(ctx context.Context, st *s3store.Store, l *s3store.Listing, b *s3store.Backup, requireLock bool, lockMin time.Duration, policy *retention.Policy, now time.Time) RemoteCheck {
	c := RemoteCheck{Name: b.Name}
	if !b.Trusted() {
		c.Problems = append(c.Problems, b.Problem)
		return c
	}
	c.Checks = append(c.Checks, "signature verifies with key "+b.KeyFingerprint)
	r, err := st.OpenData(ctx, b)
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, r)
		r.Close()
		if err == nil {
			c.Checks = append(c.Checks, fmt.Sprintf("data version %s: %d bytes, sha256 %s as signed", b.Manifest.DataVersionID, n, s3store.StoredOf(b.Manifest).SHA256))
		}
	}
	if err != nil {
		c.Problems = append(c.Problems, err.Error())
	}
	need := time.Time{}
	needWhy := ""
	if lockMin > 0 {
		need, needWhy = ceilSecond(b.Time().Add(lockMin)), "--lock-min "+lockMin.String()
	}
	if policy != nil {
		for _, d := range retention.Apply(remoteItems(l), *policy, now) {
			if d.Item.ID == b.Name && d.Keep {
				if u := ceilSecond(policy.KeepUntil(d)); u.After(need) {
					need, needWhy = u, "its retention class ("+d.Why()+")"
				}
			}
		}
	}
	locks := []struct {
		what, name, version string
	}{{"data object", b.Name, b.Manifest.DataVersionID}, {"manifest", b.ManifestObject.Name, b.ManifestObject.VersionID}}
	for _, o := range locks {
		lk, err := st.Retention(ctx, o.name, o.version)
		switch {
		case err != nil:
			c.Problems = append(c.Problems, err.Error())
		case !lk.IsSet():
			msg := fmt.Sprintf("%s %s has no Object Lock retention: it can be deleted", o.what, o.name)
			if requireLock || !need.IsZero() {
				c.Problems = append(c.Problems, msg)
			} else {
				c.Checks = append(c.Checks, "note: "+msg)
			}
		case !need.IsZero() && lk.Until.Before(need):
			c.Problems = append(c.Problems, fmt.Sprintf("%s %s is locked (%s) until %s, shorter than %s needs (%s); run backup prune --remote to extend it", o.what, o.name, lk.Mode, lk.Until.Format(time.RFC3339), needWhy, need.UTC().Format(time.RFC3339)))
		default:
			c.Checks = append(c.Checks, fmt.Sprintf("%s locked (%s) until %s", o.what, lk.Mode, lk.Until.Format(time.RFC3339)))
		}
	}
	c.OK = len(c.Problems) == 0
	return c
}

// ceilSecond rounds t up to a whole second: S3 keeps retain-until dates in
// seconds, so a need with a fraction would never be met.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}

// remoteItems maps a listing onto retention items: untrusted backups are
// held, pre_restore_ copies marked.
func remoteItems(l *s3store.Listing) []retention.Item {
	var items []retention.Item
	for _, b := range l.Backups {
		it := retention.Item{ID: b.Name, Time: b.Time(), Safety: strings.HasPrefix(b.Name, PrefixPreRestore)}
		if !b.Trusted() {
			it.Hold = "untrusted, not pruned automatically: " + b.Problem
		}
		items = append(items, it)
	}
	return items
}

// RemotePruneAction is what prune does (or, in a dry run, would do) with one
// backup or orphan in the bucket.
type RemotePruneAction struct {
	Name string `json:"name"`
	// Action is keep, delete, deleted, locked (not deleted: the lock holds),
	// extend/extended (retention), or an error.
	Action string `json:"action"`
	Reason string `json:"reason"`
	// Until is the retain-until date in force or set.
	Until *time.Time `json:"retain_until,omitempty"`
	// Orphan marks a data object without a manifest.
	Orphan bool `json:"orphan,omitempty"`
}

// PruneRemote applies policy to the remote's trusted backups (untrusted ones
// are held). Kept backups whose classes need a longer lock than their
// objects carry get it extended (PutObjectRetention; never shortened), when
// the objects are locked or lockMode is set. Backups the policy drops are
// deleted, manifest first (the backup stops existing at once), unless a
// lock still holds: prune never tries to delete before the date, and says
// so. Orphans go when their lock allows; unfinished uploads are aborted.
// Without yes nothing changes. Deleted names leave the rollback state.
func PruneRemote(ctx context.Context, st *s3store.Store, l *s3store.Listing, policy retention.Policy, lockMode string, yes bool, o RemoteOptions) ([]RemotePruneAction, error) {
	now := o.now()
	byName := map[string]*s3store.Backup{}
	for i := range l.Backups {
		byName[l.Backups[i].Name] = &l.Backups[i]
	}
	versions, err := st.Versions(ctx)
	if err != nil {
		return nil, err
	}
	var out []RemotePruneAction
	var forgotten []string
	for _, d := range retention.Apply(remoteItems(l), policy, now) {
		b := byName[d.Item.ID]
		objs := []string{s3store.ManifestName(b.Name), s3store.SignatureName(b.Name), b.Name}
		if d.Keep {
			a := RemotePruneAction{Name: b.Name, Action: "keep", Reason: d.Why()}
			need := ceilSecond(policy.KeepUntil(d))
			if b.Trusted() && !need.IsZero() && (b.Lock.IsSet() || lockMode != "") && (!b.Lock.IsSet() || b.Lock.Until.Before(need)) {
				a.Action, a.Until = "extend", &need
				a.Reason += fmt.Sprintf("; retention to be extended to %s", need.Format(time.RFC3339))
				if yes {
					mode := b.Lock.Mode
					if mode == "" {
						mode = lockMode
					}
					for _, v := range versionsOf(versions, objs, b) {
						if _, err := st.ExtendRetention(ctx, v.Name, v.VersionID, mode, need); err != nil {
							return out, err
						}
					}
					a.Action = "extended"
				}
			} else if b.Lock.IsSet() {
				u := b.Lock.Until
				a.Until = &u
			}
			out = append(out, a)
			continue
		}
		vs := versionsOf(versions, objs, nil)
		if until, locked, err := lockedUntil(ctx, st, vs, now); err != nil {
			return out, err
		} else if locked {
			out = append(out, RemotePruneAction{Name: b.Name, Action: "locked", Until: &until, Reason: fmt.Sprintf("matches no rule of %s, but Object Lock holds it until %s: not deleted before then", policy, until.Format(time.RFC3339))})
			continue
		}
		a := RemotePruneAction{Name: b.Name, Action: "delete", Reason: "matches no rule of " + policy.String()}
		if yes {
			if err := deleteVersions(ctx, st, vs); err != nil {
				return out, err
			}
			a.Action = "deleted"
			forgotten = append(forgotten, b.Name)
		}
		out = append(out, a)
	}
	for _, orph := range l.Orphans {
		a := RemotePruneAction{Name: orph.Name, Orphan: true, Action: "delete", Reason: "data object without a manifest (an upload killed before its commit): not a backup"}
		if orph.Lock.Holds(now) {
			u := orph.Lock.Until
			a.Action, a.Until = "locked", &u
			a.Reason += fmt.Sprintf("; Object Lock holds it until %s: deleted on the first prune after that", u.Format(time.RFC3339))
		} else if yes {
			vs := []s3store.Object{orph.Object}
			if err := deleteVersions(ctx, st, vs); err != nil {
				return out, err
			}
			a.Action = "deleted"
		}
		out = append(out, a)
	}
	if yes {
		if _, err := st.CleanIncomplete(ctx); err != nil {
			return out, err
		}
		if o.StatePath != "" && len(forgotten) > 0 {
			if err := s3store.Forget(o.StatePath, st.URL(), forgotten...); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// versionsOf returns the versions of the named objects: every version, or,
// with pinned set, the current ones plus the pinned data version.
func versionsOf(all []s3store.Object, names []string, pinned *s3store.Backup) []s3store.Object {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []s3store.Object
	for _, v := range all {
		if !want[v.Name] {
			continue
		}
		if pinned != nil && v.Name == pinned.Name && v.VersionID != pinned.Manifest.DataVersionID {
			continue
		}
		out = append(out, v)
	}
	if pinned != nil {
		// Only the newest version of the manifest and signature.
		seen := map[string]bool{}
		var cur []s3store.Object
		for _, v := range out {
			if v.Name != pinned.Name && seen[v.Name] {
				continue
			}
			seen[v.Name] = true
			cur = append(cur, v)
		}
		out = cur
	}
	return out
}

// lockedUntil reports the latest retain-until among vs that still holds.
func lockedUntil(ctx context.Context, st *s3store.Store, vs []s3store.Object, now time.Time) (time.Time, bool, error) {
	var until time.Time
	for _, v := range vs {
		lk, err := st.Retention(ctx, v.Name, v.VersionID)
		if err != nil {
			return until, false, err
		}
		if lk.Holds(now) && lk.Until.After(until) {
			until = lk.Until
		}
	}
	return until, !until.IsZero(), nil
}

// deleteVersions deletes the manifest's versions first, then the rest, so
// the backup stops existing before its data goes.
func deleteVersions(ctx context.Context, st *s3store.Store, vs []s3store.Object) error {
	for pass := 0; pass < 2; pass++ {
		for _, v := range vs {
			isManifest := strings.HasSuffix(v.Name, ".manifest.json")
			if isManifest != (pass == 0) {
				continue
			}
			if err := st.Delete(ctx, v.Name, v.VersionID); err != nil {
				return err
			}
		}
	}
	return nil
}

// RemoteConfig are the settings RemoteOptions are made from: the
// environment's and the flags'.
type RemoteConfig struct {
	// SigningKey is CASINO_BACKUP_SIGNING_KEY (PEM value or file); its
	// public half verifies too.
	SigningKey string
	// VerifyKeys are CASINO_BACKUP_VERIFY_KEY's values; FlagVerifyKeys
	// --verify-key's.
	VerifyKeys     []string
	FlagVerifyKeys []string
	// LockMode (compliance|governance) and LockMin (36h, 7d, ...) go
	// together: both or neither.
	LockMode, LockMin string
	AllowPlaintext    bool
	StatePath         string
}

// Options loads the keys and checks the lock settings. Each error names
// the setting at fault.
func (c RemoteConfig) Options() (RemoteOptions, error) {
	var o RemoteOptions
	if strings.TrimSpace(c.SigningKey) != "" {
		p, err := keys.LoadPrivate(c.SigningKey)
		if err != nil {
			return o, fmt.Errorf("CASINO_BACKUP_SIGNING_KEY: %v", err)
		}
		o.Signer = &p
		o.Verify = append(o.Verify, p.Public())
	}
	for _, src := range []struct {
		name string
		vals []string
	}{{"CASINO_BACKUP_VERIFY_KEY", c.VerifyKeys}, {"--verify-key", c.FlagVerifyKeys}} {
		if len(src.vals) == 0 {
			continue
		}
		pubs, err := keys.LoadPublics(src.vals...)
		if err != nil {
			return o, fmt.Errorf("%s: %v", src.name, err)
		}
		o.Verify = append(o.Verify, pubs...)
	}
	if c.LockMode != "" {
		m, err := s3store.ParseMode(c.LockMode)
		if err != nil {
			return o, fmt.Errorf("--lock-mode: %v", err)
		}
		o.LockMode = m
	}
	if c.LockMin != "" {
		d, err := retention.ParseSpan(c.LockMin)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("--lock-min %q: want a positive duration (36h, 7d, 2w, 1y)", c.LockMin)
		}
		o.LockMin = d
	}
	if (c.LockMode == "") != (c.LockMin == "") {
		return o, errors.New("--lock-mode and --lock-min go together (CASINO_BACKUP_LOCK_MODE, CASINO_BACKUP_LOCK_MIN)")
	}
	o.AllowPlaintext = c.AllowPlaintext
	o.StatePath = c.StatePath
	return o, nil
}

// FindRemote lists the remote (with rollback detection) and finds the
// backup name names, "latest" included. It refuses "latest" while the
// listing reports regressions: deleting newer backups must not make an
// older one the newest. The regressions are returned for the caller to
// show either way.
func FindRemote(ctx context.Context, st *s3store.Store, o RemoteOptions, name string) (*s3store.Backup, []string, error) {
	l, err := ListRemote(ctx, st, o)
	if err != nil {
		return nil, nil, err
	}
	if name == "latest" && len(l.Regressions) > 0 {
		return nil, l.Regressions, fmt.Errorf("refusing to pick latest in %s: the remote regressed since it was last listed from here; name the backup explicitly", st.URL())
	}
	bk, err := l.Find(name)
	return bk, l.Regressions, err
}
