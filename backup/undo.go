package backup

import (
	"context"
	"fmt"
	"io"

	"casino/sqlstore"
)

// UndoOptions configures Undo.
type UndoOptions struct {
	Target sqlstore.Target
	// TerminateConnections ends the other sessions of the live PostgreSQL
	// database; without it Undo refuses while any is connected.
	TerminateConnections bool
	// Log receives one line per step; may be nil.
	Log io.Writer
	// Pause is called at named points (tests kill the process there):
	// undo_before_swap, undo_during_swap (PostgreSQL), undo_after_swap.
	Pause func(point string)
}

func (o *UndoOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func (o *UndoOptions) pause(point string) {
	if o.Pause != nil {
		o.Pause(point)
	}
}

// UndoResult is a finished undo.
type UndoResult struct {
	Engine string `json:"engine"`
	// Restored is the kept-aside database now live again.
	Restored string `json:"restored"`
	// KeptAside is the database that was live, now kept aside (a second
	// undo swaps it back).
	KeptAside  string    `json:"kept_aside,omitempty"`
	Terminated []Session `json:"terminated,omitempty"`
}

// Undo swaps the newest kept-aside database back in, and keeps the live one
// aside in its place, in one atomic step: renameat2(RENAME_EXCHANGE) for
// SQLite, two renames in one transaction for PostgreSQL. It reads neither
// database, so it works however damaged either is. It refuses
// (casino.ENOTFOUND) when nothing is kept aside, and (casino.ECONFLICT)
// while other sessions use the live database, as Restore does.
func Undo(ctx context.Context, o UndoOptions) (*UndoResult, error) {
	lock, err := AcquireLock(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	eng := newEngineRestore(o.Target)
	defer eng.close()
	return eng.undo(ctx, &o)
}
