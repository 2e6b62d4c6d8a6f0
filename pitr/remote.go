package pitr

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino/s3store"
)

// RemotePrefix is the folder under CASINO_BACKUP_REMOTE that the stream
// ships to. It keeps the stream's objects out of the logical backups'
// listing, which reads only the objects directly under the remote.
const RemotePrefix = "pitr"

// Encrypter wraps w in an encrypting writer (backup.Keys.EncryptTo).
type Encrypter func(w io.Writer) (io.WriteCloser, error)

// RemoteShipper returns a StreamOptions.OnSealed that uploads each signed
// set to st: every file age-encrypted through enc (NAME.age; nil enc, only
// with --allow-plaintext-remote, uploads plaintext), then the manifest and
// its signature last, so a manifest in the bucket means its files are
// there. Object names are flat: base-<stamp>-<file> and wal-<segment> for
// data, base-<stamp>-manifest.json and sealed-<batch>.json for manifests.
// A WAL segment already uploaded (a retried batch) is uploaded again: a new
// version, the signed manifest's hash still names the plaintext.
//
// lock, when set, is asked once per set for the Object Lock retention its
// objects get (LockFor: upload time + the shortest retention class, as
// `backup create --remote` locks a backup); nil uploads without a lock.
func RemoteShipper(st *s3store.Store, enc Encrypter, lockFor func() s3store.Lock) func(ctx context.Context, s Sealed) error {
	return func(ctx context.Context, s Sealed) error {
		var lock s3store.Lock
		if lockFor != nil {
			lock = lockFor()
		}
		prefix := "wal-"
		mname := "sealed-" + filepath.Base(s.Manifest)
		if s.Kind == "base" {
			prefix = "base-" + filepath.Base(s.Dir) + "-"
			mname = prefix + "manifest.json"
		}
		for _, f := range s.Files {
			if err := putFile(ctx, st, filepath.Join(s.Dir, f.Name), prefix+f.Name, enc, lock); err != nil {
				return err
			}
		}
		for _, p := range []struct{ src, name string }{{s.Manifest, mname}, {s.Manifest + ".sig", mname + ".sig"}} {
			b, err := readLimited(p.src, maxManifest)
			if err != nil {
				return err
			}
			if _, err := st.PutSmall(ctx, p.name, b, s3store.PutOptions{Lock: lock, ContentType: "application/json"}); err != nil {
				return err
			}
		}
		return nil
	}
}

// LockFor returns RemoteShipper's lock function for mode (s3store.ParseMode's
// GOVERNANCE or COMPLIANCE) and the shortest retention class min: each set
// is locked until its upload time + min, rounded up to the second. An empty
// mode or a zero min locks nothing (nil).
func LockFor(mode string, min time.Duration, now func() time.Time) func() s3store.Lock {
	if mode == "" || min <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return func() s3store.Lock {
		return s3store.Lock{Mode: mode, Until: now().Add(min).UTC().Truncate(time.Second).Add(time.Second)}
	}
}

// putFile streams one file into the object name (+".age" when encrypted).
func putFile(ctx context.Context, st *s3store.Store, path, name string, enc Encrypter, lock s3store.Lock) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if enc == nil {
		_, err = st.Put(ctx, name, f, s3store.PutOptions{Lock: lock})
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		w, err := enc(pw)
		if err == nil {
			_, err = io.Copy(w, f)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
	}()
	_, err = st.Put(ctx, name+".age", pr, s3store.PutOptions{Lock: lock})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("upload %s: %w", strings.TrimPrefix(name, "wal-"), err)
	}
	return nil
}
