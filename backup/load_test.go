package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/internal/testdb"
	"casino/internal/testpg"
	"casino/sqlstore"
)

// readDump returns the decompressed SQL of a .sql.gz backup.
func readDump(t testing.TB, path string) string {
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
	return string(b)
}

// craftBackup writes sql as a backup named like good into dir, with good's
// manifest correctly recomputed for it (size, sha256), exactly as an
// attacker who can write to the backup folder would. Signing, once backups
// are signed, is one more line in sealManifest.
func craftBackup(t testing.TB, dir string, good *backup.CreateResult, sql []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.Base(good.Path))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(sql)
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	m := *good.Manifest
	sum := sha256.Sum256(buf.Bytes())
	m.SHA256, m.SizeBytes, m.UncompressedBytes = hex.EncodeToString(sum[:]), int64(buf.Len()), int64(len(sql))
	sealManifest(t, p, &m)
	return p
}

// sealManifest writes the manifest beside the backup and signs it with
// the valid key, so that the loader itself is what refuses the backup.
func sealManifest(t testing.TB, path string, m *casino.BackupManifest) {
	t.Helper()
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(casino.ManifestPath(path), b, 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(casino.SignaturePath(path), testSigner.Sign(b), 0o600)
}

// TestLoaderRefusesCraftedDumps: each crafted dump carries a valid manifest
// (the checksum matches), so the loader itself must refuse it, naming the
// line, and nothing in it may run: no file appears, no role, no other
// database changes, the live database keeps its data and no scratch
// database is left behind. Under the former psql restore each of these ran.
func TestLoaderRefusesCraftedDumps(t *testing.T) {
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.Postgres)
	seed(t, live, 3)
	dir := t.TempDir()
	good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	live.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES ('after', '1', now())`)
	live.Close()
	before := dbState(t, live.Target.URL)
	dump := readDump(t, good.Path)

	admin, err := sql.Open("pgx", testpg.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	otherURL := testpg.NewDatabase(t)
	other, err := sql.Open("pgx", otherURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherName := strings.TrimPrefix(otherURL[strings.LastIndex(otherURL, "/"):], "/")
	if i := strings.IndexByte(otherName, '?'); i >= 0 {
		otherName = otherName[:i]
	}
	stamp := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	// The server runs on this machine: files it would write land here too.
	marker := func(name string) string { return filepath.Join(os.TempDir(), "casino-load-"+stamp+"-"+name) }
	role := "casino_evil_" + stamp
	t.Cleanup(func() {
		admin.Exec("DROP ROLE IF EXISTS " + role)
	})

	const preData = "SET row_security = off;\n"
	insertAfter := func(anchor, text string) func(string) string {
		return func(d string) string {
			if !strings.Contains(d, anchor) {
				t.Fatalf("the dump has no %q", anchor)
			}
			return strings.Replace(d, anchor, anchor+text, 1)
		}
	}
	replace := func(old, new string) func(string) string {
		return func(d string) string {
			if !strings.Contains(d, old) {
				t.Fatalf("the dump has no %q", old)
			}
			return strings.Replace(d, old, new, 1)
		}
	}
	loExport := func(file string) string {
		return fmt.Sprintf(`pg_catalog.lo_export(pg_catalog.lo_from_bytea(0, '\x41'::bytea), '%s')`, file)
	}
	cases := []struct {
		name   string
		edit   func(string) string
		reason string // in the refusal
		file   string // must not exist afterwards
	}{
		{"shell escape", insertAfter(preData, "\\! touch "+marker("shell")+"\n"), `shell escape \!`, marker("shell")},
		{"meta-command include", insertAfter(preData, "\\o "+marker("out")+"\nSELECT 1;\n"), `\o`, marker("out")},
		{"meta-command inside a statement", insertAfter(preData, "SET lock_timeout = 0; \\! touch "+marker("inline")+"\n"), "meta-command", marker("inline")},
		{"copy to program", insertAfter(preData, "COPY (SELECT 1) TO PROGRAM 'touch "+marker("program")+"';\n"), "PROGRAM", marker("program")},
		{"copy to file", insertAfter(preData, "COPY public.users TO '"+marker("copyto")+"';\n"), "COPY ... TO", marker("copyto")},
		{"connect to another database", insertAfter(preData, "\\connect "+otherName+"\nCREATE TABLE pwned (x int);\n"), `\connect`, ""},
		{"create role", insertAfter(preData, "CREATE ROLE "+role+" SUPERUSER LOGIN PASSWORD 'x';\n"), "role statement", ""},
		{"set role", insertAfter(preData, "SET ROLE postgres;\n"), "role statement", ""},
		{"grant", insertAfter(preData, "GRANT ALL ON SCHEMA public TO PUBLIC;\n"), "privilege statement", ""},
		{"create function", insertAfter(preData, "CREATE FUNCTION public.evil() RETURNS integer LANGUAGE sql AS $$ SELECT "+loExport(marker("function"))+" $$;\n"), "function casino's migrations do not create", marker("function")},
		{"replaced append-only function", replace("RAISE EXCEPTION 'audit_events is append-only';", "RETURN NEW;"), "a function casino's migrations do not create", ""},
		{"check expression calling a function", replace("CONSTRAINT tenants_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))",
			"CONSTRAINT tenants_name_check CHECK ("+loExport(marker("check"))+" = 1)"), "DDL that differs", marker("check")},
		{"default calling a function", replace("actor_email text DEFAULT ''::text NOT NULL", "actor_email text DEFAULT ("+loExport(marker("default"))+")::text NOT NULL"), "DDL that differs", marker("default")},
		{"index expression", replace("CREATE INDEX users_tenant_id ON public.users USING btree (tenant_id);", "CREATE INDEX users_tenant_id ON public.users USING btree (abs(tenant_id));"), "DDL that differs", ""},
		{"setval with a subquery", replace("SELECT pg_catalog.setval('public.tenants_id_seq', 3, true);", "SELECT pg_catalog.setval('public.tenants_id_seq', (SELECT "+loExport(marker("setval"))+"), true);"), "setval with anything but", marker("setval")},
		{"setval on an unknown sequence", replace("SELECT pg_catalog.setval('public.tenants_id_seq', 3, true);", "SELECT pg_catalog.setval('public.other_seq', 3, true);"), "does not have", ""},
		{"copy into an unknown table", insertAfter(preData, "CREATE TABLE public.extra (x integer);\nCOPY public.extra (x) FROM stdin;\n1\n\\.\n"), "DDL that differs", ""},
		{"copy with an extra column", replace("COPY public.system_state (key, value, updated_at) FROM stdin;", "COPY public.system_state (key, value, updated_at, extra) FROM stdin;"), "with columns", ""},
		{"extra trigger", insertAfter("FOR EACH ROW EXECUTE FUNCTION public.audit_events_append_only();\n", "CREATE TRIGGER t AFTER INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION public.audit_events_append_only();\n"), "a trigger casino's migrations do not create", ""},
		{"copy into an unknown table alone", insertAfter(preData, "COPY public.extra (x) FROM stdin;\n1\n\\.\n"), "does not have", ""},
		{"do block", insertAfter(preData, "DO $$ BEGIN PERFORM "+loExport(marker("do"))+"; END $$;\n"), "anonymous code block", marker("do")},
		{"statement after the trailer", func(d string) string { return d + "SELECT " + loExport(marker("trailer")) + ";\n" }, "completion trailer", marker("trailer")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			crafted := tc.edit(dump)
			bdir := t.TempDir()
			p := craftBackup(t, bdir, good, []byte(crafted))
			_, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: p, Target: live.Target, BackupDir: bdir, NoSafetyBackup: true})
			msg := ""
			if err != nil {
				msg = casino.ErrorMessage(err) + " " + err.Error()
			}
			if err == nil || !strings.Contains(msg, "line ") || !strings.Contains(msg, tc.reason) {
				t.Fatalf("restore: %v\nwant a refusal naming the line and saying %q", err, tc.reason)
			}
			// Deep verify shares the loader; once per kind of attack keeps
			// the suite short.
			if tc.file != "" || tc.name == "connect to another database" {
				if _, err := backup.Verify(ctx, p, backup.VerifyOptions{Keys: tk, Deep: true, AdminURL: live.Target.URL}); err == nil || !strings.Contains(casino.ErrorMessage(err), tc.reason) {
					t.Errorf("deep verify: %v, want a refusal saying %q", err, tc.reason)
				}
			}
			t.Logf("refused: %s", casino.ErrorMessage(err))
			// Once more unsigned, with --trust-unsigned: the override skips
			// the signature check, never the loader.
			os.Remove(casino.SignaturePath(p))
			_, err = backup.Restore(ctx, backup.RestoreOptions{Keys: &backup.Keys{TrustUnsigned: true}, File: p, Target: live.Target, BackupDir: bdir, NoSafetyBackup: true})
			if err == nil || !strings.Contains(casino.ErrorMessage(err)+" "+err.Error(), tc.reason) {
				t.Errorf("restore --trust-unsigned: %v\nwant a refusal saying %q", err, tc.reason)
			}
			if tc.file != "" {
				if _, err := os.Stat(tc.file); err == nil {
					os.Remove(tc.file)
					t.Errorf("%s was created: the dump ran", tc.file)
				}
			}
			var n int
			admin.QueryRow(`SELECT COUNT(*) FROM pg_roles WHERE rolname = $1`, role).Scan(&n)
			if n != 0 {
				t.Errorf("role %s exists: the dump ran", role)
			}
			other.QueryRow(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n)
			if n != 0 {
				t.Errorf("the other database has %d tables: the dump ran there", n)
			}
			if after := dbState(t, live.Target.URL); after != before {
				t.Error("the live database changed")
			}
			if left, _ := backup.FindLeftovers(ctx, live.Target, bdir); len(left) > 0 {
				t.Errorf("leftovers: %v", left)
			}
		})
	}
	t.Run("the untouched dump loads", func(t *testing.T) {
		bdir := t.TempDir()
		p := craftBackup(t, bdir, good, []byte(dump))
		if _, err := backup.Verify(ctx, p, backup.VerifyOptions{Keys: tk, Deep: true, AdminURL: live.Target.URL}); err != nil {
			t.Fatalf("deep verify of the re-packed good dump: %v", err)
		}
	})
}

// craftSQLiteBackup applies ddl to a copy of good's SQLite file and writes
// it as a backup with a correctly recomputed manifest.
func craftSQLiteBackup(t testing.TB, dir string, good *backup.CreateResult, ddl string) string {
	t.Helper()
	f, err := os.Open(good.Path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "edit.db")
	os.WriteFile(work, raw, 0o600)
	db, err := sql.Open("sqlite", work)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	db.Close()
	edited, err := os.ReadFile(work)
	if err != nil {
		t.Fatal(err)
	}
	return craftBackup(t, dir, good, edited)
}

// TestSQLiteRestoreRefusesForeignSchema: a SQLite backup whose schema is
// not exactly what casino's migrations create (here: a trigger that
// deletes every login failure as it is recorded, which switches off login
// throttling) is refused by restore and verify, and the live database
// keeps its data and schema.
func TestSQLiteRestoreRefusesForeignSchema(t *testing.T) {
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.SQLite)
	seed(t, live, 2)
	dir := t.TempDir()
	good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	live.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES ('after', '1', CURRENT_TIMESTAMP)`)
	live.Close()
	before := dbState(t, live.Target.URL)
	cases := []struct{ name, ddl, want string }{
		{"extra trigger", `CREATE TRIGGER no_throttle AFTER INSERT ON login_failures BEGIN DELETE FROM login_failures; END`, "extra trigger no_throttle"},
		{"extra view", `CREATE VIEW owners AS SELECT email, password_hash FROM users`, "extra view owners"},
		{"extra table", `CREATE TABLE extra (x)`, "extra table extra"},
		{"extra index", `CREATE INDEX users_email_hash ON users (email, password_hash)`, "extra index users_email_hash"},
		{"missing trigger", `DROP TRIGGER audit_events_no_delete`, "missing trigger audit_events_no_delete"},
		{"changed check", `PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = replace(sql, '''suspended''', '''suspended'', ''gone''') WHERE name = 'tenants'; PRAGMA writable_schema = OFF`, "changed table tenants"},
		{"schema_migrations rewritten", `DELETE FROM schema_migrations`, "schema_migrations records version 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bdir := t.TempDir()
			p := craftSQLiteBackup(t, bdir, good, tc.ddl)
			_, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: p, Target: live.Target, BackupDir: bdir, NoSafetyBackup: true})
			if err == nil || !strings.Contains(casino.ErrorMessage(err), tc.want) {
				t.Fatalf("restore: %v\nwant a refusal saying %q", err, tc.want)
			}
			if _, err := backup.Verify(ctx, p, backup.VerifyOptions{Keys: tk}); err == nil || !strings.Contains(casino.ErrorMessage(err), tc.want) {
				t.Errorf("verify: %v, want a refusal saying %q", err, tc.want)
			}
			// Unsigned, with --trust-unsigned: still refused by the schema check.
			os.Remove(casino.SignaturePath(p))
			if _, err := backup.Restore(ctx, backup.RestoreOptions{Keys: &backup.Keys{TrustUnsigned: true}, File: p, Target: live.Target, BackupDir: bdir, NoSafetyBackup: true}); err == nil || !strings.Contains(casino.ErrorMessage(err), tc.want) {
				t.Errorf("restore --trust-unsigned: %v, want a refusal saying %q", err, tc.want)
			}
			if dbState(t, live.Target.URL) != before {
				t.Error("the live database changed")
			}
			db, err := sql.Open("sqlite", live.Target.Path)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('no_throttle', 'owners', 'extra', 'users_email_hash')`).Scan(&n)
			db.Close()
			if n != 0 {
				t.Error("the crafted schema reached the live database")
			}
			if left, _ := backup.FindLeftovers(ctx, live.Target, bdir); len(left) > 0 {
				t.Errorf("leftovers: %v", left)
			}
			es, _ := os.ReadDir(filepath.Dir(live.Target.Path))
			for _, e := range es {
				if strings.Contains(e.Name(), ".restore-") {
					t.Errorf("left %s beside the database", e.Name())
				}
			}
		})
	}
	t.Run("the untouched copy restores", func(t *testing.T) {
		bdir := t.TempDir()
		p := craftSQLiteBackup(t, bdir, good, `SELECT 1`)
		if _, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: p, Target: live.Target, BackupDir: bdir, NoSafetyBackup: true}); err != nil {
			t.Fatalf("restore: %v", err)
		}
	})
}
