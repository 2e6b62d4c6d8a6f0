package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"casino"
	"casino/internal/testdb"
	"casino/internal/tests3"
	"casino/keys"
	"casino/s3store"
	"casino/sqlstore"

	"casino/internal/poll"
)

// remoteHost is one host's settings for the remote tests: its own backup
// and data folders, the bucket's settings, and the backup keys.
type remoteHost struct {
	env map[string]string
	srv tests3.Server
}

// newRemoteHost returns the environment of a host that backs up dbURL to
// s3://bucket/prod, signing with key (nil: a host that only holds the
// public key, as a new host after the loss of the old one).
func newRemoteHost(t *testing.T, srv tests3.Server, bucket, dbURL string, key keys.Private, signs bool) *remoteHost {
	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL":         dbURL,
		"CASINO_BACKUP_DIR":    filepath.Join(dir, "backups"),
		"CASINO_DATA_DIR":      filepath.Join(dir, "data"),
		"CASINO_BACKUP_REMOTE": "s3://" + bucket + "/prod",
		"BK_DIR":               dir,
	}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if signs {
		env["CASINO_BACKUP_SIGNING_KEY"] = string(key.PEM())
	} else {
		env["CASINO_BACKUP_VERIFY_KEY"] = string(key.Public().PEM())
	}
	return &remoteHost{env: env, srv: srv}
}

// seededRemoteHost seeds a new SQLite database with n tenants labelled
// label, and returns a host that backs it up to a new bucket on srv,
// signing with a new key, and the bucket.
func seededRemoteHost(t *testing.T, srv tests3.Server, opts tests3.BucketOptions, label string, n int) (*remoteHost, string) {
	t.Helper()
	bucket := tests3.NewBucket(t, srv, opts)
	src := "sqlite:" + filepath.Join(t.TempDir(), "casino.db")
	bkSeed(t, src, label, n)
	return newRemoteHost(t, srv, bucket, src, newKey(t), true), bucket
}

func (h *remoteHost) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCLI(t, h.env, "", args...)
}

