package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"casino/sqlstore"
)

// Leftovers of an interrupted (killed) backup or restore. None of them is
// ever the live database; each is safe to remove once the lock is held:
//
//   - SQLite: <db>.restore-* files beside the database (a new copy that was
//     never swapped in) and their -wal/-shm/-journal, and a kept-aside name
//     that is a second name of the live file itself;
//   - PostgreSQL: <db>__rs_* (a restore's scratch database), <db>__vf_* (a
//     deep verify's), <db>__old_* (left by builds that dropped the previous
//     database after a swap; kept-aside databases are never leftovers);
//   - the backup folder: .NAME.tmp-PID-* files whose writer PID is dead.

// FindLeftovers lists the leftovers without removing them.
func FindLeftovers(ctx context.Context, t sqlstore.Target, backupDir string) ([]string, error) {
	return leftovers(ctx, t, backupDir, false, "")
}

// CleanLeftovers removes the leftovers and returns what it removed. The
// caller must hold the database's lock (AcquireLock), so that nothing it
// removes belongs to a running backup or restore.
func CleanLeftovers(ctx context.Context, t sqlstore.Target, backupDir string) ([]string, error) {
	return leftovers(ctx, t, backupDir, true, "")
}

// leftovers finds (and with remove, removes) leftovers, except the file
// named keep (the running restore's own new file).
func leftovers(ctx context.Context, t sqlstore.Target, backupDir string, remove bool, keep string) ([]string, error) {
	var out []string
	var errs []error
	if t.Dialect == sqlstore.SQLite {
		// A kept-aside name on the live file itself: a restore was killed
		// between link(2) and rename(2). The live name stays; the extra
		// name goes.
		kept, _ := listKeptSQLite(t.Path)
		for _, k := range kept {
			if same(k.Path, t.Path) {
				out = append(out, k.Path)
				if remove {
					if err := os.Remove(k.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
						errs = append(errs, err)
					}
				}
			}
		}
		matches, _ := filepath.Glob(t.Path + ".restore-*")
		for _, m := range matches {
			if keep != "" && strings.HasPrefix(m, keep) || !isRestoreFile(t.Path, m) {
				continue
			}
			out = append(out, m)
			if remove {
				if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	} else {
		pg, err := newPGTarget(t.URL)
		if err != nil {
			return nil, err
		}
		admin, err := openPGAdmin(ctx, pg)
		if err != nil {
			return nil, err
		}
		defer admin.close()
		names, err := admin.sideDatabases(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			out = append(out, "database "+n)
			if remove {
				if err := admin.drop(ctx, n); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if backupDir != "" {
		entries, _ := os.ReadDir(backupDir)
		for _, e := range entries {
			n := e.Name()
			pid, ok := tempPID(n)
			if !ok || pidAlive(pid) {
				continue
			}
			p := filepath.Join(backupDir, n)
			out = append(out, p)
			if remove {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

// tempRE matches exactly the temporary names createTemp makes:
// .NAME.tmp-PID-RAND, RAND 8 hex digits, NAME a name casino writes (a
// backup, its manifest or signature, a SQLite copy or a verify scratch).
var tempRE = regexp.MustCompile(`^\.((?:pre_restore_)?casino_db_[0-9_]+\.[a-z.]+|sqlite-copy|verify-(?:pre_restore_)?casino_db_[0-9_]+\.[a-z.]+)\.tmp-([0-9]+)-[0-9a-f]{8}$`)

// tempPID parses the writer PID out of a temporary name; ok is false for
// any name casino does not generate, which cleanup then never touches.
func tempPID(name string) (int, bool) {
	m := tempRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.Atoi(m[2])
	return pid, err == nil
}

// isRestoreFile reports whether path is exactly a restore's new file
// beside the database db (db.restore-YYYYMMDDTHHMMSS-PID, or its
// -wal/-shm/-journal), as sqliteRestore names it.
func isRestoreFile(db, path string) bool {
	if filepath.Dir(path) != filepath.Dir(db) {
		return false
	}
	re := `^` + regexp.QuoteMeta(filepath.Base(db)) + `\.restore-[0-9]{8}T[0-9]{6}-[0-9]+(?:-wal|-shm|-journal)?$`
	ok, _ := regexp.MatchString(re, filepath.Base(path))
	return ok
}

// pidAlive reports whether a process with that PID exists.
func pidAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeDeadTemps removes the temporary files in dir whose writer is dead.
func removeDeadTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if pid, ok := tempPID(e.Name()); ok && !pidAlive(pid) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
