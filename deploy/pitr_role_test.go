package deploy

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"casino/internal/poll"
	"casino/internal/testpg"
)

// TestPITRRoleScript runs deploy/postgres/10-casino-pitr-role.sh, the
// compose postgres service's initdb script, against a real PostgreSQL whose
// pg_hba.conf is laid out as the official image leaves it (local trust, then
// "host all all all scram-sha-256", no replication line): a replication
// connection from another address is refused before the script and accepted
// after it, with the URL's percent-decoded password and not with another; the
// role has REPLICATION and nothing more, which is enough to create a slot
// and read pg_replication_slots, as the stream does; a second run adds no
// second line; the placeholder password, the owner role and a missing URL
// are handled.
func TestPITRRoleScript(t *testing.T) {
	t.Parallel()
	c := testpg.NewCluster(t)
	bin, err := testpg.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", c.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var dataDir, hbaFile, port string
	if err := db.QueryRow("SELECT current_setting('data_directory'), current_setting('hba_file'), current_setting('port')").Scan(&dataDir, &hbaFile, &port); err != nil {
		t.Fatal(err)
	}
	if hbaFile != filepath.Join(dataDir, "pg_hba.conf") {
		t.Fatalf("hba_file %s is not in the data directory %s", hbaFile, dataDir)
	}
	// The image's layout; the owner's line stands in for its local socket.
	imageHBA := "local all all trust\nhost all postgres 127.0.0.1/32 trust\n\nhost all all all scram-sha-256\n"
	if err := os.WriteFile(hbaFile, []byte(imageHBA), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}

	const role = "casino_pitr"
	const password = "p@ss/with:reserved-chars-0123456789"
	const encoded = "p%40ss%2Fwith%3Areserved-chars-0123456789"
	// psqlAs runs sql as the role from 127.0.0.1, which the image's
	// trust lines never cover for other containers; replication=true opens a
	// physical replication connection, as pg_receivewal does.
	psqlAs := func(pw, replication, sql string) error {
		cmd := exec.Command(filepath.Join(bin, "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql,
			"host=127.0.0.1 port="+port+" user="+role+" dbname=postgres replication="+replication+" connect_timeout=5")
		cmd.Env = append(os.Environ(), "PGPASSWORD="+pw)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return &scriptError{err, string(out)}
		}
		return nil
	}
	replicate := func(pw string) error { return psqlAs(pw, "true", "IDENTIFY_SYSTEM") }
	// Before the script: the image's pg_hba has no line for replication.
	poll.Until(t, 10*time.Second, "the image's pg_hba to refuse replication connections", func() bool {
		err := replicate(password)
		return err != nil && strings.Contains(err.Error(), "no pg_hba.conf entry for replication connection")
	})

	script, err := filepath.Abs(filepath.Join(root, "deploy", "postgres", "10-casino-pitr-role.sh"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(env ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "PGDATA="+dataDir,
			"PGHOST=127.0.0.1", "PGPORT="+port, "POSTGRES_USER=postgres", "POSTGRES_DB=postgres")
		cmd.Env = append(cmd.Env, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	urlWith := func(user, pw string) string {
		return "CASINO_PITR_REPLICATION_URL=postgres://" + user + ":" + pw + "@postgres:5432/postgres?sslmode=disable"
	}

	// Refusals first: nothing may change.
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"placeholder password", []string{urlWith(role, "change-me")}, "replace change-me"},
		{"short password", []string{urlWith(role, "short")}, "shorter than 16"},
		{"owner role", []string{urlWith("casino", "a-long-enough-password"), "POSTGRES_USER=casino"}, "must not be casino"},
		{"superuser role", []string{urlWith("postgres", "a-long-enough-password")}, "must not be postgres"},
		{"not a URL", []string{"CASINO_PITR_REPLICATION_URL=host=postgres user=x"}, "postgres:// URL"},
	} {
		out, err := run(tc.env...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: err %v, output %q; want a failure saying %q", tc.name, err, out, tc.want)
		}
		if strings.Contains(out, "a-long-enough-password") {
			t.Errorf("%s: the output shows the password: %q", tc.name, out)
		}
	}
	if out, err := run("CASINO_PITR_REPLICATION_URL="); err != nil || !strings.Contains(out, "point-in-time recovery off") {
		t.Errorf("without a URL: err %v, output %q; want a no-op", err, out)
	}
	if b, _ := os.ReadFile(hbaFile); string(b) != imageHBA {
		t.Fatalf("a refused or empty run changed pg_hba.conf:\n%s", b)
	}

	for i := range 2 {
		out, err := run(urlWith(role, encoded))
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
		if strings.Contains(out, password) || strings.Contains(out, encoded) {
			t.Errorf("run %d prints the password: %q", i+1, out)
		}
	}
	b, _ := os.ReadFile(hbaFile)
	if n := strings.Count(string(b), "host replication casino_pitr samenet scram-sha-256\n"); n != 1 {
		t.Errorf("pg_hba.conf has %d replication lines for %s after two runs, want 1:\n%s", n, role, b)
	}
	poll.Until(t, 10*time.Second, "a replication connection with the URL's password", func() bool { return replicate(password) == nil })
	if err := replicate(encoded); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("the still-encoded password: %v, want a password failure (scram, not trust)", err)
	}
	var repl, super, createDB, createRole, bypass bool
	if err := db.QueryRow("SELECT rolreplication, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = $1", role).Scan(&repl, &super, &createDB, &createRole, &bypass); err != nil {
		t.Fatal(err)
	}
	if !repl || super || createDB || createRole || bypass {
		t.Errorf("%s: replication=%v superuser=%v createdb=%v createrole=%v bypassrls=%v; want REPLICATION and nothing more", role, repl, super, createDB, createRole, bypass)
	}
	if err := replicate("a-different-password-0123"); err == nil {
		t.Error("a wrong password opens a replication connection")
	}
	// What casino pitr stream does with it: pg_receivewal creates and
	// reads the slot over the replication connection; the heartbeat reads
	// pg_replication_slots over an ordinary one to the postgres database.
	if err := psqlAs(password, "true", "CREATE_REPLICATION_SLOT casino_pitr_probe PHYSICAL RESERVE_WAL"); err != nil {
		t.Errorf("the role cannot create its slot: %v", err)
	}
	if err := psqlAs(password, "false", "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'casino_pitr_probe'"); err != nil {
		t.Errorf("the heartbeat's ordinary connection: %v", err)
	}
	if err := psqlAs(password, "true", "DROP_REPLICATION_SLOT casino_pitr_probe"); err != nil {
		t.Errorf("drop the probe slot: %v", err)
	}
}

type scriptError struct {
	err error
	out string
}

func (e *scriptError) Error() string { return e.err.Error() + ": " + e.out }