func (h *remoteHost) must(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := h.run(t, args...)
	if code != 0 {
		t.Fatalf("casino %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// store opens the remote the way the commands do.
func (h *remoteHost) store(t *testing.T) *s3store.Store {
	t.Helper()
	cfg, err := s3store.ConfigFromEnv("", envFunc(h.env))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// listing is backup list --remote --json, decoded.
func (h *remoteHost) listing(t *testing.T) (*s3store.Listing, int) {
	t.Helper()
	out, errOut, code := h.run(t, "backup", "list", "--remote", "--json")
	var v struct {
		Listing s3store.Listing `json:"listing"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("backup list --remote --json: %v\n%s\n%s", err, out, errOut)
	}
	return &v.Listing, code
}

func newKey(t *testing.T) keys.Private {
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// restoredState is bkState of a restored database without the audit event
// the restore writes (casino.ActionRestore): what a restore of a backup of
// state S must give back as S.
func restoredState(t *testing.T, url string) string {
	t.Helper()
	var kept []string
	for _, line := range strings.SplitAfter(bkState(t, url), "\n") {
		if !strings.Contains(line, "|"+casino.ActionRestore+"|") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}

// checkRestored checks that the database at url holds the backup's data:
// its restoredState is want, and each table holds the manifest's row count,
// plus the restore's own restore_id and audit event. Tables in skip are
// not counted.
func checkRestored(t *testing.T, url, want string, manifestCounts map[string]int64, skip ...string) {
	t.Helper()
	if got := restoredState(t, url); got != want {
		t.Errorf("restored data differs from the backup's:\n got %s\nwant %s", got, want)
	}
	counts := rowCounts(t, url)
	for table, n := range manifestCounts {
		if slices.Contains(skip, table) {
			continue
		}
		if table == "system_state" || table == "audit_events" {
			n++ // the restore writes its restore_id and its audit event
		}
		if counts[table] != n {
			t.Errorf("restored %s has %d rows, the manifest says %d", table, counts[table], n)
		}
	}
}

// rowCounts reads a database's per-table row counts.
func rowCounts(t *testing.T, url string) map[string]int64 {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.RowCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRemoteRoundTrip: on both engines, a backup goes to the bucket (a
// plaintext one only with --allow-plaintext-remote), list shows it with its
// lock, verify (plain and deep) passes, and a new host that holds only the
// settings and the public key pulls it and restores `--remote latest` into a
// fresh database with the manifest's row counts and the same data.
func TestRemoteRoundTrip(t *testing.T) {
	t.Parallel()
	srv := tests3.Plain(t)
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{ObjectLock: true})
		key := newKey(t)
		src := testdb.URL(t, engine)
		bkSeed(t, src, "remote", 5)
		want := bkState(t, src)
		h := newRemoteHost(t, srv, bucket, src, key, true)

		_, errOut, code := h.run(t, "backup", "create", "--remote")
		if code == 0 || !strings.Contains(errOut, "encrypted by default") || !strings.Contains(errOut, "--allow-plaintext-remote") {
			t.Fatalf("plaintext upload without --allow-plaintext-remote: exit %d\n%s", code, errOut)
		}
		if objs, _ := h.store(t).List(context.Background()); len(objs) != 0 {
			t.Fatalf("the refused upload left %d objects", len(objs))
		}
		h.must(t, "backup", "create", "--remote", "--allow-plaintext-remote", "--lock-mode", "governance", "--lock-min", "1h")

		l, code := h.listing(t)
		if code != 0 || len(l.Backups) != 1 || !l.Backups[0].Trusted() || len(l.Orphans) != 0 {
			t.Fatalf("listing (exit %d): %+v", code, l)
		}
		b := l.Backups[0]
		if b.Lock.Mode != "GOVERNANCE" || time.Until(b.Lock.Until) < 59*time.Minute {
			t.Errorf("lock %+v, want GOVERNANCE for an hour", b.Lock)
		}
		if b.KeyFingerprint != key.Public().Fingerprint() {
			t.Errorf("listed key %s, want %s", b.KeyFingerprint, key.Public().Fingerprint())
		}
		table := h.must(t, "backup", "list", "--remote")
		if !strings.Contains(table, b.Name) || !strings.Contains(table, "governance") || strings.Contains(table, "REFUSED") {
			t.Errorf("backup list --remote:\n%s", table)
		}
		out := h.must(t, "backup", "verify", "--remote", "latest")
		if !strings.Contains(out, "OK ") || !strings.Contains(out, "as signed") || !strings.Contains(out, "data object locked (GOVERNANCE)") {
			t.Errorf("verify --remote latest:\n%s", out)
		}
		// The verification is recorded in the live database's store, and
		// list --remote shows it.
		if table := h.must(t, "backup", "list", "--remote"); !regexp.MustCompile(b.Name + `.* ago \(verify\)`).MatchString(table) {
			t.Errorf("list --remote after verify does not show the verification:\n%s", table)
		}
		out = h.must(t, "backup", "verify", "--remote", "latest", "--deep")
		if !strings.Contains(out, "OK "+filepath.Join(h.env["CASINO_BACKUP_DIR"], ".remote-only-")) {
			t.Errorf("verify --remote latest --deep:\n%s", out)
		}
		var rep struct {
			Rows []struct {
				Name         string
				Verification *casino.BackupVerification `json:"last_verification"`
			}
		}
		if err := json.Unmarshal([]byte(h.must(t, "backup", "list", "--remote", "--json")), &rep); err != nil || len(rep.Rows) != 1 {
			t.Fatalf("list --remote --json: %v %+v", err, rep)
		}
		if v := rep.Rows[0].Verification; v == nil || v.Kind != "deep_verify" || !v.OK || v.BackupName != b.Name {
			t.Errorf("last verification after --deep: %+v", v)
		}

		// A new host: nothing but the settings and the public key.
		target := testdb.URL(t, engine)
		nh := newRemoteHost(t, srv, bucket, target, key, false)
		pulled := nh.must(t, "backup", "pull", "s3://"+bucket+"/prod/"+b.Name)
		for _, f := range []string{b.Name, s3store.ManifestName(b.Name), s3store.SignatureName(b.Name)} {
			if _, err := os.Stat(filepath.Join(nh.env["CASINO_BACKUP_DIR"], f)); err != nil {
				t.Errorf("after pull (%s): %v", strings.TrimSpace(pulled), err)
			}
		}
		if _, errOut, code := nh.run(t, "backup", "pull", "--remote", "latest"); code == 0 || !strings.Contains(errOut, "not replaced") {
			t.Errorf("second pull over the same file: exit %d %s", code, errOut)
		}
		os.RemoveAll(nh.env["CASINO_BACKUP_DIR"])
		nh.must(t, "restore", "--remote", "latest", "--yes")
		// Streamed from the bucket: no copy of the backup on the new host.
		if es, _ := os.ReadDir(nh.env["CASINO_BACKUP_DIR"]); len(es) != 0 {
			var names []string
			for _, e := range es {
				names = append(names, e.Name())
			}
			t.Errorf("restore --remote left %v in the backup folder", names)
		}
		checkRestored(t, target, want, b.Manifest.RowCounts)
	})
}

// TestRemoteKilledUpload: kill -9 while the data streams leaves no manifest
// and no backup in the listing, only an unfinished upload that the next
// backup aborts; kill -9 after the data and before the manifest leaves an
// orphan, listed with its lock and never restorable, which prune keeps
// while the lock holds and the server refuses to delete directly.
func TestRemoteKilledUpload(t *testing.T) {
	t.Parallel()
	h, _ := seededRemoteHost(t, tests3.Plain(t), tests3.BucketOptions{ObjectLock: true}, "k", 3)
	st := h.store(t)
	ctx := context.Background()

	kill := func(point string, extra ...string) {
		t.Helper()
		env := map[string]string{"CASINO_TEST_PAUSE_AT": point}
		for k, v := range h.env {
			env[k] = v
		}
		args := append([]string{"backup", "create", "--remote-only", "--allow-plaintext-remote"}, extra...)
		cmd, lines, out := bkSubprocess(t, env, args...)
		deadline := time.After(60 * time.Second)
		for paused := false; !paused; {
			select {
			case l, ok := <-lines:
				if !ok {
					cmd.Wait()
					t.Fatalf("backup create ended before pausing at %s:\n%s", point, out)
				}
				paused = l == "paused at "+point
			case <-deadline:
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("never paused at %s:\n%s", point, out)
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}

	kill("uploading")
	ups, err := st.Incomplete(ctx)
	if err != nil || len(ups) != 1 {
		t.Fatalf("after kill -9 mid-upload: unfinished uploads %+v, %v; want 1", ups, err)
	}
	objs, _ := st.List(ctx)
	for _, o := range objs {
		if strings.HasSuffix(o.Name, ".manifest.json") {
			t.Fatalf("a manifest exists after kill -9 mid-upload: %s", o.Name)
		}
	}
	out := h.must(t, "backup", "list", "--remote")
	if !strings.Contains(out, "UNFINISHED UPLOAD "+ups[0].Name) || !strings.Contains(out, "(no backups in") {
		t.Fatalf("list after kill -9 mid-upload:\n%s", out)
	}
	if _, errOut, code := h.run(t, "restore", "--remote", "latest", "--yes"); code == 0 || !strings.Contains(errOut, "no trusted backup") {
		t.Fatalf("restore --remote latest with only an unfinished upload: exit %d %s", code, errOut)
	}
	h.must(t, "backup", "create", "--remote-only", "--allow-plaintext-remote")
	if ups, _ := st.Incomplete(ctx); len(ups) != 0 {
		t.Fatalf("the next backup left the unfinished upload: %+v", ups)
	}
	if l, _ := h.listing(t); len(l.Backups) != 1 || !l.Backups[0].Trusted() {
		t.Fatalf("after the next backup: %+v", l)
	}
	if es, _ := os.ReadDir(h.env["CASINO_BACKUP_DIR"]); len(es) != 0 {
		t.Errorf("--remote-only left files in the backup folder: %v", es)
	}

	// Killed after the data, before the manifest: an orphan, locked.
	poll.NextSecond(t) // a new name stamp (one per second)
	kill("data_uploaded", "--lock-mode", "governance", "--lock-min", "1h")
	l, _ := h.listing(t)
	if len(l.Backups) != 1 || len(l.Orphans) != 1 || !l.Orphans[0].Lock.IsSet() {
		t.Fatalf("after kill -9 before the manifest: %d backups, orphans %+v", len(l.Backups), l.Orphans)
	}
	orphan := l.Orphans[0]
	if _, err := l.Find(orphan.Name); err == nil {
		t.Fatalf("the orphan %s is findable as a backup", orphan.Name)
	}
	out = h.must(t, "backup", "prune", "--remote", "--keep-last", "5", "--yes")
	if !strings.Contains(out, "locked   "+orphan.Name) || !strings.Contains(out, "Object Lock holds it until") {
		t.Fatalf("prune with a locked orphan:\n%s", out)
	}
	err = st.Delete(ctx, orphan.Name, orphan.VersionID)
	if !errors.Is(err, s3store.ErrLocked) {
		t.Fatalf("direct delete of the locked orphan: %v, want the server's refusal", err)
	}
	t.Logf("server refused: %v", err)
}

// TestRemoteObjectLockCLI: prune never deletes a locked backup (it says
// so, and the direct delete is refused by the server); prune extends the
// lock of what a longer class keeps; verify flags a backup whose lock is
// missing.
func TestRemoteObjectLockCLI(t *testing.T) {
	t.Parallel()
	h, _ := seededRemoteHost(t, tests3.Plain(t), tests3.BucketOptions{ObjectLock: true}, "l", 2)
	st := h.store(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if i > 0 {
			poll.NextSecond(t)
		}
		h.must(t, "backup", "create", "--remote-only", "--allow-plaintext-remote", "--lock-mode", "governance", "--lock-min", "1h")
	}
	l, _ := h.listing(t)
	if len(l.Backups) != 2 {
		t.Fatalf("%d backups", len(l.Backups))
	}
	old, newest := l.Backups[1], l.Backups[0]
	out := h.must(t, "backup", "prune", "--remote", "--keep-last", "1", "--lock-mode", "governance", "--lock-min", "1h", "--yes")
	if !strings.Contains(out, "locked   "+old.Name) || !strings.Contains(out, "not deleted before then") {
		t.Fatalf("prune of a locked backup:\n%s", out)
	}
	if l, _ := h.listing(t); len(l.Backups) != 2 {
		t.Fatalf("prune deleted a locked backup: %d left", len(l.Backups))
	}
	for _, obj := range []struct{ name, version string }{{old.Name, old.Manifest.DataVersionID}, {old.ManifestObject.Name, old.ManifestObject.VersionID}} {
		if err := st.Delete(ctx, obj.name, obj.version); !errors.Is(err, s3store.ErrLocked) {
			t.Fatalf("direct delete of %s: %v, want the server's refusal", obj.name, err)
		}
	}

	// A longer class: --keep-daily 7 keeps the newest for 7 days, longer
	// than its lock: verify says so, prune extends it, verify passes.
	out, _, code := h.run(t, "backup", "verify", "--remote", newest.Name, "--keep-last", "2", "--keep-daily", "7")
	if code == 0 || !strings.Contains(out, "shorter than its retention class (last snapshot, daily snapshot") {
		t.Fatalf("verify of a lock shorter than its class: exit %d\n%s", code, out)
	}
	out = h.must(t, "backup", "prune", "--remote", "--keep-last", "2", "--keep-daily", "7", "--lock-mode", "governance", "--lock-min", "1h", "--yes")
	if !strings.Contains(out, "extended "+newest.Name) {
		t.Fatalf("prune with --keep-daily 7:\n%s", out)
	}
	want := newest.Time().UTC().AddDate(0, 0, 7)
	for _, obj := range []struct{ name, version string }{{newest.Name, newest.Manifest.DataVersionID}, {newest.ManifestObject.Name, newest.ManifestObject.VersionID}} {
		lk, err := st.Retention(ctx, obj.name, obj.version)
		if err != nil || lk.Until.Before(want.Truncate(time.Second)) {
			t.Errorf("%s retention %+v %v, want extended to %s", obj.name, lk, err, want)
		}
	}
	out = h.must(t, "backup", "verify", "--remote", newest.Name, "--lock-mode", "governance", "--lock-min", "1h", "--keep-last", "2", "--keep-daily", "7")
	if !strings.Contains(out, "OK ") {
		t.Errorf("verify after the extension:\n%s", out)
	}

	// A backup uploaded without a lock: verify flags it.
	poll.NextSecond(t)
	h.must(t, "backup", "create", "--remote-only", "--allow-plaintext-remote")
	out, _, code = h.run(t, "backup", "verify", "--remote", "latest", "--lock-mode", "governance", "--lock-min", "1h")
	if code == 0 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "has no Object Lock retention") {
		t.Fatalf("verify of an unlocked backup: exit %d\n%s", code, out)
	}

	// serve reports the last upload of this host.
	s := startServe(t, h.env, true)
	resp, err := httpGetBody(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"casino_backup_remote_last_success_timestamp_seconds 1.", "casino_backup_remote_upload_bytes ", "casino_backup_remote_upload_duration_seconds "} {
		if !strings.Contains(resp, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if strings.Contains(resp, "casino_backup_remote_upload_bytes 0\n") {
		t.Errorf("/metrics reports 0 bytes uploaded")
	}
}

// TestRemoteTamperCLI: a replaced manifest is refused by verify and
// restore; deleting the newest backups makes list --remote report the
// regression (exit 1) until --accept-missing. It runs over TLS with a
// private CA (CASINO_S3_CA_FILE) and an AWS_CA_BUNDLE that points nowhere,
// which casino does not read.
func TestRemoteTamperCLI(t *testing.T) {
	t.Parallel()
	srv := tests3.TLS(t)
	h, bucket := seededRemoteHost(t, srv, tests3.BucketOptions{Versioning: true}, "t", 2)
	h.env["AWS_CA_BUNDLE"] = filepath.Join(t.TempDir(), "no-such-bundle.pem")
	if !strings.HasPrefix(h.env["CASINO_S3_ENDPOINT"], "https://") || h.env["CASINO_S3_CA_FILE"] == "" || h.env["CASINO_S3_INSECURE"] != "" {
		t.Fatalf("not a TLS host: %v", h.env)
	}
	st := h.store(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if i > 0 {
			poll.NextSecond(t)
		}
		h.must(t, "backup", "create", "--remote-only", "--allow-plaintext-remote")
	}
	l, code := h.listing(t)
	if code != 0 || len(l.Backups) != 3 {
		t.Fatalf("listing: exit %d, %d backups", code, len(l.Backups))
	}
	// Replace the oldest backup's manifest with one that claims more rows.
	victim := l.Backups[2]
	orig, _, err := st.ReadSmall(ctx, s3store.ManifestName(victim.Name), "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(orig), `"tenants": 2`, `"tenants": 20`, 1)
	if forged == string(orig) {
		t.Fatalf("no tenants count to forge in:\n%s", orig)
	}
	if _, err := st.PutSmall(ctx, s3store.ManifestName(victim.Name), []byte(forged), s3store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	out, _, code := h.run(t, "backup", "verify", "--remote", victim.Name)
	if code == 0 || !strings.Contains(out, "signature does not verify") {
		t.Fatalf("verify of a replaced manifest: exit %d\n%s", code, out)
	}
	target := "sqlite:" + filepath.Join(t.TempDir(), "restored.db")
	_, errOut, code := h.run(t, "restore", "--remote", victim.Name, "--target", target, "--yes")
	if code == 0 || !strings.Contains(errOut, "signature does not verify") {
		t.Fatalf("restore of a replaced manifest: exit %d\n%s", code, errOut)
	}

	// Delete the two newest backups through the client. With the forged
	// one, three backups seen before are gone, and "newest" rolled back.
	c := srv.Client(t)
	for _, b := range l.Backups[:2] {
		for _, obj := range []string{b.Name, s3store.SignatureName(b.Name), s3store.ManifestName(b.Name)} {
			if err := c.RemoveObject(ctx, bucket, st.Key(obj), minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, _, code = h.run(t, "backup", "list", "--remote")
	if code == 0 || strings.Count(out, "REGRESSION ") != 4 || !strings.Contains(out, "rollback: the newest backup is now none") {
		t.Fatalf("list after deleting the newest backups: exit %d\n%s", code, out)
	}
	if _, errOut, code := h.run(t, "restore", "--remote", "latest", "--target", target, "--yes"); code == 0 || !strings.Contains(errOut, "regressed") {
		t.Fatalf("restore --remote latest after a regression: exit %d\n%s", code, errOut)
	}
	h.must(t, "backup", "list", "--remote", "--accept-missing")
	if out, _, code := h.run(t, "backup", "list", "--remote"); code != 0 || strings.Contains(out, "REGRESSION") {
		t.Fatalf("after --accept-missing: exit %d\n%s", code, out)
	}
}

// TestRemotePrintConfig: serve --print-config shows the remote's settings
// and masks the S3 secret and session token, also when the remote is
// misconfigured.
func TestRemotePrintConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":          "sqlite:" + filepath.Join(t.TempDir(), "casino.db"),
		"CASINO_BACKUP_REMOTE":  "s3://casino-backups/prod",
		"CASINO_S3_ENDPOINT":    "https://s3.example.com",
		"AWS_ACCESS_KEY_ID":     "AKIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "s3-secret-value-0123456789",
		"AWS_SESSION_TOKEN":     "s3-session-token-0123456789",
	}
	out, _, code := runCLI(t, env, "", "serve", "--print-config")
	if code != 0 || strings.Contains(out, "s3-secret-value") || strings.Contains(out, "s3-session-token") ||
		!strings.Contains(out, `"backup_remote": "s3://casino-backups/prod"`) || !strings.Contains(out, `"aws_secret_access_key": "***"`) {
		t.Fatalf("print-config: exit %d\n%s", code, out)
	}
	env["CASINO_S3_ENDPOINT"] = "https://AKIAEXAMPLE:s3-secret-value-0123456789@s3.example.com"
	out, _, _ = runCLI(t, env, "", "serve", "--print-config")
	if strings.Contains(out, "s3-secret-value") || !strings.Contains(out, "backup_remote_error") {
		t.Fatalf("print-config with a misconfigured endpoint:\n%s", out)
	}
}

// TestRemoteEncrypted: with age recipients set, create --remote uploads the
// ciphertext without --allow-plaintext-remote; list says so; verify checks
// the ciphertext's sha256 without the identity; a new host with the identity
// and the public key restores it.
func TestRemoteEncrypted(t *testing.T) {
	t.Parallel()
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{Versioning: true})
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	src := "sqlite:" + filepath.Join(t.TempDir(), "casino.db")
	bkSeed(t, src, "enc", 3)
	want := bkState(t, src)
	h := newRemoteHost(t, srv, bucket, src, key, true)
	h.env["CASINO_BACKUP_RECIPIENTS"] = id.Recipient().String()
	h.must(t, "backup", "create", "--remote-only")
	l, _ := h.listing(t)
	if len(l.Backups) != 1 || !l.Backups[0].Trusted() || l.Backups[0].Manifest.Encryption == nil || !strings.HasSuffix(l.Backups[0].Name, ".age") {
		t.Fatalf("listing: %+v", l.Backups)
	}
	if out := h.must(t, "backup", "list", "--remote"); !strings.Contains(out, " age ") {
		t.Errorf("list does not say age:\n%s", out)
	}
	if out := h.must(t, "backup", "verify", "--remote", "latest"); !strings.Contains(out, s3store.StoredOf(l.Backups[0].Manifest).SHA256+" as signed") {
		t.Errorf("verify of the ciphertext:\n%s", out)
	}
	target := "sqlite:" + filepath.Join(t.TempDir(), "restored.db")
	nh := newRemoteHost(t, srv, bucket, target, key, false)
	nh.env["CASINO_BACKUP_IDENTITY"] = id.String()
	nh.must(t, "restore", "--remote", "latest", "--yes")
	if got := restoredState(t, target); got != want {
		t.Errorf("restored data differs:\n got %s\nwant %s", got, want)
	}
}
