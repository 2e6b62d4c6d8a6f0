package pitr

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ObservedWindow is the recoverable window of a Litestream replica (replica
// set) or of a WAL stream folder (dir set), as `casino dr declare` records it
// for evidence. A stream whose heartbeat is stale is an error naming when it
// was last seen: its window is not growing. A folder `casino pitr pull`
// rebuilt is not a stream: its window is what was pulled.
func ObservedWindow(ctx context.Context, replica Replica, dir string, now time.Time) (*Window, error) {
	if replica.URL != "" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		w, err := LitestreamWindow(ctx, replica)
		if err != nil {
			return nil, err
		}
		return &w, nil
	}
	if dir == "" {
		return nil, errors.New("no replica or stream folder named")
	}
	st, err := ReadStatus(dir, now)
	if err != nil {
		return nil, err
	}
	if st.Window == nil {
		return nil, fmt.Errorf("stream folder %s has no recoverable window (no base backup with WAL after it)", dir)
	}
	if !st.Fresh && st.Pulled == nil { // a pulled copy has no heartbeat by design
		return st.Window, fmt.Errorf("stream folder %s: no heartbeat since %s (is casino pitr stream running?)", dir, st.UpdatedAt.UTC().Format(time.RFC3339))
	}
	return st.Window, nil
}
