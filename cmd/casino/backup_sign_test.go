package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casino"
	"casino/internal/testdb"
	"casino/internal/testtool"
	"casino/sqlstore"
)

// createdBackup runs backup create --json and returns the backup's path.
func createdBackup(t *testing.T, env map[string]string, args ...string) (path string, m casino.BackupManifest, stderr string) {
	t.Helper()
	stdout, stderr, code := runCLI(t, env, "", append([]string{"backup", "create", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("backup create: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var out struct {
		Path     string
		Manifest casino.BackupManifest
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("backup create --json: %v\n%s", err, stdout)
	}
	return out.Path, out.Manifest, stderr
}

// TestSignedManifestVerifiesWithOpenSSL: on the embedded SQLite default with
// no key configured, the first backup generates a key pair under the data
// folder (0600, never under backups/), and stock openssl verifies the
// manifest's detached signature with the public key alone; a changed
// manifest does not verify. On PostgreSQL the pair comes from backup keygen.
func TestSignedManifestVerifiesWithOpenSSL(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		dir := t.TempDir()
		chdir(t, dir)
		env := map[string]string{"CASINO_BACKUP_SIGNING_KEY": ""}
		var pub string
		if engine == sqlstore.SQLite {
			env["DATABASE_URL"] = "sqlite:" + filepath.Join(dir, "data", "casino.db")
			pub = filepath.Join(dir, "data", "keys", "backup-signing.pub")
		} else {
			env["DATABASE_URL"] = testdb.URL(t, engine)
			stdout, stderr, code := runCLI(t, env, "", "backup", "keygen", "--out", filepath.Join(dir, "secrets"))
			if code != 0 || !strings.HasPrefix(stdout, "-----BEGIN PUBLIC KEY-----") || !strings.Contains(stderr, "fingerprint: SHA256:") {
				t.Fatalf("keygen: exit %d\n%s\n%s", code, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "PRIVATE KEY") {
				t.Fatalf("keygen printed the private key")
			}
			env["CASINO_BACKUP_SIGNING_KEY"] = filepath.Join(dir, "secrets", "backup-signing.key")
			pub = filepath.Join(dir, "secrets", "backup-signing.pub")
		}
		bkSeed(t, env["DATABASE_URL"], "o", 2)
		path, m, stderr := createdBackup(t, env)
		if engine == sqlstore.SQLite {
			if !strings.Contains(stderr, "generated the backup signing key") {
				t.Errorf("first backup did not say it generated a key:\n%s", stderr)
			}
			st, err := os.Stat(filepath.Join(dir, "data", "keys", "backup-signing.key"))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("generated key: %v mode %v, want 0600", err, st)
			}
			// The second backup reuses it.
			if _, m2, stderr := createdBackup(t, env); strings.Contains(stderr, "generated") || m2.KeyFingerprint != m.KeyFingerprint {
				t.Errorf("second backup: fingerprint %s (first %s), stderr %s", m2.KeyFingerprint, m.KeyFingerprint, stderr)
			}
		}
		if !strings.HasPrefix(m.KeyFingerprint, "SHA256:") || m.UncompressedBytes <= m.SizeBytes/2 {
			t.Errorf("manifest: fingerprint %q uncompressed %d compressed %d", m.KeyFingerprint, m.UncompressedBytes, m.SizeBytes)
		}
		// No key material anywhere in the backup folder.
		filepath.Walk(filepath.Join(dir, "backups"), func(p string, info os.FileInfo, err error) error {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("PRIVATE KEY")) || strings.HasSuffix(p, ".key") {
				t.Errorf("key material in the backup folder: %s", p)
			}
			return nil
		})
		verify := func(manifest string) (string, error) {
			out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", manifest, "-sigfile", casino.SignaturePath(path)).CombinedOutput()
			return string(out), err
		}
		if out, err := verify(casino.ManifestPath(path)); err != nil || !strings.Contains(out, "Signature Verified Successfully") {
			t.Fatalf("openssl verify: %v\n%s", err, out)
		}
		mb, _ := os.ReadFile(casino.ManifestPath(path))
		forged := filepath.Join(t.TempDir(), "forged.json")
		os.WriteFile(forged, bytes.Replace(mb, []byte(`"snapshot_at": "`), []byte(`"snapshot_at": "2`), 1), 0o600)
		if out, err := verify(forged); err == nil {
			t.Errorf("openssl verified a changed manifest:\n%s", out)
		}
		// backup list shows the fingerprint, never the key.
		stdout, _, _ := runCLI(t, env, "", "backup", "list")
		if !strings.Contains(stdout, m.KeyFingerprint) || strings.Contains(stdout, "BEGIN") {
			t.Errorf("backup list:\n%s", stdout)
		}
	})
}

