package backup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"casino"
	"casino/sqlstore"
)

// pgRestore restores a PostgreSQL database: the dump is loaded into a
// scratch database on the same server, checked and migrated there, and
// swapped in by renaming databases in one transaction.
type pgRestore struct {
	target sqlstore.Target
	pg     *pgTarget
	admin  *pgAdmin
}

func (r *pgRestore) verifyInto(vo *VerifyOptions, dryRun bool, backupDir string) {
	// A dry run decompresses the whole dump to check it; a restore
	// checksums now and decompresses while restoring.
	vo.Quick = !dryRun
}

func (r *pgRestore) open(ctx context.Context, o *RestoreOptions) (bool, error) {
	if err := r.connect(ctx); err != nil {
		return false, err
	}
	exists, err := r.admin.exists(ctx, r.pg.dbname)
	if err != nil {
		return false, err
	}
	major, err := serverMajor(ctx, r.admin.db)
	if err != nil {
		return false, err
	}
	// The loader compares the dump with pg_dump's DDL for the migrated
	// schema: find pg_dump before anything changes.
	if _, err = findPGTool("pg_dump", o.PGBinDir, major); err != nil {
		return false, err
	}
	return exists, nil
}

// connect parses the target and connects to the maintenance database.
func (r *pgRestore) connect(ctx context.Context) error {
	pg, err := newPGTarget(r.target.URL)
	if err != nil {
		return err
	}
	r.pg = pg
	switch pg.dbname {
	case "postgres", "template0", "template1":
		return errorf(casino.EINVALID, "refusing to restore over the %s database: restore into the application's own database", pg.dbname)
	}
	r.admin, err = openPGAdmin(ctx, pg)
	return err
}

func (r *pgRestore) identity(ctx context.Context) casino.RestoreTarget {
	t := casino.RestoreTarget{Engine: casino.EnginePostgres, Database: r.pg.dbname}
	// pg_control_system() may be closed to the role: the identifier is
	// then left out rather than failing the restore.
	var id string
	if err := r.admin.db.QueryRowContext(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&id); err == nil {
		t.SystemIdentifier = id
	}
	return t
}

func (r *pgRestore) steps(liveExists bool) []string {
	s := []string{
		"create a scratch database on the same server, build casino's schema there from its migrations at the backup's schema version, and load only the dump's COPY data (any other statement refuses the restore)",
		"compare its row counts with the manifest, migrate it up to schema " + strconv.Itoa(sqlstore.LatestVersion(sqlstore.Postgres)),
	}
	if liveExists {
		s = append(s,
			"refuse if other sessions are connected to "+r.pg.dbname+" (--terminate-connections ends them), then carry its live state into the scratch database",
			"swap in one transaction: ALTER DATABASE "+r.pg.dbname+" RENAME TO "+pgKeptPrefix(r.pg.dbname)+"YYYYMMDD_HHMMSS (kept aside for casino restore --undo), scratch RENAME TO "+r.pg.dbname)
	} else {
		s = append(s, "rename the scratch database to "+r.pg.dbname)
	}
	return s
}

func (r *pgRestore) checkAlone(ctx context.Context, o *RestoreOptions) ([]Session, error) {
	ss, err := r.admin.sessions(ctx, r.pg.dbname)
	if err != nil {
		return nil, err
	}
	if len(ss) > 0 {
		if !o.TerminateConnections {
			return ss, sessionsError(r.pg.dbname, ss)
		}
		o.logf("%s: %s will be terminated before the swap (--terminate-connections)", r.pg.dbname, sessionList(ss))
	}
	return ss, nil
}

// sessionsConflict is the refusal while other sessions are connected; a
// *casino.Error (ECONFLICT) to errors.As.
type sessionsConflict struct {
	err      *casino.Error
	sessions []Session
}

func (e *sessionsConflict) Error() string { return e.err.Error() }
func (e *sessionsConflict) Unwrap() error { return e.err }

func sessionsError(db string, ss []Session) error {
	return &sessionsConflict{sessions: ss, err: casino.Errorf(casino.ECONFLICT, "other sessions are connected to %s: %s. Their writes after the restore's snapshot would be lost: stop or contain the backend first, or re-run with --terminate-connections to end them (the live state is carried over after they are gone); nothing was changed", db, sessionList(ss))}
}

func (r *pgRestore) keep() string { return "" }

func (r *pgRestore) discard() {}

func (r *pgRestore) close() {
	if r.admin != nil {
		r.admin.close()
	}
}

