package pitr

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino/keys"
)

// testSigner signs the stream folders of the tests; a fixed seed, so the
// re-executed TestMain stream (the kill -9 test) signs with the same key.
var testSigner = keys.Private{Key: ed25519.NewKeyFromSeed([]byte("casino-pitr-test-signing-key-32b"))}

var testVerifier = Verifier{Keys: []keys.Public{testSigner.Public()}}

// TestRecoverRefusesTamperedStream: a stream folder's base backup and WAL
// are signed as they are written; a flipped byte in a sealed WAL segment or
// in the base tar, a manifest signed by another key, removed manifests, or
// no verify key at all are refused before anything is unpacked or
// replayed, each naming the file and the reason. The untouched folder
// recovers, with its segments counted as verified.
func TestRecoverRefusesTamperedStream(t *testing.T) {
	t.Parallel()
	s := newPGSetup(t)
	dir := t.TempDir()
	stop := startStream(t, s, dir)
	waitFor(t, 90*time.Second, "a base backup and a recoverable window", func() bool {
		st, err := ReadStatus(dir, time.Now())
		return err == nil && st.Window != nil
	})
	// Four completed segments after the base backup, each sealed.
	admin := openDB(t, s.c.AdminURL())
	db := openDB(t, s.dbURL)
	for i := 0; i < 4; i++ {
		if _, err := db.Exec("INSERT INTO rows (tenant, n) VALUES (1, $1)", i); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("SELECT pg_switch_wal()"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("INSERT INTO rows (tenant, n) VALUES (2, 99)"); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, dir, time.Now())
	waitFor(t, 30*time.Second, "the completed segments sealed", func() bool {
		idx, err := testVerifier.WALIndex(dir)
		return err == nil && len(idx) >= 4
	})
	stop()
	idx, _ := testVerifier.WALIndex(dir)
	var sealedSeg string
	for name := range idx {
		if sealedSeg == "" || name > sealedSeg {
			sealedSeg = name // the newest sealed one: after the base backup's start
		}
	}
	bases, _ := listBases(dir)
	if len(bases) == 0 {
		t.Fatal("no base backup")
	}
	baseName := bases[len(bases)-1].Name

	copyDir := func(t *testing.T) string {
		t.Helper()
		d := filepath.Join(t.TempDir(), "stream")
		if out, err := exec.Command("cp", "-a", dir, d).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		return d
	}
	flip := func(t *testing.T, path string, at int64) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, 1)
		f.ReadAt(b, at)
		b[0] ^= 0x01
		f.WriteAt(b, at)
	}
	other := keys.Private{Key: ed25519.NewKeyFromSeed([]byte("another-key-nobody-trusts-32-byt"))}
	cases := []struct {
		name   string
		tamper func(t *testing.T, d string)
		v      Verifier
		want   string
	}{
		{"flipped byte in a sealed WAL segment", func(t *testing.T, d string) { flip(t, filepath.Join(d, "wal", sealedSeg), 8192+100) }, testVerifier,
			"WAL segment " + sealedSeg + " has sha256"},
		{"flipped byte in the base tar", func(t *testing.T, d string) { flip(t, filepath.Join(d, "base", baseName, "base.tar.gz"), 1000) }, testVerifier,
			"base backup " + baseName + ": base.tar.gz has sha256"},
		{"base manifest re-signed by another key", func(t *testing.T, d string) {
			m := readOwnManifest(filepath.Join(d, "base", baseName, "manifest.json"))
			if _, _, err := writeManifest(filepath.Join(d, "base", baseName, "manifest.json"), m, other); err != nil {
				t.Fatal(err)
			}
		}, testVerifier, "signature: signed by a key that is not among the verify keys"},
		{"WAL manifests removed", func(t *testing.T, d string) { os.RemoveAll(sealedDir(d)) }, testVerifier,
			"are in no signed manifest"},
		{"no verify key", func(t *testing.T, d string) {}, Verifier{}, "no verify key is configured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := copyDir(t)
			c.tamper(t, d)
			scratch := scratchDir(t)
			_, err := RecoverPostgres(context.Background(), RecoverOptions{Dir: d, Database: s.dbName, ScratchDir: scratch, Verify: c.v},
				func(context.Context, *Recovered) error { t.Error("recovery reached its use function"); return nil })
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("recover: %v\nwant ErrTampered naming %q", err, c.want)
			}
			if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
				t.Errorf("a refused recovery left %d entries in its scratch folder", len(ents))
			}
		})
	}
	t.Run("untouched", func(t *testing.T) {
		ids, rec := recoveredIDs(t, copyDir(t), s.dbName, nil)
		if len(ids) != 5 || rec.Facts.VerifiedWAL < 4 {
			t.Errorf("recovered %d rows with %d verified segments (unsigned tail %v); want 5 rows, at least 4 verified", len(ids), rec.Facts.VerifiedWAL, rec.Facts.UnsignedWAL)
		}
	})
}

// TestCaughtUpAtUnderSteadyWrites: with the slot never level with the
// server at a heartbeat (steady writes), the stream is caught up to the
// newest earlier heartbeat whose flush position the slot has passed, and
// remembers no more heartbeats than it needs.
func TestCaughtUpAtUnderSteadyWrites(t *testing.T) {
	s := &streamer{}
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	if _, ok := s.caughtUpAt(sec(0), 1000, 900); ok {
		t.Fatal("caught up before the slot reached any heartbeat's position")
	}
	if at, ok := s.caughtUpAt(sec(1), 2000, 1500); !ok || !at.Equal(sec(0)) {
		t.Fatalf("got %v %v, want the first heartbeat (slot past 1000)", at, ok)
	}
	if at, ok := s.caughtUpAt(sec(2), 3000, 2999); !ok || !at.Equal(sec(1)) {
		t.Fatalf("got %v %v, want the second heartbeat", at, ok)
	}
	if at, ok := s.caughtUpAt(sec(3), 3000, 3000); !ok || !at.Equal(sec(3)) {
		t.Fatalf("got %v %v, want now: the slot is level with the server", at, ok)
	}
	if len(s.marks) != 0 {
		t.Errorf("%d heartbeats kept after the slot passed them all", len(s.marks))
	}
	for i := range maxFlushMarks + 10 { // a stream that never moves
		s.caughtUpAt(sec(10+i), int64(5000+i), 3000)
	}
	if len(s.marks) != maxFlushMarks {
		t.Errorf("%d heartbeats kept, want at most %d", len(s.marks), maxFlushMarks)
	}
}
