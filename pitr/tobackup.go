package pitr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"casino"
	"casino/backup"
	"casino/sqlstore"
)

// ToBackupOptions configures RecoverToBackup.
type ToBackupOptions struct {
	// Engine is the production database's engine.
	Engine sqlstore.Dialect
	// Target is the instant to recover to; nil: the newest state.
	Target *time.Time
	// Dir is a private folder the recovered copy and its backup go into.
	Dir string
	// Keys are production's backup keys: their age identities carry over
	// into the scratch keys the new backup is signed with.
	Keys *backup.Keys
	// Replica is the Litestream replica (SQLite).
	Replica Replica
	// Recover says where the stream folder is and how to run the
	// temporary instance (PostgreSQL); its Target is set from Target.
	Recover  RecoverOptions
	PGBinDir string
}

// RecoverToBackup recovers to o.Target into a new backup under o.Dir,
// signed with a fresh scratch key (returned, with the backup's path and
// the recovery's facts): a SQLite file restored from the Litestream replica,
// or a pg_dump of the temporary instance RecoverPostgres starts on the
// verified stream. The backup's snapshot_at is the recovery point. `casino
// dr drill --to-time` restores it like any picked backup.
func RecoverToBackup(ctx context.Context, o ToBackupOptions) (string, *casino.PITRFacts, *backup.Keys, error) {
	sk, err := o.Keys.Scratch()
	if err != nil {
		return "", nil, nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return "", nil, nil, err
	}
	dumpDir := filepath.Join(o.Dir, "pitr-dump")
	switch o.Engine {
	case sqlstore.SQLite:
		out := filepath.Join(o.Dir, "pitr-recovered.db")
		facts, err := RestoreSQLite(ctx, o.Replica, out, o.Target, time.Now())
		if err != nil {
			return "", nil, nil, err
		}
		cr, err := backup.Create(ctx, backup.CreateOptions{Target: sqlstore.Target{Dialect: sqlstore.SQLite, Path: out}, Dir: dumpDir, NoLock: true, Keys: sk, SnapshotAt: recoveryPoint(facts)})
		if err != nil {
			return "", facts, nil, fmt.Errorf("back up the recovered file: %w", err)
		}
		return cr.Path, facts, sk, nil
	case sqlstore.Postgres:
		ro := o.Recover
		ro.Target = o.Target
		if ro.Database == "" {
			return "", nil, nil, errors.New("no database named to recover")
		}
		var path string
		rec, err := RecoverPostgres(ctx, ro, func(ctx context.Context, r *Recovered) error {
			t := sqlstore.Target{Dialect: sqlstore.Postgres, URL: r.URL}
			cr, err := backup.Create(ctx, backup.CreateOptions{Target: t, Dir: dumpDir, PGBinDir: o.PGBinDir, NoLock: true, Keys: sk, SnapshotAt: recoveryPoint(&r.Facts)})
			if err != nil {
				return fmt.Errorf("dump the recovered database: %w", err)
			}
			path = cr.Path
			return nil
		})
		if rec == nil {
			return "", nil, nil, err
		}
		return path, &rec.Facts, sk, err
	}
	return "", nil, nil, fmt.Errorf("engine %q has no point-in-time recovery", o.Engine)
}