func (r *pgRestore) restore(ctx context.Context, o *RestoreOptions, job *restoreJob, res *RestoreResult) error {
	pg, admin := r.pg, r.admin
	scratch := pgSideName(pg.dbname, pgScratchTag)
	if err := admin.create(ctx, scratch); err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			admin.drop(context.Background(), scratch)
		}
	}()
	scratchURL := withDatabase(pg.url, scratch)
	o.logf("restoring into scratch database %s", scratch)
	counts, err := loadPostgresDump(ctx, o.verified, scratchURL, pgLoadOptions{BinDir: o.PGBinDir, Jobs: o.Jobs, Progress: o.Progress, Pause: o.Pause})
	if err != nil {
		return fmt.Errorf("restore into scratch database failed, the live database was not touched: %w", err)
	}
	if job.want != nil {
		if err := compareCounts(job.want, counts); err != nil {
			return fmt.Errorf("the restored copy fails its check, the live database was not touched: %w", err)
		}
	}
	o.pause("loaded")
	if err := migrateScratch(ctx, scratchURL, res); err != nil {
		return err
	}
	o.pause("scratch_ready")
	// Other sessions go first, so everything they wrote is committed in
	// the live database when its state is read. The swap transaction then
	// refuses if any came back (a reconnecting backend may have written
	// after the read): with --terminate-connections they are ended and
	// the state carried again (each part is idempotent), a few times.
	kept := ""
	for attempt := 1; ; attempt++ {
		liveURL := ""
		if job.liveExists {
			if o.TerminateConnections {
				ss, err := admin.terminate(ctx, pg.dbname)
				if err != nil {
					return fmt.Errorf("terminate the sessions of %s, the live database was not touched: %w", pg.dbname, err)
				}
				if len(ss) > 0 {
					res.Terminated = append(res.Terminated, ss...)
					o.logf("terminated %s", sessionList(ss))
				}
			} else if ss, err := admin.sessions(ctx, pg.dbname); err != nil {
				return err
			} else if len(ss) > 0 {
				return sessionsError(pg.dbname, ss)
			}
			liveURL = ownURL(pg.url)
		}
		carried, err := carryLiveState(ctx, liveURL, ownURL(scratchURL), job.snapshotAt, job.restoreID)
		if err != nil {
			return err
		}
		res.Carried = mergeCarried(res.Carried, carried)
		if res.RowCounts, err = rowCounts(ctx, ownURL(scratchURL)); err != nil {
			return err
		}
		o.pause("carried")
		if job.liveExists {
			if kept, err = admin.newKeptName(ctx); err != nil {
				return err
			}
		}
		o.pause("before_swap")
		o.logf("swapping %s into place as %s", scratch, pg.dbname)
		err = admin.swap(ctx, scratch, kept, job.liveExists, true, o.pause, "during_swap")
		var sc *sessionsConflict
		if errors.As(err, &sc) && o.TerminateConnections && attempt < 3 {
			o.logf("sessions came back to %s after they were terminated (%s): ending them and carrying the live state again", pg.dbname, sessionList(sc.sessions))
			continue
		}
		if err != nil {
			return fmt.Errorf("swap failed, the live database is unchanged: %w", err)
		}
		break
	}
	swapped = true
	res.KeptAside = kept
	o.pause("after_swap")
	if kept != "" {
		o.logf("the previous database is kept aside as %s (casino restore --undo swaps it back)", kept)
	}
	return nil
}

func (r *pgRestore) undo(ctx context.Context, o *UndoOptions) (*UndoResult, error) {
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	admin, live := r.admin, r.pg.dbname
	kept, err := admin.keptAside(ctx)
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 {
		return nil, errorf(casino.ENOTFOUND, "nothing to undo: no database is kept aside for %s", live)
	}
	res := &UndoResult{Engine: casino.EnginePostgres, Restored: kept[0].Name}
	liveExists, err := admin.exists(ctx, live)
	if err != nil {
		return nil, err
	}
	if liveExists {
		if o.TerminateConnections {
			if res.Terminated, err = admin.terminate(ctx, live); err != nil {
				return nil, err
			}
		} else if ss, err := admin.sessions(ctx, live); err != nil {
			return nil, err
		} else if len(ss) > 0 {
			return nil, sessionsError(live, ss)
		}
		if res.KeptAside, err = admin.newKeptName(ctx); err != nil {
			return nil, err
		}
	}
	o.pause("undo_before_swap")
	if err := admin.swap(ctx, kept[0].Name, res.KeptAside, liveExists, !o.TerminateConnections, o.pause, "undo_during_swap"); err != nil {
		return nil, fmt.Errorf("undo failed, the live database is unchanged: %w", err)
	}
	o.pause("undo_after_swap")
	o.logf("%s is live again as %s; the database it replaced is kept aside as %s", kept[0].Name, live, res.KeptAside)
	return res, nil
}

// ownURL marks this process's own connections (application_name
// casino-restore-PID), so the check for other sessions does not count them.
func ownURL(raw string) string {
	if !strings.HasPrefix(raw, "postgres") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("application_name", ownAppName())
	u.RawQuery = q.Encode()
	return u.String()
}

func ownAppName() string { return "casino-restore-" + strconv.Itoa(os.Getpid()) }

// sessions lists the other client sessions of db, grouped by application
// and client address.
func (a *pgAdmin) sessions(ctx context.Context, db string) ([]Session, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT COALESCE(application_name, ''), COALESCE(host(client_addr), 'local socket'), COUNT(*)
FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND COALESCE(application_name, '') <> $2
GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`, db, ownAppName())
	if err != nil {
		return nil, fmt.Errorf("list the sessions of %s: %w", db, err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		if err := rows.Scan(&s.ApplicationName, &s.ClientAddr, &s.Count); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// terminate ends the other sessions of db and waits until they are gone
// (their transactions are then committed or rolled back), returning what
// it ended.
func (a *pgAdmin) terminate(ctx context.Context, db string) ([]Session, error) {
	ss, err := a.sessions(ctx, db)
	if err != nil || len(ss) == 0 {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := a.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND COALESCE(application_name, '') <> $2`, db, ownAppName()); err != nil {
			return nil, err
		}
		left, err := a.sessions(ctx, db)
		if err != nil {
			return nil, err
		}
		if len(left) == 0 {
			return ss, nil
		}
		if time.Now().After(deadline) {
			return nil, errorf(casino.ECONFLICT, "sessions of %s keep coming back after being terminated (%s): stop the backend first", db, sessionList(left))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
