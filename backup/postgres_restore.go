package backup

import (
	"context"
	"fmt"
	"strconv"

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
	pg, err := newPGTarget(r.target.URL)
	if err != nil {
		return false, err
	}
	r.pg = pg
	switch pg.dbname {
	case "postgres", "template0", "template1":
		return false, errorf(casino.EINVALID, "refusing to restore over the %s database: restore into the application's own database", pg.dbname)
	}
	if r.admin, err = openPGAdmin(ctx, pg); err != nil {
		return false, err
	}
	exists, err := r.admin.exists(ctx, pg.dbname)
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

func (r *pgRestore) steps() []string {
	return []string{
		"create a scratch database on the same server, build casino's schema there from its migrations at the backup's schema version, and load only the dump's COPY data (any other statement refuses the restore)",
		"compare its row counts with the manifest, migrate it up to schema " + strconv.Itoa(sqlstore.LatestVersion(sqlstore.Postgres)),
		"swap in one transaction: terminate sessions, ALTER DATABASE " + r.pg.dbname + " RENAME to " + pgBase(r.pg.dbname) + pgOldTag + "..., scratch RENAME to " + r.pg.dbname,
		"drop the old database",
	}
}

func (r *pgRestore) checkAlone(ctx context.Context) error { return nil }

func (r *pgRestore) keep() string { return "" }

func (r *pgRestore) discard() {}

func (r *pgRestore) close() {
	if r.admin != nil {
		r.admin.close()
	}
}

func (r *pgRestore) restore(ctx context.Context, o *RestoreOptions, want map[string]int64, liveExists bool, res *RestoreResult) error {
	pg, admin := r.pg, r.admin
	scratch := pgSideName(pg.dbname, pgScratchTag)
	old := pgSideName(pg.dbname, pgOldTag)
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
	counts, err := loadPostgresDump(ctx, o.File, scratchURL, pgLoadOptions{BinDir: o.PGBinDir, Manifest: res.Plan.Manifest, Jobs: o.Jobs, Progress: o.Progress, Pause: o.Pause})
	if err != nil {
		return fmt.Errorf("restore into scratch database failed, the live database was not touched: %w", err)
	}
	if want != nil {
		if err := compareCounts(want, counts); err != nil {
			return fmt.Errorf("the restored copy fails its check, the live database was not touched: %w", err)
		}
	}
	if err := migrateScratch(ctx, scratchURL, res); err != nil {
		return err
	}
	o.pause("scratch_ready")
	o.pause("before_swap")
	o.logf("swapping %s into place as %s", scratch, pg.dbname)
	if err := admin.swap(ctx, scratch, old, liveExists, o.pause); err != nil {
		return fmt.Errorf("swap failed, the live database is unchanged: %w", err)
	}
	swapped = true
	o.pause("after_swap")
	if liveExists {
		if err := admin.drop(ctx, old); err != nil {
			o.logf("could not drop the previous database %s (the next restore or serve retries): %v", old, err)
		}
	}
	return nil
}
