package drill

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/backup"
	"casino/s3store"
)

// Pick modes.
const (
	PickLatest       = "latest"
	PickRandomWithin = "random-within"
	PickNamed        = "named"
)

// Remote is the bucket a drill picks from instead of the local folder.
type Remote struct {
	Store   *s3store.Store
	Options backup.RemoteOptions
}

// picked is the backup a drill chose, and why.
type picked struct {
	Name     string
	Path     string // local path; after download for a remote backup
	Source   string // local path or s3:// URL
	Reason   string
	Manifest *casino.BackupManifest
	remote   *s3store.Backup
}

// candidate is a trusted backup of the right engine, local or remote.
type candidate struct {
	name string
	at   time.Time
	idx  int
}

func choose(mode string, within time.Duration, cs []candidate, where string, now time.Time) (candidate, string, error) {
	if len(cs) == 0 {
		return candidate{}, "", casino.Errorf(casino.ENOTFOUND, "no trusted backup to drill in %s (a complete backup whose signed manifest verifies)", where)
	}
	switch mode {
	case PickLatest, "":
		c := cs[0]
		return c, fmt.Sprintf("latest: the newest of %d trusted backups in %s (snapshot_at %s)", len(cs), where, c.at.Format(time.RFC3339)), nil
	case PickRandomWithin:
		var in []candidate
		for _, c := range cs {
			if !c.at.Before(now.Add(-within)) {
				in = append(in, c)
			}
		}
		if len(in) == 0 {
			return candidate{}, "", casino.Errorf(casino.ENOTFOUND, "no trusted backup in %s has a snapshot_at within %s of now (the newest is from %s)", where, within, cs[0].at.Format(time.RFC3339))
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(in))))
		if err != nil {
			return candidate{}, "", err
		}
		c := in[n.Int64()]
		return c, fmt.Sprintf("random within %s: drew %d of the %d trusted backups in %s with snapshot_at after %s (snapshot_at %s)",
			within, n.Int64()+1, len(in), where, now.Add(-within).Format(time.RFC3339), c.at.Format(time.RFC3339)), nil
	}
	return candidate{}, "", casino.Errorf(casino.EINVALID, "unknown pick %q (latest, random-within)", mode)
}

// pickLocal chooses a backup of engine from the local folder dir. A
// named backup is taken even when its manifest does not verify: the verify
// phase then fails it with the reason.
func pickLocal(dir, engine, mode string, within time.Duration, name string, k *backup.Keys, now time.Time) (*picked, error) {
	if name != "" {
		if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return nil, casino.Errorf(casino.EINVALID, "--backup %q: give a backup's file name in %s, not a path", name, dir)
		}
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return nil, casino.Errorf(casino.ENOTFOUND, "no backup %s in %s", name, dir)
		}
		m, _ := backup.ReadManifest(p)
		return &picked{Name: name, Path: p, Source: p, Manifest: m, Reason: "named: --backup " + name}, nil
	}
	es, err := backup.List(dir)
	if err != nil {
		return nil, err
	}
	if k != nil && len(k.Verify) > 0 {
		backup.CheckSignatures(es, k)
	}
	var cs []candidate
	for i, e := range es {
		if e.Manifest == nil || e.Problem != "" || e.PreRestore() || e.Manifest.Engine != engine {
			continue
		}
		cs = append(cs, candidate{name: e.Name, at: e.Manifest.SnapshotAt, idx: i})
	}
	c, why, err := choose(mode, within, cs, dir, now)
	if err != nil {
		return nil, err
	}
	e := es[c.idx]
	return &picked{Name: e.Name, Path: e.Path, Source: e.Path, Manifest: e.Manifest, Reason: why}, nil
}

// pickRemote chooses a backup of engine from the bucket; a remote backup
// is read only through its signed manifest, so only trusted ones are
// candidates, named or not.
func pickRemote(ctx context.Context, r *Remote, engine, mode string, within time.Duration, name string, now time.Time) (*picked, error) {
	l, err := backup.ListRemote(ctx, r.Store, r.Options)
	if err != nil {
		return nil, err
	}
	where := r.Store.URL()
	if len(l.Regressions) > 0 && name == "" {
		return nil, casino.Errorf(casino.ECONFLICT, "refusing to pick from %s: the remote regressed since it was last listed from here (%s); name the backup with --backup", where, strings.Join(l.Regressions, "; "))
	}
	if name != "" {
		b, err := l.Find(name)
		if err != nil {
			return nil, err
		}
		return &picked{Name: b.Name, Source: where + "/" + b.Name, Manifest: b.Manifest, Reason: "named: --backup " + name, remote: b}, nil
	}
	var cs []candidate
	for i, b := range l.Backups {
		if !b.Trusted() || b.Manifest.Engine != engine || strings.HasPrefix(b.Name, backup.PrefixPreRestore) {
			continue
		}
		cs = append(cs, candidate{name: b.Name, at: b.Manifest.SnapshotAt, idx: i})
	}
	c, why, err := choose(mode, within, cs, where, now)
	if err != nil {
		return nil, err
	}
	b := &l.Backups[c.idx]
	return &picked{Name: b.Name, Source: where + "/" + b.Name, Manifest: b.Manifest, Reason: why, remote: b}, nil
}
