package s3store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// SeenFile is the name of the rollback state file, kept in the data folder
// (beside the SQLite database, or ./data), never in the bucket: whoever can
// delete objects in the bucket must not also be able to rewrite what this
// host has seen there.
const SeenFile = "remote-seen.json"

// maxSeen bounds the state file read.
const maxSeen = 8 << 20

// seenState is the content of the state file: per remote URL, the trusted
// backups ever listed there and the newest snapshot_at among them.
type seenState struct {
	Remotes map[string]*seenRemote `json:"remotes"`
}

type seenRemote struct {
	Newest   string               `json:"newest"`
	NewestAt time.Time            `json:"newest_at"`
	Names    map[string]time.Time `json:"names"`
}

// CheckRollback compares the trusted backups of l with what earlier
// listings of the same remote saw (the state file at path), records the
// union, and sets l.Regressions:
//
//   - a backup seen before and missing now (deleted or hidden: the next
//     "latest" would silently be an older one);
//   - a newest snapshot_at older than the newest seen before.
//
// A regression stays reported until Forget removes the names on purpose
// (prune does for what it deletes; --accept-missing for the rest).
func CheckRollback(path, remote string, l *Listing) error {
	st, err := readSeen(path)
	if err != nil {
		return err
	}
	r := st.Remotes[remote]
	if r == nil {
		r = &seenRemote{Names: map[string]time.Time{}}
		st.Remotes[remote] = r
	}
	present := map[string]bool{}
	var newest *Backup
	for i := range l.Backups {
		b := &l.Backups[i]
		if !b.Trusted() {
			continue
		}
		present[b.Name] = true
		if newest == nil || b.Time().After(newest.Time()) {
			newest = b
		}
	}
	var missing []string
	for name := range r.Names {
		if !present[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	l.Regressions = nil
	for _, name := range missing {
		l.Regressions = append(l.Regressions, fmt.Sprintf("%s (snapshot_at %s) was listed here before and is missing now: deleted or hidden in the bucket", name, r.Names[name].UTC().Format(time.RFC3339)))
	}
	if !r.NewestAt.IsZero() && (newest == nil || newest.Time().Before(r.NewestAt)) {
		now := "none"
		if newest != nil {
			now = fmt.Sprintf("%s (snapshot_at %s)", newest.Name, newest.Time().UTC().Format(time.RFC3339))
		}
		l.Regressions = append(l.Regressions, fmt.Sprintf("rollback: the newest backup is now %s, older than %s (snapshot_at %s) seen here before", now, r.Newest, r.NewestAt.UTC().Format(time.RFC3339)))
	}
	for i := range l.Backups {
		b := &l.Backups[i]
		if b.Trusted() {
			r.Names[b.Name] = b.Time()
		}
	}
	if newest != nil && newest.Time().After(r.NewestAt) {
		r.Newest, r.NewestAt = newest.Name, newest.Time()
	}
	return writeSeen(path, st)
}

// Forget removes names from what the remote was seen to hold (backups
// deleted on purpose), and recomputes the newest from the rest.
func Forget(path, remote string, names ...string) error {
	st, err := readSeen(path)
	if err != nil {
		return err
	}
	r := st.Remotes[remote]
	if r == nil {
		return nil
	}
	for _, n := range names {
		delete(r.Names, n)
	}
	r.Newest, r.NewestAt = "", time.Time{}
	for n, t := range r.Names {
		if t.After(r.NewestAt) {
			r.Newest, r.NewestAt = n, t
		}
	}
	return writeSeen(path, st)
}

func readSeen(path string) (*seenState, error) {
	st := &seenState{Remotes: map[string]*seenRemote{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	} else if err != nil {
		return nil, fmt.Errorf("read the remote state %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() > maxSeen {
		return nil, fmt.Errorf("the remote state %s is larger than %d bytes", path, maxSeen)
	}
	if err := json.NewDecoder(f).Decode(st); err != nil {
		return nil, fmt.Errorf("the remote state %s is not valid JSON (%v): move it aside to start over", path, err)
	}
	if st.Remotes == nil {
		st.Remotes = map[string]*seenRemote{}
	}
	for _, r := range st.Remotes {
		if r.Names == nil {
			r.Names = map[string]time.Time{}
		}
	}
	return st, nil
}

// writeSeen replaces the state file atomically.
func writeSeen(path string, st *seenState) error {
	if err := writeJSONFile(path, st); err != nil {
		return fmt.Errorf("write the remote state %s: %w", path, err)
	}
	return nil
}

// writeJSONFile replaces path with v as indented JSON atomically (temporary
// file beside it, fsync, rename, fsync of the folder), 0600 in a 0700
// folder: a crash leaves the old file or the new one, never half of one.
func writeJSONFile(path string, v any) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
