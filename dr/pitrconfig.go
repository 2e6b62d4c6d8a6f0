package dr

import (
	"fmt"
	"time"
)

// PITR modes a declaration records.
const (
	PITROff        = "off"
	PITRLitestream = "litestream" // SQLite, replicated by casino serve
	PITRWAL        = "wal"        // PostgreSQL, streamed by casino pitr stream
)

// PITRModes are the values `dr declare --pitr` accepts.
var PITRModes = []string{PITROff, PITRLitestream, PITRWAL}

// PITRConfig is the point-in-time recovery configuration in force when the
// incident was declared. It is journaled in the declaration, before any
// restore, and it alone chooses which RPO/RTO targets dr close judges
// against: a restore that happened to be point-in-time never tightens the
// target, and one that fell back to a logical backup never loosens it.
type PITRConfig struct {
	Mode string `json:"mode"` // off, litestream or wal
	// From names where the mode came from: "--pitr" or "CASINO_PITR".
	From string `json:"from"`
	// Source is the Litestream replica URL or the WAL stream folder.
	Source string `json:"source,omitempty"`
	// Window is the recoverable window seen at declare time; WindowError
	// says why it could not be read. Both are evidence only: they do not
	// change the target.
	Window      *PITRWindow `json:"window,omitempty"`
	WindowError string      `json:"window_error,omitempty"`
}

// PITRWindow is a recoverable window as seen at declare time.
type PITRWindow struct {
	Start time.Time `json:"start_utc"`
	End   time.Time `json:"end_utc"`
}

// On reports whether point-in-time recovery was configured.
func (c *PITRConfig) On() bool { return c != nil && c.Mode != "" && c.Mode != PITROff }

// Describe is the configuration in one line, as the proof and close print it.
func (c *PITRConfig) Describe() string {
	if c == nil {
		return "not recorded"
	}
	if !c.On() {
		return fmt.Sprintf("PITR off (%s)", c.From)
	}
	s := fmt.Sprintf("PITR %s (%s)", c.Mode, c.From)
	if c.Source != "" {
		s += " from " + c.Source
	}
	switch {
	case c.Window != nil:
		s += fmt.Sprintf(", window %s .. %s at declare", ts(c.Window.Start), ts(c.Window.End))
	case c.WindowError != "":
		s += ", window not read at declare: " + c.WindowError
	}
	return s
}
