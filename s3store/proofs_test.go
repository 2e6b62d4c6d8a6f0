package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/minio/minio-go/v7"

	"casino/internal/tests3"
)

// TestProofSnapshots: mirrored snapshots are listed by incident and seq;
// objects an attacker (or another tool) put under proofs/ that are not
// snapshots are ignored; the newest complete snapshot is the record (a
// journal without its proof is skipped); a taken name is never
// overwritten with other bytes; the backup listing never sees proofs/.
func TestProofSnapshots(t *testing.T) {
	t.Parallel()
	srv := tests3.Plain(t)
	s := newStore(t, srv, tests3.BucketOptions{Versioning: true})
	ctx := context.Background()
	for seq := 1; seq <= 3; seq++ {
		j := []byte(fmt.Sprintf("journal %d\n", seq))
		if err := s.PutProof(ctx, "2026-12-02", seq, j, []byte(fmt.Sprintf("proof %d\n", seq)), Lock{}); err != nil {
			t.Fatal(err)
		}
	}
	c := srv.Client(t)
	put := func(key string, b []byte) {
		if _, err := c.PutObject(ctx, s.Bucket(), key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{SendContentMd5: true}); err != nil {
			t.Fatal(err)
		}
	}
	// A journal 4 without its proof (a mirror cut short), and junk.
	put(s.Key("proofs/2026-12-02/00000004.journal.jsonl"), []byte("journal 4\n"))
	for _, k := range []string{"proofs/2026-12-02/4.md", "proofs/2026-12-02/00000005.exe", "proofs/x/y/00000001.md", "proofs/00000001.md", "proofs/.hidden/00000001.md"} {
		put(s.Key(k), []byte("junk"))
	}
	all, err := s.ProofSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || len(all["2026-12-02"]) != 4 {
		t.Fatalf("snapshots %+v, want incident 2026-12-02 with seqs 1..4 only", all)
	}
	seq, j, p, err := s.LatestProof(ctx, "2026-12-02")
	if err != nil || seq != 3 || string(j) != "journal 3\n" || string(p) != "proof 3\n" {
		t.Errorf("latest: seq %d %q %q %v, want the complete snapshot 3", seq, j, p, err)
	}
	if _, _, _, err := s.LatestProof(ctx, "2026-01-01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("latest of an unknown incident: %v", err)
	}
	if err := s.PutProof(ctx, "2026-12-02", 2, []byte("journal 2, rewritten\n"), []byte("proof 2\n"), Lock{}); !errors.Is(err, ErrProofConflict) {
		t.Errorf("rewriting snapshot 2: %v, want ErrProofConflict", err)
	}
	for _, id := range []string{"..", "a/b", "", ".x", "a\x00"} {
		if err := s.PutProof(ctx, id, 1, []byte("j"), []byte("p"), Lock{}); err == nil {
			t.Errorf("incident id %q accepted", id)
		}
	}
	if objs, err := s.List(ctx); err != nil || len(objs) != 0 {
		t.Errorf("the backup listing sees %d objects (%v): proofs/ must stay out of it", len(objs), err)
	}
}
