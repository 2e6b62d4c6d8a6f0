package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino/auth"
	"casino/internal/poll"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// authedStatus returns the status of an authenticated GET.
func authedStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// gunzipFile returns a .gz backup's decompressed bytes.
func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJWTKeyLeavesTheDatabase: on the first start after the upgrade the
// token signing key an older version kept in system_state moves to the key
// file and its row is deleted; afterwards it is in no backup (decompressed)
// and, on SQLite, nowhere in the database file, free pages included. A
// rotation keeps the old tokens verifying, --revoke-old refuses them at
// once, and restoring a backup taken before the upgrade never brings the
// old key back.
func TestJWTKeyLeavesTheDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		dir := t.TempDir()
		chdir(t, dir)
		url := testdb.URL(t, engine)
		keyFile := filepath.Join(dir, "data", "keys", "jwt.json")
		if engine == sqlstore.SQLite {
			url = "sqlite:" + filepath.Join(dir, "data", "casino.db")
		}
		env := map[string]string{"DATABASE_URL": url, "CASINO_OWNER_PASSWORD": testOwnerPassword}
		bkSeed(t, url, "j", 1)
		// The database as an older version left it: the key in system_state.
		legacy := []byte("LEGACY-jwt-key-0123456789abcdef-0123456789")
		b64 := base64.StdEncoding.EncodeToString(legacy)
		db, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES ('jwt_signing_key', ?, ?)`, `{"key":"`+b64+`"}`, sqlstore.Now()); err != nil {
			t.Fatal(err)
		}
		db.Close()
		oldBackup, _, _ := createdBackup(t, env)

		s := startServe(t, env, true)
		tokOld := apiLogin(t, s.URL, "admin@casino.com", testOwnerPassword)
		if authedStatus(t, s.URL+"/api/v1/tenants", tokOld) != 200 {
			t.Fatal("token signed with the moved key is refused")
		}
		s.Stop(t)
		st, err := os.Stat(keyFile)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file %s: %v %v, want 0600", keyFile, err, st)
		}
		kf := &auth.KeyFile{Path: keyFile}
		if ks, err := kf.Read(); err != nil || len(ks) != 1 || !bytes.Equal(ks[0].Secret, legacy) {
			t.Fatalf("key file does not hold the moved key: %v", err)
		}
		if engine == sqlstore.SQLite {
			b, _ := os.ReadFile(strings.TrimPrefix(url, "sqlite:"))
			if bytes.Contains(b, []byte(b64)) || bytes.Contains(b, legacy) {
				t.Errorf("the SQLite file still holds the key's bytes")
			}
		}
		newBackup, _, _ := createdBackup(t, env)
		if data := gunzipFile(t, newBackup); bytes.Contains(data, []byte(b64)) || bytes.Contains(data, legacy) {
			t.Errorf("a backup taken after the upgrade holds the token signing key")
		}

		// Rotation while serving: old tokens keep working, then are refused.
		s = startServe(t, env, true)
		if stdout, stderr, code := runCLI(t, env, "", "admin", "rotate-jwt-key"); code != 0 || !strings.Contains(stdout, "new_kid") {
			t.Fatalf("rotate: exit %d %s %s", code, stdout, stderr)
		}
		var tokNew string
		poll.Wait(10*time.Second, func() bool {
			tokNew = apiLogin(t, s.URL, "admin@casino.com", testOwnerPassword)
			hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tokNew, ".")[0])
			return !strings.Contains(string(hdr), auth.KeyID(legacy))
		})
		if authedStatus(t, s.URL+"/api/v1/tenants", tokOld) != 200 || authedStatus(t, s.URL+"/api/v1/tenants", tokNew) != 200 {
			t.Fatal("after a rotation, old or new tokens are refused")
		}
		if _, stderr, code := runCLI(t, env, "", "admin", "rotate-jwt-key", "--revoke-old"); code != 0 {
			t.Fatalf("rotate --revoke-old: %s", stderr)
		}
		poll.Until(t, 10*time.Second, "--revoke-old to refuse a token of the old key", func() bool {
			return authedStatus(t, s.URL+"/api/v1/tenants", tokOld) == 401
		})
		if authedStatus(t, s.URL+"/api/v1/tenants", tokNew) != 401 {
			t.Error("--revoke-old kept the tokens of the key it retired")
		}
		s.Stop(t)
		ks, _ := kf.Read()
		// Restore the backup from before the upgrade: its row is deleted at
		// start and never replaces the key file.
		if stdout, stderr, code := runCLI(t, env, "", "restore", oldBackup, "--yes"); code != 0 {
			t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
		}
		s = startServe(t, env, true)
		if authedStatus(t, s.URL+"/api/v1/tenants", tokOld) != 401 {
			t.Error("after restoring an old backup, a token of the old key is accepted again")
		}
		s.Stop(t)
		ks2, _ := kf.Read()
		if len(ks2) != 1 || ks2[0].ID != ks[0].ID {
			t.Errorf("the restore changed the key file: %v -> %v", ks, ks2)
		}
		db, _ = sqlstore.Open(ctx, url)
		got, _ := db.LegacySigningKey(ctx)
		db.Close()
		if got != nil {
			t.Error("the restored database's key row was not deleted at start")
		}
	})
}
