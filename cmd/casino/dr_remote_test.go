package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"casino/dr"
	"casino/internal/tests3"
	"casino/s3store"
)

// TestDRProofMirror: with a remote set, every dr command that journals
// mirrors the journal and proof to proofs/<incident>/<seq>.* under new
// names; a mirror that fails leaves the local step recorded and says so
// loudly, and dr status catches up; a new host rebuilds the incident with
// dr status --remote and continues it; verify-proof checks the mirrored
// copy; a snapshot is never overwritten, and a tampered one is refused.
func TestDRProofMirror(t *testing.T) {
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{ObjectLock: true})
	f := newDRFixture(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		f.Env[k] = v
	}
	remote := "s3://" + bucket + "/prod"
	f.Env["CASINO_BACKUP_REMOTE"] = remote
	ctx := context.Background()
	cfg, err := s3store.ConfigFromEnv("", envFunc(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seqs := func(id string) []int {
		all, err := st.ProofSnapshots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, s := range all[id] {
			if !s.Complete {
				t.Errorf("snapshot %d of %s is incomplete", s.Seq, id)
			}
			out = append(out, s.Seq)
		}
		return out
	}

	out := f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "Ines", "--comms", "Carl")
	ids, _ := dr.List(f.ProofDir)
	if len(ids) != 1 {
		t.Fatalf("incidents %v", ids)
	}
	id := ids[0]
	if want := remote + "/proofs/" + id + "/"; !strings.Contains(out, want) {
		t.Errorf("declare does not name the mirror %s:\n%s", want, out)
	}
	f.mustDR(t, "note", "first note")
	if got := seqs(id); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("mirrored snapshots %v, want [1 2]", got)
	}

	// The remote is unreachable: the step is journaled all the same, and
	// the failure is loud.
	f.Env["CASINO_BACKUP_REMOTE"] = "s3://no-such-bucket-casino/prod"
	out, errOut, code := f.dr(t, "note", "written while the bucket is away")
	if code != 0 || !strings.Contains(errOut, "WARNING") || !strings.Contains(errOut, "NOT mirrored") || !strings.Contains(errOut, "journal entry 3 is recorded locally") {
		t.Fatalf("note with the remote down: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if entries, err := dr.ReadJournal(filepath.Join(f.ProofDir, id+".journal.jsonl")); err != nil || len(entries) != 3 {
		t.Fatalf("local journal after the failed mirror: %d entries, %v", len(entries), err)
	}
	f.Env["CASINO_BACKUP_REMOTE"] = remote
	if out := f.mustDR(t, "status"); !strings.Contains(out, "mirrored: "+remote+"/proofs/"+id+"/ (entry 3)") {
		t.Errorf("status did not catch the mirror up:\n%s", out)
	}
	if got := seqs(id); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("after catching up: snapshots %v, want [1 2 3]", got)
	}

	// A new host: an empty proof folder, the settings only.
	oldProof, _ := os.ReadFile(filepath.Join(f.ProofDir, id+".md"))
	newDir := filepath.Join(t.TempDir(), "proof")
	f.Env["CASINO_DR_PROOF_DIR"] = newDir
	if _, errOut, code := f.dr(t, "note", "no incident here yet"); code == 0 {
		t.Fatalf("a note on the empty new host succeeded: %s", errOut)
	}
	out = f.mustDR(t, "status", "--remote")
	if !strings.Contains(out, "rebuilt incident "+id) || !strings.Contains(out, "OPEN") {
		t.Errorf("status --remote:\n%s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(newDir, id+".md")); !bytes.Equal(got, oldProof) {
		t.Errorf("the rebuilt proof differs from the old host's")
	}
	f.mustDR(t, "note", "continued on the new host")
	if got := seqs(id); fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("after continuing: snapshots %v, want [1 2 3 4]", got)
	}
	out = f.mustDR(t, "verify-proof", remote+"/proofs/"+id)
	if !strings.Contains(out, "hash chain intact") || !strings.Contains(out, "mirrored copy") {
		t.Errorf("verify-proof on the mirrored copy:\n%s", out)
	}
	f.mustDR(t, "verify-proof", "--remote", id)
	// The old host comes back with a shorter journal: status --remote
	// updates it to the mirror's.
	f.Env["CASINO_DR_PROOF_DIR"] = f.ProofDir
	if out := f.mustDR(t, "status", "--remote"); !strings.Contains(out, "updated incident "+id) {
		t.Errorf("status --remote on the old host:\n%s", out)
	}

	// --json keeps stdout to the JSON on a rebuilding host too.
	f.Env["CASINO_DR_PROOF_DIR"] = filepath.Join(t.TempDir(), "proof")
	var st1 struct {
		Incident string `json:"incident"`
		Entries  int    `json:"entries"`
	}
	if out := f.mustDR(t, "status", "--remote", "--json"); json.Unmarshal([]byte(out), &st1) != nil || st1.Incident != id || st1.Entries != 4 {
		t.Errorf("status --remote --json: %+v\n%s", st1, out)
	}
	f.Env["CASINO_DR_PROOF_DIR"] = f.ProofDir

	// Append-only: a different snapshot under a taken name is refused.
	j4, _ := os.ReadFile(filepath.Join(newDir, id+".journal.jsonl"))
	if err := st.PutProof(ctx, id, 4, append(j4, '\n'), oldProof, s3store.Lock{}); !errors.Is(err, s3store.ErrProofConflict) {
		t.Errorf("overwriting snapshot 4: %v, want ErrProofConflict", err)
	}
	if err := st.PutProof(ctx, id, 4, j4, []byte(mustRead(t, filepath.Join(newDir, id+".md"))), s3store.Lock{}); err != nil {
		t.Errorf("re-mirroring the same snapshot: %v", err)
	}
	if err := st.PutProof(ctx, "../x", 5, j4, j4, s3store.Lock{}); err == nil {
		t.Error("an incident id with .. was accepted")
	}

	// Tampering in the bucket (a new version over the newest proof): the
	// mirrored copy no longer verifies, and no host rebuilds from it.
	c := srv.Client(t)
	key := "prod/proofs/" + id + "/00000004.md"
	forged := bytes.Replace([]byte(mustRead(t, filepath.Join(newDir, id+".md"))), []byte("continued on the new host"), []byte("nothing happened here"), 1)
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(forged), int64(len(forged)), minio.PutObjectOptions{SendContentMd5: true}); err != nil {
		t.Fatal(err)
	}
	out, _, code = f.dr(t, "verify-proof", remote+"/proofs/"+id)
	if code == 0 || !strings.Contains(out, "BROKEN") {
		t.Errorf("verify-proof of a tampered mirror: exit %d\n%s", code, out)
	}
	f.Env["CASINO_DR_PROOF_DIR"] = filepath.Join(t.TempDir(), "proof")
	if _, errOut, code := f.dr(t, "status", "--remote"); code == 0 || !strings.Contains(errOut, "does not verify") {
		t.Errorf("status --remote from a tampered mirror: exit %d\n%s", code, errOut)
	}
}
