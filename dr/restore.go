package dr

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"casino"
)

// TypeRestore is the journal entry of a restore's typed facts.
const TypeRestore = "restore"

// RestoreRecord is the data of a restore entry: the facts a restore printed
// (casino restore --json) or wrote (--result-file), captured by `dr run`,
// with the step that ran it and that step's exit code. dr close computes the
// RPO from these records alone.
type RestoreRecord struct {
	Step     string              `json:"step"`
	ExitCode int                 `json:"exit_code"`
	Source   string              `json:"source"` // "stdout" or "result file NAME"
	Facts    casino.RestoreFacts `json:"facts"`
}

// Counts reports whether the record proves data was restored: its command
// exited 0, it was no dry run, and its point-in-time facts, if any, hold
// together (PITRProblems).
func (r *RestoreRecord) Counts() bool {
	return r.ExitCode == 0 && !r.Facts.DryRun && len(PITRProblems(&r.Facts)) == 0
}

// ErrNotRestoreFacts: the bytes are not one casino.RestoreFacts object.
var ErrNotRestoreFacts = errors.New("not restore facts")

// maxFactsBytes bounds a result file: facts are a few KiB.
const maxFactsBytes = 1 << 20

// ParseRestoreFacts reads exactly one casino.RestoreFacts JSON object
// (surrounding whitespace allowed). It returns ErrNotRestoreFacts for
// anything else (other JSON, text, two objects), and an error naming the
// field for facts that are malformed: a restore_id that is not 32 hex
// digits, no backup name, or a real restore without snapshot_at.
func ParseRestoreFacts(b []byte) (*casino.RestoreFacts, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || len(b) > maxFactsBytes {
		return nil, ErrNotRestoreFacts
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var probe struct {
		FormatVersion *int    `json:"format_version"`
		RestoreID     *string `json:"restore_id"`
	}
	if err := json.Unmarshal(b, &probe); err != nil || probe.FormatVersion == nil || probe.RestoreID == nil {
		return nil, ErrNotRestoreFacts
	}
	var f casino.RestoreFacts
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("restore facts: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrNotRestoreFacts
	}
	if f.FormatVersion < 1 || f.FormatVersion > casino.RestoreFactsVersion {
		return nil, fmt.Errorf("restore facts: format_version %d is not one this casino reads (1..%d)", f.FormatVersion, casino.RestoreFactsVersion)
	}
	if id, err := hex.DecodeString(f.RestoreID); err != nil || len(id) != 16 {
		if !f.DryRun || f.RestoreID != "" {
			return nil, fmt.Errorf("restore facts: restore_id %q is not 32 hex digits", f.RestoreID)
		}
	}
	if f.Backup.Name == "" {
		return nil, errors.New("restore facts: backup.name is empty")
	}
	if !f.DryRun && f.Backup.SnapshotAt.IsZero() && f.PITR == nil {
		return nil, errors.New("restore facts: a restore without backup.snapshot_at (or pitr.reached_at) gives no RPO")
	}
	if ps := PITRProblems(&f); len(ps) > 0 {
		return nil, fmt.Errorf("restore facts: the point-in-time facts contradict each other: %s", strings.Join(ps, "; "))
	}
	return &f, nil
}

// CaptureRestore looks for restore facts after a `dr run` command: in the
// result file when one was named (it must hold them), else in the command's
// stdout (it may not). It returns nil, nil when there are none.
func CaptureRestore(step string, o Output, resultFile string) (*RestoreRecord, error) {
	rec := &RestoreRecord{Step: step, ExitCode: o.ExitCode}
	if resultFile != "" {
		fi, err := os.Stat(resultFile)
		if err != nil {
			return nil, fmt.Errorf("--result-file: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Size() > maxFactsBytes {
			return nil, fmt.Errorf("--result-file %s: not a regular file of at most %d bytes", resultFile, maxFactsBytes)
		}
		b, err := os.ReadFile(resultFile)
		if err != nil {
			return nil, fmt.Errorf("--result-file: %w", err)
		}
		f, err := ParseRestoreFacts(b)
		if err != nil {
			return nil, fmt.Errorf("--result-file %s: %w", resultFile, err)
		}
		rec.Facts, rec.Source = *f, "result file "+resultFile
		return rec, nil
	}
	if o.Truncated {
		return nil, nil
	}
	f, err := ParseRestoreFacts([]byte(o.Stdout))
	if errors.Is(err, ErrNotRestoreFacts) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec.Facts, rec.Source = *f, "stdout"
	return rec, nil
}

// Restored returns the restore that counts for RPO and the data check: the
// last one journaled whose command exited 0 and that was no dry run.
func (st *State) Restored() *RestoreRecord {
	for i := len(st.Restores) - 1; i >= 0; i-- {
		if r := &st.Restores[i]; r.Counts() {
			return r
		}
	}
	return nil
}
