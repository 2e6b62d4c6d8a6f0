package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"casino/sqlstore"
)

// TestOpenExistingCreatesNothing: a command that only reads refuses a
// SQLite file that does not exist, and leaves no file or folder behind;
// Open (migrate up, serve) creates it, and OpenExisting then opens it.
func TestOpenExistingCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	url := "sqlite:" + filepath.Join(dir, "casino.db")
	if _, err := sqlstore.OpenExisting(ctx, url); !errors.Is(err, sqlstore.ErrNoDatabase) {
		t.Fatalf("OpenExisting of a missing file = %v, want ErrNoDatabase", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("OpenExisting left %s behind (%v)", dir, err)
	}
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlstore.OpenExisting(ctx, url)
	if err != nil {
		t.Fatalf("OpenExisting of the created file: %v", err)
	}
	db.Close()
}
