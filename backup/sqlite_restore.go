package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"casino"
	"casino/sqlstore"
)

// sqliteRestore restores a SQLite file: Verify decompresses and checks the
// backup straight into a new file beside the database, which is migrated
// and then renamed over the live file.
type sqliteRestore struct {
	target  sqlstore.Target
	newFile string
}

func (r *sqliteRestore) verifyInto(vo *VerifyOptions, dryRun bool, backupDir string) {
	r.newFile = r.target.Path + ".restore-" + time.Now().UTC().Format("20060102T150405") + "-" + strconv.Itoa(os.Getpid())
	if dir := filepath.Dir(r.target.Path); dir != "." {
		os.MkdirAll(dir, 0o750)
	}
	if dryRun {
		vo.ScratchDir = backupDir
	} else {
		vo.SQLiteOut = r.newFile
	}
}

func (r *sqliteRestore) open(ctx context.Context, o *RestoreOptions) (bool, error) {
	_, err := os.Stat(r.target.Path)
	return err == nil, nil
}

func (r *sqliteRestore) identity(ctx context.Context) casino.RestoreTarget {
	p := r.target.Path
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return casino.RestoreTarget{Engine: casino.EngineSQLite, Path: p}
}

func (r *sqliteRestore) steps(liveExists bool) []string {
	s := []string{
		"decompress into a new file beside the database, PRAGMA integrity_check, compare row counts",
		"migrate the new file up to schema " + strconv.Itoa(sqlstore.LatestVersion(sqlstore.SQLite)),
	}
	if liveExists {
		s = append(s,
			"checkpoint the live database (refused if another process has it open) and carry its live state into the new file",
			"keep the live file aside: link(2) it to "+sqliteKeptPrefix(r.target.Path)+"YYYYMMDD_HHMMSS, then rename(2) the new file over it (casino restore --undo swaps back)")
	} else {
		s = append(s, "rename(2) the new file into place")
	}
	return s
}

func (r *sqliteRestore) checkAlone(ctx context.Context, o *RestoreOptions) ([]Session, error) {
	return nil, checkpointAlone(ctx, r.target.Path)
}

func (r *sqliteRestore) keep() string { return r.newFile }

func (r *sqliteRestore) discard() {
	if r.newFile != "" {
		removeSQLiteFiles(r.newFile)
	}
}

func (r *sqliteRestore) close() {}

func (r *sqliteRestore) restore(ctx context.Context, o *RestoreOptions, job *restoreJob, res *RestoreResult) error {
	newFile, live := r.newFile, r.target.Path
	// Verify already decompressed newFile and ran integrity_check and the
	// row-count comparison on it.
	o.pause("loaded")
	if err := migrateScratch(ctx, "sqlite:"+newFile, res); err != nil {
		return err
	}
	o.pause("scratch_ready")
	liveURL := ""
	if job.liveExists {
		// Fold the WAL into the live file and make sure nobody else has it
		// open: a live writer would keep writing after its state was
		// carried, or append to <db>-wal, replayed onto the new file.
		if err := checkpointAlone(ctx, live); err != nil {
			return err
		}
		liveURL = "sqlite:" + live
	}
	carried, err := carryLiveState(ctx, liveURL, "sqlite:"+newFile, job.snapshotAt, job.restoreID)
	if err != nil {
		return err
	}
	res.Carried = carried
	if res.RowCounts, err = rowCounts(ctx, "sqlite:"+newFile); err != nil {
		return err
	}
	if err := setRollbackJournal(ctx, newFile); err != nil {
		return err
	}
	if f, err := os.OpenFile(newFile, os.O_RDWR, 0); err == nil {
		f.Sync()
		f.Close()
	}
	o.pause("carried")
	if job.liveExists {
		if err := checkpointAlone(ctx, live); err != nil {
			return err
		}
	}
	o.pause("before_swap")
	if job.liveExists {
		// The live name never goes missing: the old file gets a second
		// name first, then the new file replaces the live name in one
		// rename(2).
		kept, err := linkKept(live)
		if err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(live)); err != nil {
			return err
		}
		res.KeptAside = kept
		o.pause("kept_aside")
	}
	o.logf("swapping %s into place", filepath.Base(newFile))
	if err := os.Rename(newFile, live); err != nil {
		if res.KeptAside != "" {
			os.Remove(res.KeptAside)
		}
		return fmt.Errorf("swap: %w", err)
	}
	if err := syncDir(filepath.Dir(live)); err != nil {
		return err
	}
	o.pause("after_swap")
	// The old WAL is empty (checkpointed); remove it and the stale index.
	os.Remove(live + "-wal")
	os.Remove(live + "-shm")
	if res.KeptAside != "" {
		o.logf("the previous database is kept aside as %s (casino restore --undo swaps it back)", res.KeptAside)
	}
	return syncDir(filepath.Dir(live))
}

func (r *sqliteRestore) undo(ctx context.Context, o *UndoOptions) (*UndoResult, error) {
	live := r.target.Path
	kept, err := listKeptSQLite(live)
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 {
		return nil, errorf(casino.ENOTFOUND, "nothing to undo: no database is kept aside beside %s", live)
	}
	k := kept[0]
	res := &UndoResult{Engine: casino.EngineSQLite, Restored: k.Path}
	_, err = os.Stat(live)
	liveExists := err == nil
	if liveExists {
		if err := checkpointAlone(ctx, live); err != nil {
			return nil, err
		}
		if same(live, k.Path) {
			return nil, errorf(casino.ECONFLICT, "%s is the live database itself (a restore was interrupted after keeping it aside): nothing to undo; the next restore removes the extra name", k.Path)
		}
	}
	o.pause("undo_before_swap")
	if liveExists {
		if err := exchangeFiles(k.Path, live); err != nil {
			return nil, fmt.Errorf("swap %s and %s: %w", k.Path, live, err)
		}
		res.KeptAside = k.Path
	} else if err := os.Rename(k.Path, live); err != nil {
		return nil, fmt.Errorf("move %s to %s: %w", k.Path, live, err)
	}
	if err := syncDir(filepath.Dir(live)); err != nil {
		return nil, err
	}
	o.pause("undo_after_swap")
	// The old live file was checkpointed: its -wal and -shm are stale.
	os.Remove(live + "-wal")
	os.Remove(live + "-shm")
	o.logf("%s is live again; the database it replaced is kept aside as %s", filepath.Base(k.Path), res.KeptAside)
	return res, syncDir(filepath.Dir(live))
}

// same reports whether two paths name the same file.
func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// checkpointAlone checkpoints the SQLite database with TRUNCATE and checks
// that no other connection has it open (the WAL file must be gone once we
// close, as SQLite deletes it when the last connection closes).
func checkpointAlone(ctx context.Context, path string) error {
	db, err := sqlstore.Open(ctx, "sqlite:"+path)
	if err != nil {
		return err
	}
	var busy, logFrames, ckpt int
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &ckpt)
	db.Close()
	if err != nil {
		return fmt.Errorf("checkpoint the live database %s: %w (if it is damaged: stop the backend, move it and its -wal/-shm files aside, and restore again; nothing was changed)", path, err)
	}
	if busy != 0 {
		return errorf(casino.ECONFLICT, "the database %s is busy in another process: stop casino serve (and any other user of the file) first; nothing was changed", path)
	}
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		return errorf(casino.ECONFLICT, "the database %s is open in another process (its WAL is in use): stop casino serve first; nothing was changed", path)
	} else if err == nil {
		// An empty WAL left behind means another connection still has the
		// file open.
		return errorf(casino.ECONFLICT, "the database %s is open in another process: stop casino serve first; nothing was changed", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
