package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"casino"
	"casino/internal/poll"
	"casino/internal/tests3"
	"casino/keys"
	"casino/pitr"
	"casino/s3store"
)

// TestPITRPullAfterHostLoss is Scenario C for a PostgreSQL stream shipped
// to a bucket: `casino pitr stream --remote` ships age-encrypted, signed
// base backups and WAL; the host and its stream folder are lost; `casino
// pitr pull --to-time T` rebuilds the folder from the bucket, verified, and
// `casino restore --to-time T --pitr-dir` brings back every tenant created
// before T and none after. A pull that trusts another key exits non-zero
// and leaves no folder. `restore --to-time latest --pitr-dir s3://…` does
// the pull itself, into a scratch folder it removes.
func TestPITRPullAfterHostLoss(t *testing.T) {
	t.Parallel()
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{Versioning: true})
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{"CASINO_BACKUP_REMOTE": "s3://" + bucket + "/prod", "CASINO_BACKUP_RECIPIENTS": id.Recipient().String()}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		extra[k] = v
	}
	s := startPGStream(t, extra, func(u string) { bkSeed(t, u, "before", 3) })
	c, dbURL, env, dir, scratch, streamOut, stop := s.Cluster, s.URL, s.Env, s.Dir, s.Scratch, s.out, s.Stop
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	bkSeed(t, dbURL, "before2", 2)
	T := time.Now()
	bkSeed(t, dbURL, "after", 2)
	if _, err := db.Exec("DELETE FROM tenants WHERE slug LIKE 'before%'"); err != nil {
		t.Fatal(err)
	}
	// The segment holding it all completes (archive_timeout does this in
	// production) and is shipped: its batch manifest's signature lands last.
	admin, err := sql.Open("pgx", c.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var seg string
	if err := admin.QueryRow("SELECT pg_walfile_name(pg_switch_wal())").Scan(&seg); err != nil {
		t.Fatal(err)
	}
	mc := srv.Client(t)
	if !poll.Wait(60*time.Second, func() bool {
		for o := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "prod/pitr/sealed-"}) {
			if k := strings.TrimPrefix(o.Key, "prod/pitr/sealed-wal-"); strings.HasSuffix(k, ".json.sig") && strings.TrimSuffix(k, ".json.sig")[25:] >= seg {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("segment %s never shipped:\n%s", seg, streamOut.String())
	}
	stop()
	if err := os.RemoveAll(dir); err != nil { // the host is lost
		t.Fatal(err)
	}
	env["CASINO_BACKUP_IDENTITY"] = id.String()

	// Trusting another key: refused, non-zero, no folder.
	other, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{"CASINO_BACKUP_SIGNING_KEY": "", "CASINO_BACKUP_VERIFY_KEY": string(other.Public().PEM())}
	for k, v := range env {
		if _, set := bad[k]; !set {
			bad[k] = v
		}
	}
	if _, errOut, code := runCLI(t, bad, "", "pitr", "pull", "--to-time", T.UTC().Format(time.RFC3339Nano)); code == 0 || !strings.Contains(errOut, "not among the verify keys") {
		t.Errorf("pull trusting another key: exit %d, %q; want a refusal naming the signature", code, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused pull left %s (%v)", dir, err)
	}

	out, errOut, code := runCLI(t, env, "", "pitr", "pull", "--to-time", T.UTC().Format(time.RFC3339Nano), "--json")
	var p pitr.Pulled
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
		t.Fatalf("pitr pull: exit %d\n%s\n%s", code, out, errOut)
	}
	if p.Window == nil || p.Window.End.Before(T) || len(p.BaseBackups) != 1 || p.Encrypted != p.Files || p.WALSegments == 0 {
		t.Fatalf("pulled %+v: want one base backup, encrypted files, WAL and a window past T", p)
	}
	t.Logf("pulled %d files (%d WAL segments, %d bytes) in %.1fs; window %s", p.Files, p.WALSegments, p.Bytes, p.Seconds, p.Window)
	if out, _, code := runCLI(t, env, "", "pitr", "status"); code != 0 || !strings.Contains(out, "pulled from s3://"+bucket+"/prod/pitr") || !strings.Contains(out, p.Window.String()) {
		t.Errorf("pitr status of the pulled folder: exit %d\n%s", code, out)
	}

	out, errOut, code = runCLI(t, env, "", "restore", "--to-time", T.UTC().Format(time.RFC3339Nano), "--pitr-dir", dir, "--yes", "--target", dbURL, "--terminate-connections", "--json")
	if code != 0 {
		t.Fatalf("restore --to-time from the pulled folder: exit %d\n%s\n%s", code, out, errOut)
	}
	var res casino.RestoreFacts
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.PITR == nil || res.PITR.Mode != "target_time" || res.PITR.ReachedAt.After(T) || res.PITR.VerifiedWAL == 0 || len(res.PITR.UnsignedWAL) != 0 {
		t.Fatalf("restore --json: %v: %s", err, out)
	}
	slugs := tenantSlugs(t, db)
	if got, want := slugs, "before-0 before-1 before-2 before2-0 before2-1"; got != want {
		t.Errorf("tenants after pull and restore to T: %q, want %q", got, want)
	}

	// One command: restore straight from the bucket, to the last commit it
	// holds (the delete included), through a scratch pull that goes away.
	out, errOut, code = runCLI(t, env, "", "restore", "--to-time", "latest", "--pitr-dir", "s3://"+bucket+"/prod", "--yes", "--target", dbURL, "--terminate-connections", "--json")
	if code != 0 {
		t.Fatalf("restore --to-time latest --pitr-dir s3://: exit %d\n%s\n%s", code, out, errOut)
	}
	res = casino.RestoreFacts{}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.PITR == nil || res.PITR.Mode != "end_of_wal" || res.PITR.Source != "s3://"+bucket+"/prod/pitr" || !res.PITR.ReachedAt.Equal(p.Window.End) {
		t.Fatalf("restore --json: %v: %s; want end_of_wal from the bucket, reached at the pulled window's end %s", err, out, p.Window.End)
	}
	slugs = tenantSlugs(t, db)
	if got, want := slugs, "after-0 after-1"; got != want {
		t.Errorf("tenants after restore latest from the bucket: %q, want %q", got, want)
	}
	if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
		t.Errorf("scratch folder not emptied: %v", ents)
	}
}

