package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casino"
	"casino/s3store"
)

// Source is a backup read from outside the backup folder, without a local
// copy: casino restore s3://bucket/prefix/NAME streams it from the bucket
// through the same checks as a file (VerifyOptions.Source,
// RestoreOptions.Source).
type Source struct {
	// Name is the backup's file name; Location names it in messages and
	// in the restore's facts (s3://bucket/prefix/NAME).
	Name     string
	Location string
	// Manifest and Signature are the stored manifest bytes and their
	// detached signature, checked like the files beside a local backup.
	Manifest  []byte
	Signature []byte
	// Size is the stored size; Written when the data was stored (a
	// manifest's snapshot_at may not be later).
	Size    int64
	Written time.Time
	// Open streams the stored bytes. Each stream is checked here against
	// the size and sha256 the signed manifest gives for the stored bytes,
	// whatever the opener checks itself: storage that serves other bytes
	// the second time is caught too.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// RemoteSource reads the trusted remote backup b from st: exactly the data
// version its signed manifest pins, its sha256 and size checked as it
// streams (s3store.Store.OpenData).
func RemoteSource(st *s3store.Store, b *s3store.Backup) (*Source, error) {
	if !b.Trusted() {
		return nil, errorf(casino.EINVALID, "refusing %s: %s", b.Name, b.Problem)
	}
	if !IsBackupName(b.Name) {
		return nil, errorf(casino.EINVALID, "refusing %q: not a casino backup file name", b.Name)
	}
	return &Source{
		Name:      b.Name,
		Location:  st.URL() + "/" + b.Name,
		Manifest:  b.ManifestBytes(),
		Signature: b.Signature(),
		Size:      s3store.StoredOf(b.Manifest).Size,
		Written:   b.Data.LastModified,
		Open:      func(ctx context.Context) (io.ReadCloser, error) { return st.OpenData(ctx, b) },
	}, nil
}

// SourceOptions say where the argument of casino restore may name a
// backup.
type SourceOptions struct {
	// Dir is the backup folder: a FILE must lie inside it, and latest is
	// the newest trusted backup there.
	Dir string
	// Keys decide which manifests are trusted for latest (nil: any
	// complete manifest).
	Keys *Keys
	// Remote says the argument names a backup in the bucket (--remote);
	// an s3://bucket/prefix/NAME argument always does.
	Remote bool
	// FindRemote finds the trusted backup the argument names in the
	// bucket, latest included; the caller wires the bucket's settings.
	FindRemote func(ctx context.Context, arg string) (*s3store.Store, *s3store.Backup, error)
}

// SelectSource resolves what a restore's argument names, in this order:
// a backup in the bucket, streamed with no local copy (src, path ""); the
// newest trusted backup in Dir for latest; a FILE, looked up in Dir when
// it is a bare name and refused when it lies outside Dir (ResolvePath).
// An empty arg (restore --to-time) names no file: path and src are empty.
func SelectSource(ctx context.Context, arg string, o SourceOptions) (path string, src *Source, err error) {
	if o.Remote || s3store.IsRemote(arg) {
		st, b, err := o.FindRemote(ctx, arg)
		if err != nil {
			return "", nil, err
		}
		src, err := RemoteSource(st, b)
		return "", src, err
	}
	if arg = LatestPath(o.Dir, o.Keys, arg); arg == "" {
		return "", nil, nil
	}
	path, err = ResolvePath(o.Dir, arg)
	return path, nil, err
}

// LatestPath returns the path of the newest trusted backup in dir (Newest)
// when arg is "latest", and arg itself otherwise. With no trusted backup
// it returns "latest", which then names no file.
func LatestPath(dir string, k *Keys, arg string) string {
	if arg == "latest" {
		if e := Newest(dir, k); e != nil {
			return e.Path
		}
	}
	return arg
}

// LookupPath returns where backup verify and adopt find FILE: a bare name
// that is not a file in the working folder is looked up in the backup
// folder dir. Unlike ResolvePath it refuses no path: they read, they do
// not restore.
func LookupPath(dir, file string) string {
	if !strings.ContainsRune(file, filepath.Separator) {
		if _, err := os.Stat(file); err != nil {
			return filepath.Join(dir, file)
		}
	}
	return file
}

// ResolvePath returns FILE's path, refusing one that escapes the backup
// folder dir (after symlinks): a bare name is looked up inside it.
func ResolvePath(dir, file string) (string, error) {
	if !strings.ContainsRune(file, filepath.Separator) {
		file = filepath.Join(dir, file)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	if d, err := filepath.EvalSymlinks(absDir); err == nil {
		absDir = d
	}
	if f, err := filepath.EvalSymlinks(absFile); err == nil {
		absFile = f
	} else if d, err := filepath.EvalSymlinks(filepath.Dir(absFile)); err == nil {
		absFile = filepath.Join(d, filepath.Base(absFile))
	}
	rel, err := filepath.Rel(absDir, absFile)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("refusing %s: it lies outside the backup folder %s (set --dir or CASINO_BACKUP_DIR to the folder that holds it)", file, absDir)
	}
	return file, nil
}

// sha256 streams the source once through sha256.
func (s *Source) sha256(ctx context.Context) (string, int64, error) {
	r, err := s.Open(ctx)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", n, fmt.Errorf("read %s: %w", s.Location, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// open opens the stored bytes, checked against want (the signed size and
// sha256 of the stored file): more bytes than want is an error at once, and
// a stream that ends different returns ErrStoredDigest in place of io.EOF.
func (s *Source) open(ctx context.Context, want s3store.Stored) (io.ReadCloser, error) {
	r, err := s.Open(ctx)
	if err != nil {
		return nil, err
	}
	return s3store.CheckDigest(r, want, s.Location), nil
}

// ErrStoredDigest: a streamed backup's stored bytes differ from what its
// signed manifest says (s3store.ErrDigest, which the check returns). Verify
// and Restore return it wrapped in their casino.Error (EINVALID): errors.Is
// matches it.
var ErrStoredDigest = s3store.ErrDigest
