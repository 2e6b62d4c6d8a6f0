package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casino/internal/testpg"
	"casino/sqlstore"
)

// TestVersionHistoryWithAPIDown: no server runs; the history comes from the
// database, and the rollback target is the previous distinct version, not
// the broken build that ran last.
func TestVersionHistoryWithAPIDown(t *testing.T) {
	for _, engine := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			u := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
			if engine == sqlstore.Postgres {
				u = testpg.NewDatabase(t)
			}
			env := map[string]string{"DATABASE_URL": u}
			if out, errOut, code := runCLI(t, env, "", "migrate", "up"); code != 0 {
				t.Fatalf("migrate up: %d %s %s", code, out, errOut)
			}
			db, err := sqlstore.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"1.4.0", "1.4.1", "1.4.2", "1.4.2"} {
				if err := db.RecordVersion(context.Background(), v, "c"+v); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			out, errOut, code := runCLI(t, env, "", "version", "history")
			if code != 0 || !strings.Contains(out, "rollback target (previous distinct version before 1.4.2): 1.4.1 (commit c1.4.1") {
				t.Fatalf("version history: exit %d\n%s%s", code, out, errOut)
			}
			if _, errOut, code := runCLI(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "none.db")}, "", "version", "history"); code == 0 || !strings.Contains(errOut, "no database at") {
				t.Errorf("no database: exit %d, %s", code, errOut)
			}
			// Scenario A prints and journals the rollback target, API down.
			f := newDRFixture(t)
			f.Env["DATABASE_URL"] = u
			// declare records the running version and the previous distinct one
			out = f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "a", "--comms", "b")
			if !strings.Contains(out, "version running: 1.4.2") || !strings.Contains(out, "previous distinct version (rollback target): 1.4.1 (commit c1.4.1") {
				t.Errorf("declare with the API down:\n%s", out)
			}
			if out := f.mustDR(t, "scenario", "A", "--reason", "1.4.2 is broken"); !strings.Contains(out, "rollback target (previous distinct version): 1.4.1 (commit c1.4.1") {
				t.Errorf("scenario A:\n%s", out)
			}
			// after Scenario A, validate expects the rollback target back, not the broken build
			for _, c := range []struct {
				running string
				code    int
			}{{"1.4.1", 0}, {"1.4.2", 1}} {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprintf(w, `{"version":%q,"commit":"c"}`, c.running)
				}))
				out, errOut, code := f.dr(t, "validate", "--checks", "version", "--url", srv.URL)
				srv.Close()
				if code != c.code || !strings.Contains(out, "scenario A's rollback target") {
					t.Errorf("validate against %s: exit %d, want %d\n%s%s", c.running, code, c.code, out, errOut)
				}
			}
			var status struct {
				Proof string `json:"proof"`
			}
			json.Unmarshal([]byte(f.mustDR(t, "status", "--json")), &status)
			proof, _ := os.ReadFile(status.Proof)
			if !strings.Contains(string(proof), "| version_previous | 1.4.1 (commit c1.4.1") {
				t.Errorf("the proof does not record the previous version:\n%s", proof)
			}
		})
	}
}
