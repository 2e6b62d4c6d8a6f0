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

func (r *sqliteRestore) steps() []string {
	return []string{
		"decompress into a new file beside the database, PRAGMA integrity_check, compare row counts",
		"migrate the new file up to schema " + strconv.Itoa(sqlstore.LatestVersion(sqlstore.SQLite)),
		"checkpoint the live database (refused if another process has it open), then rename(2) the new file over it",
	}
}

func (r *sqliteRestore) checkAlone(ctx context.Context) error {
	return checkpointAlone(ctx, r.target.Path)
}

func (r *sqliteRestore) keep() string { return r.newFile }

func (r *sqliteRestore) discard() {
	if r.newFile != "" {
		removeSQLiteFiles(r.newFile)
	}
}

func (r *sqliteRestore) close() {}

func (r *sqliteRestore) restore(ctx context.Context, o *RestoreOptions, want map[string]int64, liveExists bool, res *RestoreResult) error {
	newFile := r.newFile
	// Verify already decompressed newFile and ran integrity_check and the
	// row-count comparison on it.
	if err := migrateScratch(ctx, "sqlite:"+newFile, res); err != nil {
		return err
	}
	if err := setRollbackJournal(ctx, newFile); err != nil {
		return err
	}
	if f, err := os.OpenFile(newFile, os.O_RDWR, 0); err == nil {
		f.Sync()
		f.Close()
	}
	o.pause("scratch_ready")
	live := r.target.Path
	if liveExists {
		// Fold the WAL into the live file and make sure nobody else has it
		// open: a live writer would keep appending to <db>-wal, which would
		// then be replayed onto the new file.
		if err := checkpointAlone(ctx, live); err != nil {
			return err
		}
	}
	o.pause("before_swap")
	o.logf("swapping %s into place", filepath.Base(newFile))
	if err := os.Rename(newFile, live); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	if err := syncDir(filepath.Dir(live)); err != nil {
		return err
	}
	o.pause("after_swap")
	// The old WAL is empty (checkpointed); remove it and the stale index.
	os.Remove(live + "-wal")
	os.Remove(live + "-shm")
	return syncDir(filepath.Dir(live))
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