// TestPostgresBackupWithoutKeyIsRefused: with DATABASE_URL on PostgreSQL a
// generated key would not survive, so a missing key is an error that says
// how to make one, and nothing is written.
func TestPostgresBackupWithoutKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	url := testdb.URL(t, sqlstore.Postgres)
	bkSeed(t, url, "k", 1)
	env := map[string]string{"DATABASE_URL": url, "CASINO_BACKUP_SIGNING_KEY": ""}
	stdout, stderr, code := runCLI(t, env, "", "backup", "create")
	if code != 1 || !strings.Contains(stderr, "casino backup keygen") || !strings.Contains(stderr, "never in the database or the backup folder") {
		t.Errorf("exit %d, want 1 and how to make a key:\n%s%s", code, stdout, stderr)
	}
	if es, _ := os.ReadDir(filepath.Join(dir, "backups")); len(es) != 0 {
		t.Errorf("a refused backup wrote %v", es)
	}
	// A key file inside the backup folder is refused too.
	os.MkdirAll(filepath.Join(dir, "backups"), 0o700)
	if _, stderr, code := runCLI(t, env, "", "backup", "keygen", "--out", filepath.Join(dir, "backups", "k")); code == 0 || !strings.Contains(stderr, "inside the backup folder") {
		t.Errorf("keygen into the backup folder: exit %d %s", code, stderr)
	}
}

// TestRestoreSignatureOverrides: on a new host that lacks the signing key a
// restore is refused with the reason; --verify-key supplies the public key,
// --trust-unsigned accepts an unsigned backup, and the restore's JSON
// records which override was used.
func TestRestoreSignatureOverrides(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	url := "sqlite:" + filepath.Join(dir, "data", "casino.db")
	env := map[string]string{"DATABASE_URL": url}
	bkSeed(t, url, "s", 2)
	path, m, _ := createdBackup(t, env)
	pub := filepath.Join(dir, "backup.pub")
	p, _ := parseTestKey()
	os.WriteFile(pub, p.Public().PEM(), 0o644)

	host := map[string]string{"DATABASE_URL": url, "CASINO_BACKUP_SIGNING_KEY": ""}
	stdout, stderr, code := runCLI(t, host, "", "restore", path, "--yes")
	if code == 0 || !strings.Contains(stderr, "not among the verify keys") {
		t.Fatalf("restore without a key: exit %d, want a refusal saying why\n%s%s", code, stdout, stderr)
	}
	restore := func(args ...string) casino.RestoreFacts {
		t.Helper()
		stdout, stderr, code := runCLI(t, host, "", append([]string{"restore", path, "--yes", "--json"}, args...)...)
		var f casino.RestoreFacts
		if err := json.Unmarshal([]byte(stdout), &f); err != nil || code != 0 || f.RestoreID == "" {
			t.Fatalf("restore %v: exit %d %v\n%s%s", args, code, err, stdout, stderr)
		}
		return f
	}
	if f := restore("--verify-key", pub); strings.Join(f.Overrides, ",") != "verify_key" || f.Backup.KeyFingerprint != m.KeyFingerprint {
		t.Errorf("--verify-key: overrides %v key %s", f.Overrides, f.Backup.KeyFingerprint)
	}
	os.Remove(casino.SignaturePath(path))
	if _, stderr, code := runCLI(t, host, "", "restore", path, "--yes", "--verify-key", pub); code == 0 || !strings.Contains(stderr, "unsigned") {
		t.Errorf("unsigned backup: exit %d, want a refusal naming it unsigned\n%s", code, stderr)
	}
	if f := restore("--trust-unsigned"); strings.Join(f.Overrides, ",") != "trust_unsigned" || f.Backup.KeyFingerprint != "" {
		t.Errorf("--trust-unsigned: overrides %v key %s", f.Overrides, f.Backup.KeyFingerprint)
	}
}

