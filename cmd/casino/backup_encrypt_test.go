package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"casino"
	"casino/internal/testdb"
	"casino/internal/testpg"
	"casino/internal/testtool"
	"casino/sqlstore"
)

// TestEncryptedBackupWithStockAge: --encrypt-to writes an age file whose
// manifest records the recipient and the ciphertext's checksum; verify
// checks its integrity without the private key; the stock Debian age CLI
// decrypts it and gunzip | psql loads it (SQLite: the file opens); restore
// needs CASINO_BACKUP_IDENTITY and works with it.
func TestEncryptedBackupWithStockAge(t *testing.T) {
	ageBin := testtool.Need(t, "age")
	keygen := testtool.Need(t, "age-keygen")
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		dir := t.TempDir()
		chdir(t, dir)
		identity := filepath.Join(dir, "age.key")
		if out, err := exec.Command(keygen, "-o", identity).CombinedOutput(); err != nil {
			t.Fatalf("age-keygen: %v %s", err, out)
		}
		out, err := exec.Command(keygen, "-y", identity).Output()
		if err != nil {
			t.Fatal(err)
		}
		recipient := strings.TrimSpace(string(out))
		url := testdb.URL(t, engine)
		if engine == sqlstore.SQLite {
			url = "sqlite:" + filepath.Join(dir, "data", "casino.db")
		}
		env := map[string]string{"DATABASE_URL": url}
		bkSeed(t, url, "enc", 3)
		path, m, _ := createdBackup(t, env, "--encrypt-to", recipient)
		if !strings.HasSuffix(path, ".gz.age") || m.Encryption == nil || !reflect.DeepEqual(m.Encryption.Recipients, []string{recipient}) {
			t.Fatalf("encrypted backup %s, encryption %+v", path, m.Encryption)
		}
		data, _ := os.ReadFile(path)
		if !bytes.HasPrefix(data, []byte("age-encryption.org/v1")) || int64(len(data)) != m.Encryption.CiphertextBytes {
			t.Fatalf("not an age file of the manifest's size: %q... %d bytes", data[:20], len(data))
		}
		// Integrity without the private key.
		stdout, stderr, code := runCLI(t, env, "", "backup", "verify", path)
		if code != 0 || !strings.Contains(stdout, "ciphertext size") || !strings.Contains(stdout, "contents not checked") {
			t.Fatalf("verify without identity: exit %d\n%s%s", code, stdout, stderr)
		}
		bad := append([]byte(nil), data...)
		bad[len(bad)-10] ^= 1
		corrupt := strings.Replace(path, "casino_db_", "casino_db_1", 1)
		os.WriteFile(corrupt, bad, 0o600)
		mb, _ := os.ReadFile(casino.ManifestPath(path))
		cm := bytes.Replace(mb, []byte(filepath.Base(path)), []byte(filepath.Base(corrupt)), 1)
		os.WriteFile(casino.ManifestPath(corrupt), cm, 0o600)
		os.WriteFile(casino.SignaturePath(corrupt), testSign(cm), 0o600)
		if _, stderr, code := runCLI(t, env, "", "backup", "verify", corrupt); code == 0 || !strings.Contains(stderr, "checksum mismatch") {
			t.Errorf("verify of a changed ciphertext: exit %d %s", code, stderr)
		}
		os.Remove(corrupt)
		os.Remove(casino.ManifestPath(corrupt))
		os.Remove(casino.SignaturePath(corrupt))
		// With the identity, verify reads the contents.
		withID := map[string]string{"DATABASE_URL": url, "CASINO_BACKUP_IDENTITY": identity}
		if stdout, stderr, code := runCLI(t, withID, "", "backup", "verify", path); code != 0 || strings.Contains(stdout, "contents not checked") {
			t.Fatalf("verify with identity: exit %d\n%s%s", code, stdout, stderr)
		}
		// 03:00, stock tools: age -d -i key FILE | gunzip | psql.
		ctx := context.Background()
		var loaded map[string]int64
		if engine == sqlstore.Postgres {
			fresh := testpg.NewDatabase(t)
			sh := exec.Command("sh", "-c", `"$4" -d -i "$1" "$2" | gunzip | psql -v ON_ERROR_STOP=1 -q -d "$3"`, "sh", identity, path, fresh, ageBin)
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("age -d | gunzip | psql: %v\n%s", err, out)
			}
			db, err := sqlstore.Open(ctx, fresh)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err = db.RowCounts(ctx)
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
		} else {
			plain := filepath.Join(t.TempDir(), "restored.db")
			sh := exec.Command("sh", "-c", `"$4" -d -i "$1" "$2" | gunzip > "$3"`, "sh", identity, path, plain, ageBin)
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("age -d | gunzip: %v\n%s", err, out)
			}
			db, err := sql.Open("sqlite", plain)
			if err != nil {
				t.Fatal(err)
			}
			loaded = map[string]int64{}
			for tbl := range m.RowCounts {
				var n int64
				if err := db.QueryRow("SELECT COUNT(*) FROM " + tbl).Scan(&n); err != nil {
					t.Fatalf("the decrypted file does not open as the database: %v", err)
				}
				loaded[tbl] = n
			}
			db.Close()
		}
		for tbl, n := range m.RowCounts {
			if loaded[tbl] != n {
				t.Errorf("stock tools loaded %s=%d, the manifest says %d", tbl, loaded[tbl], n)
			}
		}
		// restore: refused without the identity, done with it.
		bkSeed(t, url, "later", 1)
		before := bkState(t, url)
		if _, stderr, code := runCLI(t, env, "", "restore", path, "--yes"); code == 0 || !strings.Contains(stderr, "CASINO_BACKUP_IDENTITY") {
			t.Errorf("restore without identity: exit %d %s", code, stderr)
		}
		if bkState(t, url) != before {
			t.Fatalf("a refused restore changed the database")
		}
		if stdout, stderr, code := runCLI(t, withID, "", "restore", path, "--yes"); code != 0 {
			t.Fatalf("restore with identity: exit %d\n%s%s", code, stdout, stderr)
		}
		db, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		var later int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE name = 'later'`).Scan(&later)
		db.Close()
		if later != 0 {
			t.Errorf("restored database still has the tenant written after the backup")
		}
	})
}
