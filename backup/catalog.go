package backup

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	// Problem says why the manifest is not trusted: a snapshot_at in the
	// future or after the file was written, or (CheckSignatures) a missing
	// or wrong signature. Such an entry is never counted toward retention,
	// never pruned automatically, and never reported as the newest backup.
	Problem string `json:"problem,omitempty"`
	// KeyFingerprint is the key whose signature verified the manifest
	// (CheckSignatures); never the key itself.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`

	manifestBytes []byte
}

// PreRestore reports whether the entry is a pre_restore_ safety copy.
func (e Entry) PreRestore() bool { return strings.HasPrefix(e.Name, PrefixPreRestore) }

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
		if m, mb, err := readManifest(e.Path); err == nil {
			e.Manifest, e.manifestBytes = m, mb
			if err := checkSnapshotTime(e.Path, m, info.ModTime(), time.Now()); err != nil {
				e.Problem = casino.ErrorMessage(err)
			}
		} else {
			e.ManifestError = casino.ErrorMessage(err)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time().After(out[j].Time()) })
	return out, nil
}

// CheckSignatures checks each entry's manifest signature with k and sets
// KeyFingerprint, or Problem when it does not verify. It reads only the
// manifests and signatures, not the data.
func CheckSignatures(entries []Entry, k *Keys) {
	for i := range entries {
		e := &entries[i]
		if e.Manifest == nil || e.Problem != "" {
			continue
		}
		strict := *k
		strict.TrustUnsigned = false
		sig, err := checkSignature(e.Path, e.manifestBytes, e.Manifest, &strict)
		if err != nil {
			e.Problem = casino.ErrorMessage(err)
			continue
		}
		e.KeyFingerprint = sig.fingerprint
	}
}

// Newest returns the newest backup with a trusted manifest (a complete
// backup whose snapshot_at does not lie in the future; with k, whose
// signature verifies), or nil. casino serve reports it on /metrics.
func Newest(dir string, k *Keys) *Entry {
	es, _ := List(dir)
	if k != nil && len(k.Verify) > 0 {
		CheckSignatures(es, k)
	}
	for i := range es {
		if es[i].Manifest != nil && es[i].Problem == "" {
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
// Only regular backups with a trusted manifest count: pre_restore_ safety
// copies, backups without a manifest and those with a Problem (a lying
// snapshot_at, a bad signature) are kept for a human to look at, and never
// take a place of --keep-last, so a forged "newest" cannot push real
// backups out. The newest trusted backup is kept whatever the numbers say.
func PlanPrune(entries []Entry, keepLast, keepDaily int) []PruneDecision {
	out := make([]PruneDecision, len(entries))
	days := map[string]bool{}
	counted := 0
	for i, e := range entries { // newest first
		d := PruneDecision{Entry: e}
		switch {
		case e.Manifest == nil:
			d.Keep, d.Reason = true, "no manifest: not pruned automatically"
		case e.Problem != "":
			d.Keep, d.Reason = true, "untrusted, not counted and not pruned automatically: "+e.Problem
		case e.PreRestore():
			d.Keep, d.Reason = true, "pre_restore_ safety copy: not counted toward retention; delete it by hand when no longer needed"
		default:
			day := e.Time().UTC().Format("2006-01-02")
			switch {
			case counted == 0:
				d.Keep, d.Reason = true, "newest"
			case counted < keepLast:
				d.Keep, d.Reason = true, "within --keep-last"
			default:
				d.Reason = "beyond retention"
			}
			if !days[day] && len(days) < keepDaily {
				days[day] = true
				if !d.Keep {
					d.Keep, d.Reason = true, "newest of "+day+" (--keep-daily)"
				}
			}
			counted++
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
	if err := os.Remove(casino.SignaturePath(e.Path)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(filepath.Dir(e.Path))
}
