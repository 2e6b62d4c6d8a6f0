package backup_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"casino"
	"casino/backup"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// slowReader waits delay before each read: stored bytes on a slow disk or
// bucket.
type slowReader struct {
	r     io.ReadCloser
	delay time.Duration
	waits time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	<-time.After(s.delay)
	s.waits += s.delay
	if len(p) > 512 {
		p = p[:512]
	}
	return s.r.Read(p)
}

func (s *slowReader) Close() error { return s.r.Close() }

// TestRestoreMeasuresDecrypt: a restore of an age-encrypted backup reports
// the time age spent decrypting, within the restore's duration and, on
// SQLite, all of it before "verified" (verify decompresses into the new
// file); a plain backup reports none; and the time spent waiting on the
// stored bytes is not counted as decryption.
func TestRestoreMeasuresDecrypt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := backup.LoadKeys(backup.KeyConfig{SigningKey: string(testSigner.PEM()), Recipients: []string{id.Recipient().String()}, Identity: id.String()})
	if err != nil {
		t.Fatal(err)
	}
	live := testdb.Open(t, sqlstore.SQLite)
	seed(t, live, 20)
	live.Close()
	dir := t.TempDir()
	enc, err := backup.Create(ctx, backup.CreateOptions{Keys: ek, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}

	res, err := backup.Restore(ctx, backup.RestoreOptions{Keys: ek, File: enc.Path, Target: live.Target, BackupDir: dir, NoSafetyBackup: true})
	if err != nil {
		t.Fatal(err)
	}
	total := time.Duration(res.DurationMS * float64(time.Millisecond))
	if res.Decrypt <= 0 || res.Decrypt > total || res.DecryptInVerify != res.Decrypt {
		t.Errorf("encrypted restore: decrypt %s (in verify %s) of %s; want > 0, within the restore, all in verify", res.Decrypt, res.DecryptInVerify, total)
	}
	res, err = backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: plain.Path, Target: live.Target, BackupDir: dir, NoSafetyBackup: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Decrypt != 0 || res.DecryptInVerify != 0 {
		t.Errorf("plain restore: decrypt %s (in verify %s), want 0", res.Decrypt, res.DecryptInVerify)
	}

	// Streamed from a slow store: the waits are the store's, not age's.
	mb, _ := os.ReadFile(casino.ManifestPath(enc.Path))
	sig, _ := os.ReadFile(casino.SignaturePath(enc.Path))
	st, _ := os.Stat(enc.Path)
	var slow *slowReader
	src := &backup.Source{
		Name: filepath.Base(enc.Path), Location: "test://slow/" + filepath.Base(enc.Path),
		Manifest: mb, Signature: sig, Size: st.Size(), Written: st.ModTime(),
		Open: func(context.Context) (io.ReadCloser, error) {
			f, err := os.Open(enc.Path)
			if err != nil {
				return nil, err
			}
			slow = &slowReader{r: f, delay: 2 * time.Millisecond}
			return slow, nil
		},
	}
	vr, err := backup.Verify(ctx, "", backup.VerifyOptions{Source: src, Keys: ek, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Most of the reads happen inside age's: counted whole, they would be
	// most of the waits.
	if d := vr.DecryptTime(); d <= 0 || d >= slow.waits/2 {
		t.Errorf("verify from a slow store: decrypt %s, the store's waits %s; want > 0 and the waits left out", d, slow.waits)
	}
}
