package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"syscall"

	"casino"
	"casino/sqlstore"
)

// Lock is held by one backup or restore of a database at a time. The
// operating system or the PostgreSQL server releases it when the process
// dies, so a kill -9 never leaves a stale lock behind.
type Lock struct {
	release func()
}

// Release frees the lock. Safe to call twice.
func (l *Lock) Release() {
	if l != nil && l.release != nil {
		l.release()
		l.release = nil
	}
}

// LockPath is the lock file of a SQLite database. It is never deleted:
// removing a flock'ed file lets two processes lock two different inodes.
func LockPath(dbPath string) string { return dbPath + ".casino-lock" }

// AcquireLock takes the backup/restore lock of the database without waiting:
// ErrLocked (as a casino.ECONFLICT) when another process holds it.
//
//   - SQLite: flock(2) on <db>.casino-lock.
//   - PostgreSQL: a session advisory lock keyed by the database name, held
//     on a connection to the maintenance database (the lock must survive
//     the restore renaming the database itself).
func AcquireLock(ctx context.Context, t sqlstore.Target) (*Lock, error) {
	if t.Dialect == sqlstore.SQLite {
		f, err := os.OpenFile(LockPath(t.Path), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lock file: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, lockedError(t)
			}
			return nil, fmt.Errorf("lock %s: %w", LockPath(t.Path), err)
		}
		return &Lock{release: func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }}, nil
	}
	pg, err := newPGTarget(t.URL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", pg.maintURL)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to the maintenance database %s for the lock: %s", sqlstore.Redact(pg.maintURL), sqlstore.Redact(err.Error()))
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext('casino-backup:' || $1))`, pg.dbname).Scan(&ok); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("take advisory lock: %w", err)
	}
	if !ok {
		conn.Close()
		db.Close()
		return nil, lockedError(t)
	}
	return &Lock{release: func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext('casino-backup:' || $1))`, pg.dbname)
		conn.Close()
		db.Close()
	}}, nil
}

func lockedError(t sqlstore.Target) error {
	return &sentinelError{
		err:      &casino.Error{Code: casino.ECONFLICT, Message: fmt.Sprintf("%s (%s): wait for it to finish, then retry", ErrLocked, t.Identity())},
		sentinel: ErrLocked,
	}
}

// sentinelError is a *casino.Error (code and message for the user) that
// errors.Is also matches against its sentinel.
type sentinelError struct {
	err      *casino.Error
	sentinel error
}

func (e *sentinelError) Error() string { return e.err.Error() }

// Unwrap gives errors.Is the sentinel and errors.As the *casino.Error.
func (e *sentinelError) Unwrap() []error { return []error{e.err, e.sentinel} }
