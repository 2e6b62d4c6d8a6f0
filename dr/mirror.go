package dr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Mirror keeps a copy of incident records off the host (package s3store
// implements it over the backup remote). Each call stores a new snapshot
// under a new name: the journal and the proof as they stand after journal
// entry seq.
type Mirror interface {
	PutProof(id string, seq int, journal, proof []byte) error
	// Where names the mirror of incident id for messages (s3://...).
	Where(id string) string
}

// MirrorError is a failure to mirror an incident's record. The entry it
// followed is journaled locally all the same.
type MirrorError struct {
	ID    string
	Seq   int
	Where string
	Err   error
}

func (e *MirrorError) Error() string {
	return fmt.Sprintf("incident %s: journal entry %d is recorded locally but NOT mirrored to %s: %v (the next dr command mirrors the whole journal again; 'casino dr status' retries now)", e.ID, e.Seq, e.Where, e.Err)
}

func (e *MirrorError) Unwrap() error { return e.Err }

// MirrorNow stores the journal and proof as they are on disk now. It does
// nothing without a Mirror.
func (in *Incident) MirrorNow() error {
	if in.Mirror == nil || len(in.Entries) == 0 {
		return nil
	}
	seq := in.Entries[len(in.Entries)-1].Seq
	fail := func(err error) error {
		return &MirrorError{ID: in.ID, Seq: seq, Where: in.Mirror.Where(in.ID), Err: err}
	}
	j, err := os.ReadFile(in.JournalPath())
	if err != nil {
		return fail(err)
	}
	p, err := os.ReadFile(in.ProofPath())
	if err != nil {
		return fail(err)
	}
	if err := in.Mirror.PutProof(in.ID, seq, j, p); err != nil {
		return fail(err)
	}
	return nil
}

// mirrorAfterAppend mirrors after an append; a failure goes to
// MirrorFailed and never undoes or fails the append.
func (in *Incident) mirrorAfterAppend() {
	if err := in.MirrorNow(); err != nil && in.MirrorFailed != nil {
		in.MirrorFailed(err)
	}
}

// Rebuilt is what Rebuild did with a mirrored snapshot.
type Rebuilt struct {
	ID      string `json:"incident"`
	Seq     int    `json:"seq"`
	Entries int    `json:"entries"`
	Closed  bool   `json:"closed"`
	// Action is "written" (no local record), "updated" (the local journal
	// was a shorter prefix), "unchanged", or "local-ahead" (the local
	// journal extends the mirrored one: mirror it again).
	Action string `json:"action"`
}

// ErrDiverged: the local journal and the mirrored one disagree on an entry
// both hold.
var ErrDiverged = errors.New("the local journal and the mirrored one have diverged")

// Rebuild takes a mirrored snapshot of incident id (the journal and proof
// after entry seq) into dir, after checking it as verify-proof does: the
// hash chain, the snapshot's entry count, and the proof re-rendered from the
// journal byte for byte. A local record is replaced only when its journal
// is a prefix of the mirrored one; a diverged one is refused.
func Rebuild(dir, id string, seq int, journal, proof []byte) (*Rebuilt, error) {
	entries, err := ParseJournal(journal)
	if err != nil {
		return nil, fmt.Errorf("mirrored journal of %s (entry %d): %w", id, seq, err)
	}
	if len(entries) == 0 || entries[len(entries)-1].Seq != seq {
		return nil, fmt.Errorf("mirrored snapshot %d of %s holds %d entries: the object was replaced or renamed", seq, id, len(entries))
	}
	tmp, err := os.MkdirTemp("", "casino-proof-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := CheckSnapshot(tmp, id, journal, proof); err != nil {
		return nil, err
	}
	st, err := Fold(entries)
	if err != nil {
		return nil, err
	}
	r := &Rebuilt{ID: id, Seq: seq, Entries: len(entries), Closed: st.Closed}
	in := &Incident{Dir: dir, ID: id}
	local, err := os.ReadFile(in.JournalPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.Action = "written"
	case err != nil:
		return nil, err
	case bytes.Equal(local, journal):
		r.Action = "unchanged"
		if _, err := os.Stat(in.ProofPath()); err == nil {
			return r, nil
		}
	case bytes.HasPrefix(journal, local):
		r.Action = "updated"
	case bytes.HasPrefix(local, journal):
		r.Action = "local-ahead"
		return r, nil
	default:
		return nil, fmt.Errorf("incident %s: %w (local %s, mirrored entry %d): keep both, compare them, and resolve by hand", id, ErrDiverged, in.JournalPath(), seq)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeAtomic(in.JournalPath(), journal, 0o600); err != nil {
		return nil, err
	}
	if err := writeAtomic(in.ProofPath(), proof, 0o644); err != nil {
		return nil, err
	}
	return r, nil
}

// RebuildOpen takes the newest mirrored snapshot of incidents into dir,
// each through Rebuild: the incident named (open or closed), or else each
// of ids whose mirrored journal is not closed, in the order given. latest
// reads an incident's newest snapshot: its entry seq, journal and proof.
// It stops at the first error; an empty result means nothing was open.
func RebuildOpen(dir, named string, ids []string, latest func(id string) (int, []byte, []byte, error)) ([]*Rebuilt, error) {
	if named != "" {
		ids = []string{named}
	}
	var done []*Rebuilt
	for _, id := range ids {
		seq, j, p, err := latest(id)
		if err != nil {
			return done, err
		}
		if named == "" {
			if entries, err := ParseJournal(j); err == nil {
				if s, err := Fold(entries); err == nil && s.Closed {
					continue
				}
			}
		}
		r, err := Rebuild(dir, id, seq, j, p)
		if err != nil {
			return done, err
		}
		done = append(done, r)
	}
	return done, nil
}

// CheckSnapshot writes a mirrored journal and proof into the empty folder
// tmp under the incident's file names and runs VerifyProof on them.
func CheckSnapshot(tmp, id string, journal, proof []byte) error {
	path, err := WriteSnapshot(tmp, id, journal, proof)
	if err != nil {
		return err
	}
	if _, err := VerifyProof(path, nil); err != nil {
		return fmt.Errorf("mirrored record of %s does not verify: %w", id, err)
	}
	return nil
}

// WriteSnapshot writes a mirrored snapshot of incident id (its journal and
// proof) into dir under their usual names, 0600, and returns the proof's
// path: what verify-proof reads.
func WriteSnapshot(dir, id string, journal, proof []byte) (string, error) {
	in := &Incident{Dir: dir, ID: id}
	if err := os.WriteFile(in.JournalPath(), journal, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(in.ProofPath(), proof, 0o600); err != nil {
		return "", err
	}
	return in.ProofPath(), nil
}

// writeAtomic writes path through a temporary file, synced, and a rename.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
