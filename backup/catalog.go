package backup

import (
	"os"
	"path/filepath"
	"sort"
	"time"

	"casino"
)

// Entry is one backup in the folder.
type Entry struct {
	Name      string                 `json:"name"`
	Path      string                 `json:"path"`
	SizeBytes int64                  `json:"size_bytes"`
	ModTime   time.Time              `json:"mod_time"`
	Manifest  *casino.BackupManifest `json:"manifest,omitempty"`
	// ManifestError says why the manifest could not be read, if it could not.
	ManifestError string `json:"manifest_error,omitempty"`
}

// Time is the entry's snapshot time, or its file time without a manifest.
func (e Entry) Time() time.Time {
	if e.Manifest != nil && !e.Manifest.SnapshotAt.IsZero() {
		return e.Manifest.SnapshotAt
	}
	return e.ModTime
}

// List returns the backups in dir, newest first. A missing folder is empty.
func List(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.Type().IsRegular() || !IsBackupName(de.Name()) {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		e := Entry{Name: de.Name(), Path: filepath.Join(dir, de.Name()), SizeBytes: info.Size(), ModTime: info.ModTime().UTC()}
		if m, err := ReadManifest(e.Path); err == nil {
			e.Manifest = m
		} else {
			e.ManifestError = casino.ErrorMessage(err)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time().After(out[j].Time()) })
	return out, nil
}

// Newest returns the newest backup with a manifest (a complete backup), or
// nil. casino serve reports it on /metrics.
func Newest(dir string) *Entry {
	es, _ := List(dir)
	for i := range es {
		if es[i].Manifest != nil {
			return &es[i]
		}
	}
	return nil
}

// PruneDecision is whether one backup is kept, and why.
type PruneDecision struct {
	Entry  Entry  `json:"entry"`
	Keep   bool   `json:"keep"`
	Reason string `json:"reason"`
}

// PlanPrune decides which backups to keep: the newest keepLast, plus the
// newest of each of the keepDaily most recent UTC days that have a backup.
// Backups without a manifest are kept (a human should look at them), and
// so is the newest backup whatever the numbers say.
func PlanPrune(entries []Entry, keepLast, keepDaily int) []PruneDecision {
	out := make([]PruneDecision, len(entries))
	days := map[string]bool{}
	for i, e := range entries { // newest first
		d := PruneDecision{Entry: e}
		day := e.Time().UTC().Format("2006-01-02")
		switch {
		case e.Manifest == nil:
			d.Keep, d.Reason = true, "no manifest: not pruned automatically"
		case i == 0:
			d.Keep, d.Reason = true, "newest"
		case i < keepLast:
			d.Keep, d.Reason = true, "within --keep-last"
		case !days[day] && len(days) < keepDaily:
			d.Keep, d.Reason = true, "newest of "+day+" (--keep-daily)"
		default:
			d.Reason = "beyond retention"
		}
		if e.Manifest != nil && !days[day] && len(days) < keepDaily {
			days[day] = true
			if !d.Keep {
				d.Keep, d.Reason = true, "newest of "+day+" (--keep-daily)"
			}
		}
		out[i] = d
	}
	return out
}

// Remove deletes a backup and its manifest (the data file first, so a crash
// in between leaves an orphan manifest, never an unverifiable backup).
func Remove(e Entry) error {
	if err := os.Remove(e.Path); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Remove(casino.ManifestPath(e.Path)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(filepath.Dir(e.Path))
}
