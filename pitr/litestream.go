package pitr

// This file is the only one that imports Litestream. Its library API is not
// declared stable (v0.5 is pinned in go.mod): an upgrade touches this file.

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"

	"casino"
)

// LitestreamOptions configures continuous replication of a SQLite database.
type LitestreamOptions struct {
	// DBPath is the SQLite file casino serves.
	DBPath string
	// Replica is file:///path. s3:// is refused for now (see ReplicaError).
	Replica string
	// AllowPlaintextRemote permits an s3:// replica over http (Litestream
	// has no client-side encryption).
	AllowPlaintextRemote bool
	// S3CAFile is CASINO_S3_CA_FILE: Litestream's S3 client cannot take a
	// custom CA, so an S3 replica is refused while it is set.
	S3CAFile string
	Log      *slog.Logger
}

// Litestream replicates one SQLite database while casino serves it.
type Litestream struct {
	store *litestream.Store
	db    *litestream.DB
}

// replicaClient turns a replica URL into a Litestream client, refusing what
// casino does not support.
func replicaClient(raw string, allowPlaintext bool, caFile string) (litestream.ReplicaClient, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA does not parse: %v", err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: want file:///absolute/path", raw)
		}
		return file.NewReplicaClient(u.Path), u.Path, nil
	case "s3":
		if caFile != "" {
			return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: Litestream's S3 client cannot use a custom CA and CASINO_S3_CA_FILE is set: use a file:// replica, or an endpoint with a publicly trusted certificate and unset CASINO_S3_CA_FILE", raw)
		}
		if ep := u.Query().Get("endpoint"); strings.HasPrefix(ep, "http://") && !allowPlaintext {
			return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: a plaintext endpoint would carry the database unencrypted (Litestream has no client-side encryption); use https, or --allow-plaintext-remote", raw)
		}
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: s3:// Litestream replicas are not supported by this build yet; use file:///path (a mounted volume)", raw)
	}
	return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: want file:///path", raw)
}

// CheckLitestreamReplica validates a replica URL without opening anything.
func CheckLitestreamReplica(raw string, allowPlaintext bool, caFile string) error {
	_, _, err := replicaClient(raw, allowPlaintext, caFile)
	return err
}

// StartLitestream starts replicating o.DBPath: Litestream watches its WAL
// every 250ms and ships changes to the replica every 500ms, so a commit
// reaches the replica within about a second. Litestream keeps its own state
// in a shadow folder next to the database (.NAME-litestream) and in two
// tables (_litestream_seq, _litestream_lock); casino's backups drop both
// tables and never read the folder.
func StartLitestream(ctx context.Context, o LitestreamOptions) (*Litestream, error) {
	client, _, err := replicaClient(o.Replica, o.AllowPlaintextRemote, o.S3CAFile)
	if err != nil {
		return nil, err
	}
	db := litestream.NewDB(o.DBPath)
	if o.Log != nil {
		db.Logger = o.Log.With("component", "litestream")
	}
	db.MonitorInterval = 250 * time.Millisecond
	r := litestream.NewReplicaWithClient(db, client)
	r.SyncInterval = 500 * time.Millisecond
	if fc, ok := client.(*file.ReplicaClient); ok {
		fc.Replica = r
	}
	db.Replica = r
	store := litestream.NewStore([]*litestream.DB{db}, litestream.DefaultCompactionLevels)
	if err := store.Open(ctx); err != nil {
		return nil, fmt.Errorf("start litestream: %w", err)
	}
	return &Litestream{store: store, db: db}, nil
}

// Close syncs what is pending and stops replication.
func (l *Litestream) Close(ctx context.Context) error {
	return l.store.Close(ctx)
}

// LitestreamWindow returns the span a replica can restore to: from its first
// to its last sync.
func LitestreamWindow(ctx context.Context, replica string) (Window, error) {
	client, _, err := replicaClient(replica, true, "")
	if err != nil {
		return Window{}, err
	}
	created, updated, err := litestream.NewReplicaWithClient(nil, client).TimeBounds(ctx)
	if err != nil {
		return Window{}, fmt.Errorf("read replica %s: %w", replica, err)
	}
	if created.IsZero() {
		return Window{}, fmt.Errorf("%w: the replica %s holds nothing yet", ErrNoBaseBackup, replica)
	}
	return Window{Start: created.UTC(), End: updated.UTC()}, nil
}

// RestoreSQLite restores the replica as of target (nil: its newest state)
// into the new file out, which must not exist. Litestream stamps changes
// when they sync, so a restore to T holds what had synced by T. A target
// after the last sync restores the newest state (mode end_of_replica); one
// before the first sync or in the future is refused naming the window.
func RestoreSQLite(ctx context.Context, replica, out string, target *time.Time, now time.Time) (*casino.PITRFacts, error) {
	client, _, err := replicaClient(replica, true, "")
	if err != nil {
		return nil, err
	}
	w, err := LitestreamWindow(ctx, replica)
	if err != nil {
		return nil, err
	}
	facts := &casino.PITRFacts{TargetTime: target, Source: replica, Mode: "end_of_replica", ReachedAt: w.End}
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = out
	opt.IntegrityCheck = litestream.IntegrityCheckQuick
	if target != nil {
		if target.Before(w.Start) || target.After(now) {
			return nil, fmt.Errorf("%w: %s is outside %s (UTC)", ErrOutsideWindow, target.UTC().Format(time.RFC3339Nano), Window{Start: w.Start, End: now})
		}
		if target.Before(w.End) {
			opt.Timestamp = *target
			facts.Mode = "target_time"
			facts.ReachedAt, err = lastSyncBefore(ctx, client, *target)
			if err != nil {
				return nil, err
			}
		}
	}
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("refusing to restore over %s: it exists", out)
	}
	r := litestream.NewReplicaWithClient(nil, client)
	if err := r.Restore(ctx, opt); err != nil {
		os.Remove(out)
		return nil, fmt.Errorf("litestream restore: %w", err)
	}
	return facts, nil
}

// lastSyncBefore is the newest sync time at or before t in any level.
func lastSyncBefore(ctx context.Context, client litestream.ReplicaClient, t time.Time) (time.Time, error) {
	var last time.Time
	for level := litestream.SnapshotLevel; level >= 0; level-- {
		itr, err := client.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return last, err
		}
		for itr.Next() {
			if at := itr.Item().CreatedAt; !at.After(t) && at.After(last) {
				last = at
			}
		}
		if err := itr.Close(); err != nil {
			return last, err
		}
	}
	return last.UTC(), nil
}
