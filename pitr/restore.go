package pitr

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/backup"
	"casino/sqlstore"
)

// RestoreOptions configures a point-in-time restore over a live database.
type RestoreOptions struct {
	// Recover says where the stream folder is and which instant to reach;
	// its Database is taken from the live target.
	Recover RecoverOptions
	// Restore is the logical restore the recovered data then goes through:
	// its Target is the live database; File is filled in here.
	Restore backup.RestoreOptions
}

// Restore recovers the stream folder to the target instant in a temporary
// instance and restores the live database's copy there through
// backup.Restore in one pass: pg_dump of the temporary instance streams
// straight into the restore loader (backup.DatabaseSource), with the row
// counts of the same snapshot as the manifest's, then the usual scratch
// database, statement and catalog checks, row counts, migrate up, carried
// live state and verified, undo-able swap. The temporary instance is
// removed afterwards. Nothing changes in the live database before
// backup.Restore's swap.
func Restore(ctx context.Context, o RestoreOptions) (*backup.RestoreResult, *casino.PITRFacts, error) {
	if o.Restore.Target.Dialect != sqlstore.Postgres {
		return nil, nil, errors.New("point-in-time restore from a WAL stream is for PostgreSQL targets")
	}
	u, err := url.Parse(o.Restore.Target.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("target URL does not parse: %s", sqlstore.Redact(o.Restore.Target.URL))
	}
	o.Recover.Database = strings.Trim(u.Path, "/")
	var res *backup.RestoreResult
	rec, err := RecoverPostgres(ctx, o.Recover, func(ctx context.Context, r *Recovered) error {
		if o.Restore.Pause != nil {
			o.Restore.Pause("pitr_recovered") // tests kill -9 here: the temporary server must die too
		}
		o.Recover.logf("pitr: restoring %s from the temporary instance (pg_dump streams into the loader)", o.Recover.Database)
		ro := o.Restore
		ro.File = ""
		// A socket URL has no host, which sqlstore.ParseURL refuses for
		// the live database; here it is the point.
		ro.Database = &backup.DatabaseSource{
			URL:            r.URL,
			Name:           "pitr-" + r.Base.Name,
			Location:       o.Recover.Dir,
			SnapshotAt:     recoveryPoint(&r.Facts),
			KeyFingerprint: r.KeyFingerprint,
		}
		res, err = backup.Restore(ctx, ro)
		return err
	})
	if rec == nil {
		return nil, nil, err
	}
	return res, &rec.Facts, err
}

// RestoreSQLiteOver restores the Litestream replica as of target into a new
// file in a scratch folder under scratchDir, backs that file up the way
// casino backs up a live database (manifest, row counts; Litestream's tables
// dropped), and restores the backup through backup.Restore: verify, safety
// backup, new file, checks, migrate up, atomic rename. The scratch folder is
// removed afterwards.
func RestoreSQLiteOver(ctx context.Context, replica Replica, target *time.Time, scratchDir string, o backup.RestoreOptions) (*backup.RestoreResult, *casino.PITRFacts, error) {
	if o.Target.Dialect != sqlstore.SQLite {
		return nil, nil, errors.New("a Litestream replica restores a SQLite target")
	}
	if scratchDir == "" {
		scratchDir = filepath.Dir(o.Target.Path)
	}
	removeDeadFolders(scratchDir, "casino-pitr-")
	scratch, err := os.MkdirTemp(scratchDir, fmt.Sprintf("casino-pitr-%d-", os.Getpid()))
	if err != nil {
		return nil, nil, fmt.Errorf("scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	out := filepath.Join(scratch, "restored.db")
	facts, err := RestoreSQLite(ctx, replica, out, target, time.Now())
	if err != nil {
		return nil, nil, err
	}
	sk, err := o.Keys.Scratch()
	if err != nil {
		return nil, facts, err
	}
	cr, err := backup.Create(ctx, backup.CreateOptions{Target: sqlstore.Target{Dialect: sqlstore.SQLite, Path: out}, Dir: filepath.Join(scratch, "dump"), NoLock: true, Keys: sk, SnapshotAt: recoveryPoint(facts)})
	if err != nil {
		return nil, facts, fmt.Errorf("back up the restored file: %w", err)
	}
	o.File, o.Keys = cr.Path, sk
	res, err := backup.Restore(ctx, o)
	return res, facts, err
}

// recoveryPoint is the instant the recovered data describes, recorded as
// the scratch dump's snapshot_at (not the time of the dump): the restore
// carries over what the live database recorded after snapshot_at (the
// append-only audit log, password changes), so the incident's audit trail
// survives the restore.
func recoveryPoint(f *casino.PITRFacts) time.Time {
	if f.Mode == "target_time" && f.TargetTime != nil {
		return f.TargetTime.UTC() // every commit up to T is in the data
	}
	return f.ReachedAt
}
