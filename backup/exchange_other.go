//go:build !linux

package backup

import "errors"

// exchangeFiles needs Linux's renameat2(RENAME_EXCHANGE): elsewhere there
// is no atomic exchange, and the undo refuses rather than leave a moment
// without a database.
func exchangeFiles(a, b string) error {
	return errors.New("undo needs Linux (renameat2 RENAME_EXCHANGE); swap the files by hand with the backend stopped")
}
