package pitr

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Status is what `casino pitr status` reports, read from the stream folder
// alone (it needs no server, so it also answers in Scenario C).
type Status struct {
	Dir  string `json:"dir"`
	Slot string `json:"slot"`
	// Receiving is the streamer's own word that pg_receivewal runs; Fresh is
	// whether that word is under 10 seconds old.
	Receiving bool      `json:"receiving"`
	Fresh     bool      `json:"fresh"`
	UpdatedAt time.Time `json:"updated_at"`
	// CaughtUpAt: every transaction committed before it is in the folder.
	CaughtUpAt *time.Time `json:"caught_up_at,omitempty"`
	// LagSeconds is now minus CaughtUpAt (-1 when the stream never caught up).
	LagSeconds float64 `json:"lag_seconds"`
	// RetainedBytes is the WAL the slot keeps on the server at the last heartbeat.
	RetainedBytes int64       `json:"slot_retained_bytes"`
	WALStatus     string      `json:"slot_wal_status,omitempty"`
	SlotLostAt    *time.Time  `json:"slot_lost_at,omitempty"`
	NewestBase    *BaseBackup `json:"newest_base_backup,omitempty"`
	BaseBackups   int         `json:"base_backups"`
	// Window is nil until a base backup exists and the stream caught up after it.
	Window    *Window `json:"window,omitempty"`
	WALBytes  int64   `json:"wal_bytes"`
	BaseBytes int64   `json:"base_bytes"`
	// Pulled is set for a folder `casino pitr pull` rebuilt from the bucket.
	Pulled *Pulled `json:"pulled,omitempty"`
}

// ReadStatus reads the stream folder's state at instant now.
func ReadStatus(dir string, now time.Time) (*Status, error) {
	st := &Status{Dir: dir, LagSeconds: -1}
	s, err := readState(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if s != nil {
		st.Slot, st.Receiving, st.UpdatedAt = s.Slot, s.Receiving, s.UpdatedAt
		st.Fresh = now.Sub(s.UpdatedAt) < 10*time.Second
		st.CaughtUpAt, st.RetainedBytes, st.WALStatus, st.SlotLostAt = s.CaughtUpAt, s.RetainedBytes, s.WALStatus, s.SlotLostAt
		if s.CaughtUpAt != nil {
			st.LagSeconds = max(0, now.Sub(*s.CaughtUpAt).Seconds())
		}
	}
	if b, err := readLimited(filepath.Join(dir, PulledFile), 1<<20); err == nil {
		var p Pulled
		if json.Unmarshal(b, &p) == nil {
			st.Pulled = &p
		}
	}
	bases, err := listBases(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	st.BaseBackups = len(bases)
	for _, b := range bases {
		st.BaseBytes += b.Bytes
	}
	if len(bases) > 0 {
		st.NewestBase = bases[len(bases)-1]
		if st.CaughtUpAt != nil && !st.CaughtUpAt.Before(bases[0].FinishedAt) {
			st.Window = &Window{Start: bases[0].FinishedAt, End: *st.CaughtUpAt}
		}
	}
	filepath.WalkDir(filepath.Join(dir, "wal"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				st.WALBytes += fi.Size()
			}
		}
		return nil
	})
	return st, nil
}
