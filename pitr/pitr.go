// Package pitr is casino's point-in-time recovery: continuous WAL streaming
// and base backups for PostgreSQL (pg_receivewal and pg_basebackup, driven by
// `casino pitr stream`), and recovery to an instant through a temporary
// PostgreSQL started on a copy of that stream.
//
// The stream folder is the unit of recovery. It holds:
//
//	wal/                 what pg_receivewal wrote, the current segment as .partial
//	base/<stamp>/        one base backup: base.tar.gz, pg_wal.tar.gz, backup_manifest, info.json
//	stream.json          the streamer's heartbeat: slot, caught-up instant, retained bytes
//	old/                 WAL and base backups cut off by a lost slot (kept, never used)
//
// Everything a recovery needs is in the folder, so it works without the
// server it came from (Scenario C). A recovery copies what it reads into its
// own scratch folder: the temporary instance never sees the stream folder and
// cannot write a new timeline into it.
//
// The engines differ, so the files do: postgres_*.go for PostgreSQL.
package pitr

import (
	"errors"
	"fmt"
	"time"
)

// ParseTarget reads a --to-time value: an RFC 3339 instant, or (when
// latestOK) "latest", which is a nil target: the end of what was kept.
func ParseTarget(s string, latestOK bool) (*time.Time, error) {
	if latestOK && s == "latest" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if latestOK {
			return nil, fmt.Errorf("--to-time %q: want an RFC 3339 instant such as 2026-12-02T03:07:11Z, or latest", s)
		}
		return nil, fmt.Errorf("--to-time %q: want an RFC 3339 instant such as 2026-12-02T03:07:11Z", s)
	}
	return &t, nil
}

// Window is the span of instants a stream folder can recover to: from the end
// of the oldest usable base backup to the last instant the stream was known to
// hold every committed transaction.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// String names the window in UTC, as refusals print it.
func (w Window) String() string {
	return fmt.Sprintf("%s .. %s", w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
}

// Contains reports whether t lies inside the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && !t.After(w.End) }

// Errors a caller may match with errors.Is.
var (
	// ErrOutsideWindow: the requested time is before the oldest base backup or
	// after what the stream holds. The error's text names the window.
	ErrOutsideWindow = errors.New("target time outside the recoverable window")
	// ErrNoBaseBackup: the folder holds no complete base backup yet.
	ErrNoBaseBackup = errors.New("no complete base backup in the stream folder")
	// ErrLocked: another `casino pitr stream` already writes to the folder.
	ErrLocked = errors.New("another pitr stream writes to this folder")
)