// TestPITRStreamLocksShippedWAL: `pitr stream --remote` takes the bucket's
// lock settings as `backup create --remote` does (CASINO_BACKUP_LOCK_MODE,
// CASINO_BACKUP_LOCK_MIN): a shipped WAL segment, its batch manifest and
// signature carry a COMPLIANCE retention of upload time + the minimum, and
// the server refuses to delete the segment's version. A mode without a
// minimum is refused as for backups.
func TestPITRStreamLocksShippedWAL(t *testing.T) {
	t.Parallel()
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{ObjectLock: true})
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CASINO_BACKUP_RECIPIENTS": id.Recipient().String(), "CASINO_BACKUP_LOCK_MODE": "compliance", "CASINO_BACKUP_LOCK_MIN": "10m"}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	shipperFor := func(env map[string]string) (func(context.Context, pitr.Sealed) error, error) {
		e := &Env{Getenv: envFunc(env), Stdout: io.Discard, Stderr: io.Discard}
		fs := newFlagSet(e, "pitr stream", pitrUsage)
		var lf remoteFlags
		bindRemoteLockFlags(fs, e, &lf)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		ship, _, err := pitrShipper(e, "s3://"+bucket+"/prod", false, &lf)
		return ship, err
	}
	noMin := map[string]string{"CASINO_BACKUP_LOCK_MIN": ""}
	for k, v := range env {
		if _, set := noMin[k]; !set {
			noMin[k] = v
		}
	}
	if _, err := shipperFor(noMin); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("lock mode without a minimum: %v, want a refusal", err)
	}
	ship, err := shipperFor(env)
	if err != nil {
		t.Fatal(err)
	}
	// One sealed WAL batch as the streamer leaves it on disk.
	dir := t.TempDir()
	seg := "000000010000000000000010"
	os.MkdirAll(filepath.Join(dir, "wal"), 0o700)
	os.MkdirAll(filepath.Join(dir, "sealed"), 0o700)
	os.WriteFile(filepath.Join(dir, "wal", seg), make([]byte, 1<<20), 0o600)
	man := filepath.Join(dir, "sealed", "wal-"+seg+"-"+seg+".json")
	os.WriteFile(man, []byte(`{"format":"casino-pitr-wal/1"}`), 0o600)
	os.WriteFile(man+".sig", make([]byte, 64), 0o600)
	before := time.Now()
	if err := ship(context.Background(), pitr.Sealed{Kind: "wal", Dir: filepath.Join(dir, "wal"), Manifest: man, Files: []pitr.SealedFile{{Name: seg, Size: 1 << 20}}}); err != nil {
		t.Fatal(err)
	}
	st := openPITRRemote(t, env, "s3://"+bucket+"/prod/pitr")
	for _, name := range []string{"wal-" + seg + ".age", "sealed-wal-" + seg + "-" + seg + ".json", "sealed-wal-" + seg + "-" + seg + ".json.sig"} {
		o, l, err := st.StatLock(context.Background(), name, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if l.Mode != "COMPLIANCE" || l.Until.Before(before.Add(10*time.Minute)) || l.Until.After(time.Now().Add(10*time.Minute+2*time.Second)) {
			t.Errorf("%s: retention %+v, want COMPLIANCE until upload time + 10m", name, l)
		}
		if name == "wal-"+seg+".age" {
			if err := st.Delete(context.Background(), name, o.VersionID); !errors.Is(err, s3store.ErrLocked) {
				t.Errorf("delete the shipped segment's version: %v, want s3store.ErrLocked", err)
			}
			if _, err := st.Stat(context.Background(), name, o.VersionID); err != nil {
				t.Errorf("the locked segment is gone after the refused delete: %v", err)
			}
		}
	}
}

func openPITRRemote(t *testing.T, env map[string]string, remote string) *s3store.Store {
	t.Helper()
	cfg, err := s3store.ConfigFromEnv(remote, envFunc(env))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