// TestBackupAdopt: a backup made before signatures existed (no signature,
// no fingerprint, no uncompressed length) is refused until `backup adopt`
// verifies and signs it; adopt refuses a damaged one and an already signed
// one; verify records into the database, never into the signed manifest,
// and backup list shows it.
func TestBackupAdopt(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	url := "sqlite:" + filepath.Join(dir, "data", "casino.db")
	env := map[string]string{"DATABASE_URL": url}
	bkSeed(t, url, "a", 2)
	path, _, _ := createdBackup(t, env)
	var old map[string]any
	mb, _ := os.ReadFile(casino.ManifestPath(path))
	json.Unmarshal(mb, &old)
	delete(old, "key_fingerprint")
	delete(old, "uncompressed_bytes")
	old["last_verified_at"] = "2026-01-01T00:00:00Z"
	ob, _ := json.MarshalIndent(old, "", "  ")
	os.WriteFile(casino.ManifestPath(path), ob, 0o600)
	os.Remove(casino.SignaturePath(path))
	if _, stderr, code := runCLI(t, env, "", "backup", "verify", path); code == 0 || !strings.Contains(stderr, "backup adopt") {
		t.Fatalf("verify of an unsigned backup: exit %d\n%s", code, stderr)
	}
	// A damaged old backup is not adopted.
	good, _ := os.ReadFile(path)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 1
	os.WriteFile(path, bad, 0o600)
	if _, stderr, code := runCLI(t, env, "", "backup", "adopt", path); code == 0 || !strings.Contains(stderr, "checksum mismatch") {
		t.Errorf("adopt of a damaged backup: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(casino.SignaturePath(path)); err == nil {
		t.Errorf("adopt signed a damaged backup")
	}
	os.WriteFile(path, good, 0o600)
	stdout, stderr, code := runCLI(t, env, "", "backup", "adopt", path)
	if code != 0 || !strings.Contains(stdout, "signed with key SHA256:") {
		t.Fatalf("adopt: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := runCLI(t, env, "", "backup", "adopt", path); code == 0 || !strings.Contains(stderr, "already signed") {
		t.Errorf("second adopt: exit %d %s", code, stderr)
	}
	signed, _ := os.ReadFile(casino.ManifestPath(path))
	if stdout, stderr, code := runCLI(t, env, "", "backup", "verify", path); code != 0 {
		t.Fatalf("verify after adopt: exit %d\n%s%s", code, stdout, stderr)
	}
	if after, _ := os.ReadFile(casino.ManifestPath(path)); !bytes.Equal(after, signed) {
		t.Errorf("verify rewrote the signed manifest")
	}
	stdout, _, _ = runCLI(t, env, "", "backup", "list", "--json")
	var rows []struct {
		Name           string
		KeyFingerprint string  `json:"key_fingerprint"`
		LastVerifiedAt *string `json:"last_verified_at"`
		LastVerifiedOK *bool   `json:"last_verified_ok"`
	}
	json.Unmarshal([]byte(stdout), &rows)
	if len(rows) != 1 || rows[0].LastVerifiedAt == nil || rows[0].LastVerifiedOK == nil || !*rows[0].LastVerifiedOK || rows[0].KeyFingerprint == "" {
		t.Errorf("backup list after verify: %s", stdout)
	}
}
