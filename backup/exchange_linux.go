package backup

import "golang.org/x/sys/unix"

// exchangeFiles atomically swaps two names in one step (renameat2 with
// RENAME_EXCHANGE): each name holds a whole file at every instant.
func exchangeFiles(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}
