package s3store

import (
	"encoding/json"
	"os"
	"time"
)

// StatusFile is the name of the file, in the data folder, where the last
// successful upload is recorded for casino serve's metrics
// (casino_backup_remote_*).
const StatusFile = "remote-status.json"

// Status is the last successful upload to a remote.
type Status struct {
	Remote          string    `json:"remote"`
	Name            string    `json:"name"`
	At              time.Time `json:"at"`
	Bytes           int64     `json:"bytes"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// WriteStatus replaces the status file atomically.
func WriteStatus(path string, s Status) error { return writeJSONFile(path, s) }

// ReadStatus reads the status file; ok is false when there is none or it
// cannot be read.
func ReadStatus(path string) (s Status, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 64<<10 {
		return Status{}, false
	}
	if json.Unmarshal(b, &s) != nil {
		return Status{}, false
	}
	return s, true
}
