package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"casino"
	"casino/keys"
)

// Limits on what is read from the bucket before it is trusted.
const (
	maxManifest  = 1 << 20
	maxSignature = 1024
)

const (
	manifestSuffix  = ".manifest.json"
	signatureSuffix = ".manifest.json.sig"
)

// ManifestName is the manifest object's name for the data object name.
func ManifestName(data string) string { return filepath.Base(casino.ManifestPath(data)) }

// SignatureName is the detached signature object's name for the data
// object name.
func SignatureName(data string) string { return ManifestName(data) + ".sig" }

// minioRemoveCurrent removes the current object of an unversioned bucket.
var minioRemoveCurrent = minio.RemoveObjectOptions{}

// Verifier checks a manifest's detached signature over its exact bytes and
// returns the fingerprint of the key that verified it.
type Verifier func(manifest, sig []byte, m *casino.BackupManifest) (fingerprint string, err error)

// KeyVerifier verifies with any of pubs, by the fingerprint the manifest
// names (package keys).
func KeyVerifier(pubs []keys.Public) Verifier {
	return func(mb, sig []byte, m *casino.BackupManifest) (string, error) {
		fp := ""
		if m != nil {
			fp = m.KeyFingerprint
		}
		if fp == "" {
			return "", errors.New("the manifest names no signing key")
		}
		if len(pubs) == 0 {
			return "", fmt.Errorf("no verify key is configured (the manifest is signed by %s): set CASINO_BACKUP_VERIFY_KEY or pass --verify-key", fp)
		}
		p, err := keys.VerifyAny(pubs, fp, mb, sig)
		switch {
		case errors.Is(err, keys.ErrUnknownKey):
			return "", fmt.Errorf("signed by key %s, which is not among the verify keys", fp)
		case err != nil:
			return "", fmt.Errorf("the signature does not verify with key %s: the manifest or its signature was changed after signing", fp)
		}
		return p.Fingerprint(), nil
	}
}

// Stored is what the data object must hold: the bytes of the backup file as
// stored (the age ciphertext for an encrypted backup).
type Stored struct {
	Size   int64
	SHA256 string
}

// StoredOf returns what the manifest says the stored file holds.
func StoredOf(m *casino.BackupManifest) Stored {
	if m.Encryption != nil {
		return Stored{Size: m.Encryption.CiphertextBytes, SHA256: m.Encryption.CiphertextSHA256}
	}
	return Stored{Size: m.SizeBytes, SHA256: m.SHA256}
}

// Sign returns the exact manifest bytes to store and their detached
// signature, for a manifest that now names its data version.
type Sign func(m *casino.BackupManifest) (manifest, sig []byte, err error)

// UploadOptions configure UploadBackup.
type UploadOptions struct {
	// Lock is the retention every object gets at upload.
	Lock Lock
	// Pause, when set, is called at "uploading" (the multipart upload of
	// the data is started, nothing read yet) and "data_uploaded" (the data
	// object is complete, no manifest yet); tests kill the process there.
	Pause func(point string)
}

// Uploaded is a backup committed to the bucket.
type Uploaded struct {
	Name     string
	Data     Object
	Manifest Object
	Lock     Lock
	Bytes    int64
	Duration time.Duration
}

// UploadBackup writes one backup to the bucket: the data object streamed
// from r, then the signature, then the manifest, which commits it. The data
// streamed must be what want says (size and sha256, checked on the way), or
// nothing is committed. The manifest m gets DataVersionID before sign is
// called, so the signed manifest pins the version just written. Every
// object gets o.Lock. An existing manifest of the same name is never
// replaced. Unfinished uploads of earlier, killed runs are aborted first.
func (s *Store) UploadBackup(ctx context.Context, name string, r io.Reader, want Stored, m *casino.BackupManifest, sign Sign, o UploadOptions) (*Uploaded, error) {
	return s.upload(ctx, name, r, func() (Stored, *casino.BackupManifest, error) { return want, m, nil }, sign, o)
}

// UploadBackupStream is UploadBackup for a backup that is being produced
// while it uploads (backup create --remote-only): nothing is staged on
// disk. done is called once r has been read to its end and returns the
// manifest the producer filled in; its size and sha256 must be what
// streamed. A producer that fails closes r with its error, which aborts the
// multipart upload: nothing is committed.
func (s *Store) UploadBackupStream(ctx context.Context, name string, r io.Reader, done func() (*casino.BackupManifest, error), sign Sign, o UploadOptions) (*Uploaded, error) {
	return s.upload(ctx, name, r, func() (Stored, *casino.BackupManifest, error) {
		m, err := done()
		if err != nil {
			return Stored{}, nil, err
		}
		return StoredOf(m), m, nil
	}, sign, o)
}

func (s *Store) upload(ctx context.Context, name string, r io.Reader, described func() (Stored, *casino.BackupManifest, error), sign Sign, o UploadOptions) (*Uploaded, error) {
	start := time.Now()
	lock := o.Lock
	pause := o.Pause
	if pause == nil {
		pause = func(string) {}
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	if strings.HasSuffix(name, manifestSuffix) || strings.HasSuffix(name, signatureSuffix) || ManifestName(name) == name {
		return nil, fmt.Errorf("upload %s: not a backup data file name", name)
	}
	if _, err := s.CleanIncomplete(ctx); err != nil {
		return nil, err
	}
	if _, err := s.Stat(ctx, ManifestName(name), ""); err == nil {
		return nil, fmt.Errorf("upload %s: %s already holds a backup of that name; a committed backup is never replaced", name, s.URL())
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	h := &hashCount{h: sha256.New()}
	data, err := s.Put(ctx, name, &firstRead{r: io.TeeReader(r, h), fn: func() { pause("uploading") }}, PutOptions{Lock: lock})
	if err != nil {
		return nil, err
	}
	pause("data_uploaded")
	// From here on, a failure leaves the data object as an orphan (no
	// manifest: not a backup); remove it when its lock allows.
	fail := func(err error) (*Uploaded, error) {
		if data.VersionID != "" && !lock.IsSet() {
			s.Delete(context.WithoutCancel(ctx), name, data.VersionID)
		}
		return nil, err
	}
	if data.VersionID == "" {
		s.c.RemoveObject(context.WithoutCancel(ctx), s.bucket, s.Key(name), minioRemoveCurrent)
		return nil, fmt.Errorf("upload %s: %w: %s must have versioning enabled (Object Lock enables it), so that a manifest can pin the exact data version it signs", name, ErrNoVersioning, s.URL())
	}
	want, m, err := described()
	if err != nil {
		return fail(fmt.Errorf("upload %s: %w; nothing committed", name, err))
	}
	if got := hex.EncodeToString(h.h.Sum(nil)); h.n != want.Size || got != want.SHA256 {
		return fail(fmt.Errorf("upload %s: streamed %d bytes with sha256 %s, the manifest says %d bytes with sha256 %s: the file changed under the upload; nothing committed", name, h.n, got, want.Size, want.SHA256))
	}
	if data.Size != h.n {
		return fail(fmt.Errorf("upload %s: the server stored %d bytes of %d; nothing committed", name, data.Size, h.n))
	}
	m.DataVersionID = data.VersionID
	mb, sig, err := sign(m)
	if err != nil {
		return fail(fmt.Errorf("sign the manifest of %s: %w", name, err))
	}
	if _, err := s.PutSmall(ctx, SignatureName(name), sig, PutOptions{Lock: lock, ContentType: "application/octet-stream"}); err != nil {
		return fail(err)
	}
	mo, err := s.PutSmall(ctx, ManifestName(name), mb, PutOptions{Lock: lock, ContentType: "application/json"})
	if err != nil {
		return fail(err)
	}
	return &Uploaded{Name: name, Data: data, Manifest: mo, Lock: lock, Bytes: h.n, Duration: time.Since(start)}, nil
}

// CleanIncomplete aborts every unfinished multipart upload under the prefix:
// what a run killed mid-upload left behind. One writer per prefix is
// assumed (the backup lock serialises the writers of one database).
func (s *Store) CleanIncomplete(ctx context.Context) ([]Upload, error) {
	ups, err := s.Incomplete(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range ups {
		if err := s.Abort(ctx, u); err != nil {
			return nil, err
		}
	}
	return ups, nil
}

// firstRead calls fn before the first Read.
type firstRead struct {
	r  io.Reader
	fn func()
}

func (f *firstRead) Read(p []byte) (int, error) {
	if f.fn != nil {
		f.fn()
		f.fn = nil
	}
	return f.r.Read(p)
}

type hashCount struct {
	h hash.Hash
	n int64
}

func (c *hashCount) Write(b []byte) (int, error) {
	c.h.Write(b)
	c.n += int64(len(b))
	return len(b), nil
}

// Backup is one backup in the bucket, as its manifest describes it.
type Backup struct {
	Name string `json:"name"`
	// Manifest is nil when the manifest could not be read or parsed.
	Manifest *casino.BackupManifest `json:"manifest,omitempty"`
	// KeyFingerprint is the key whose signature verified the manifest.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// Problem says why the backup cannot be trusted or read: a missing or
	// wrong signature, a manifest naming another file, a missing data
	// version. Such a backup is never "newest" and never restored.
	Problem string `json:"problem,omitempty"`
	// Data is the data version the manifest pins.
	Data Object `json:"data"`
	// Lock is the data version's retention, read from the object.
	Lock Lock `json:"lock"`
	// ManifestObject is the manifest's current version.
	ManifestObject Object `json:"manifest_object"`

	manifestBytes, sig []byte
}

// Trusted reports whether the backup can be read and restored.
func (b Backup) Trusted() bool { return b.Manifest != nil && b.Problem == "" }

// Time is the backup's snapshot_at (zero without a manifest).
func (b Backup) Time() time.Time {
	if b.Manifest == nil {
		return time.Time{}
	}
	return b.Manifest.SnapshotAt
}

// ManifestBytes and Signature are the stored manifest and its signature.
func (b Backup) ManifestBytes() []byte { return b.manifestBytes }
func (b Backup) Signature() []byte     { return b.sig }

// Orphan is a data object that no manifest names: an upload killed after
// the data and before the manifest. It is not a backup.
type Orphan struct {
	Object
	Lock Lock `json:"lock"`
}

// Listing is what the remote holds.
type Listing struct {
	// Backups, newest first; untrusted ones (Problem set) last.
	Backups []Backup `json:"backups"`
	// Orphans are data objects without a manifest.
	Orphans []Orphan `json:"orphans"`
	// Incomplete are unfinished multipart uploads.
	Incomplete []Upload `json:"incomplete"`
	// Regressions are set by CheckRollback.
	Regressions []string `json:"regressions,omitempty"`
}

// Newest returns the newest trusted backup, or nil.
func (l *Listing) Newest() *Backup {
	for i := range l.Backups {
		if l.Backups[i].Trusted() {
			return &l.Backups[i]
		}
	}
	return nil
}

// Find returns the backup named name (its data object name, or "latest"
// for the newest trusted one).
func (l *Listing) Find(name string) (*Backup, error) {
	if name == "latest" {
		if b := l.Newest(); b != nil {
			return b, nil
		}
		return nil, fmt.Errorf("no trusted backup in the remote to call latest")
	}
	for i := range l.Backups {
		b := &l.Backups[i]
		if b.Name == name || ManifestName(b.Name) == ManifestName(name) {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no backup %s in the remote (a data object without a manifest is not a backup)", name)
}

// ListBackups reads every manifest under the prefix, checks its signature
// with verify, the data version it pins, and that version's lock; data
// objects no manifest names are orphans. Nothing but manifests and
// signatures is downloaded.
func (s *Store) ListBackups(ctx context.Context, verify Verifier) (*Listing, error) {
	objs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]Object{}
	for _, o := range objs {
		byName[o.Name] = o
	}
	l := &Listing{Backups: []Backup{}, Orphans: []Orphan{}}
	named := map[string]bool{}
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, manifestSuffix) {
			continue
		}
		b := s.readBackup(ctx, o, byName, verify)
		if b.Manifest != nil {
			named[b.Manifest.File] = true
		}
		l.Backups = append(l.Backups, b)
	}
	for _, o := range objs {
		if strings.HasSuffix(o.Name, manifestSuffix) || strings.HasSuffix(o.Name, signatureSuffix) || named[o.Name] {
			continue
		}
		if _, ok := byName[ManifestName(o.Name)]; ok {
			continue // its manifest exists but could not be read: listed there
		}
		cur, lk, err := s.StatLock(ctx, o.Name, "") // a plain listing has no version ids
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the listing
		} else if err != nil {
			return nil, err
		}
		l.Orphans = append(l.Orphans, Orphan{Object: cur, Lock: lk})
	}
	if l.Incomplete, err = s.Incomplete(ctx); err != nil {
		return nil, err
	}
	sort.SliceStable(l.Backups, func(i, j int) bool {
		a, b := l.Backups[i], l.Backups[j]
		if a.Trusted() != b.Trusted() {
			return a.Trusted()
		}
		if !a.Time().Equal(b.Time()) {
			return a.Time().After(b.Time())
		}
		return a.Name > b.Name
	})
	return l, nil
}

// readBackup reads and checks one manifest object.
func (s *Store) readBackup(ctx context.Context, mo Object, byName map[string]Object, verify Verifier) Backup {
	b := Backup{Name: strings.TrimSuffix(mo.Name, manifestSuffix), ManifestObject: mo}
	mb, got, err := s.ReadSmall(ctx, mo.Name, mo.VersionID, maxManifest)
	if err != nil {
		b.Problem = "cannot read the manifest: " + err.Error()
		return b
	}
	b.manifestBytes = mb
	b.ManifestObject = got // with its version id, which a plain listing lacks
	var m casino.BackupManifest
	if err := json.NewDecoder(bytes.NewReader(mb)).Decode(&m); err != nil {
		b.Problem = "the manifest is not valid JSON: " + err.Error()
		return b
	}
	b.Manifest = &m
	if err := validName(m.File); err != nil || ManifestName(m.File) != mo.Name {
		b.Problem = fmt.Sprintf("the manifest %s describes %q, not its own data object", mo.Name, m.File)
		return b
	}
	b.Name = m.File
	sig, _, err := s.ReadSmall(ctx, SignatureName(m.File), "", maxSignature)
	switch {
	case errors.Is(err, ErrNotFound):
		b.Problem = "unsigned: no signature object " + SignatureName(m.File)
		return b
	case err != nil:
		b.Problem = "cannot read the signature: " + err.Error()
		return b
	}
	b.sig = sig
	if verify == nil {
		b.Problem = "signature not checked: no verify key"
		return b
	}
	fp, err := verify(mb, sig, &m)
	if err != nil {
		b.Problem = "refused: " + err.Error()
		return b
	}
	b.KeyFingerprint = fp
	if m.DataVersionID == "" {
		b.Problem = "the manifest pins no data version (data_version_id is empty)"
		return b
	}
	d, lk, err := s.StatLock(ctx, m.File, m.DataVersionID)
	if err != nil {
		b.Problem = "the data version the manifest pins is gone or unreadable: " + err.Error()
		return b
	}
	b.Data, b.Lock = d, lk
	if want := StoredOf(&m); d.Size != want.Size {
		b.Problem = fmt.Sprintf("the pinned data version holds %d bytes, the manifest says %d", d.Size, want.Size)
		return b
	}
	return b
}

// OpenData opens exactly the data version a trusted backup's manifest pins,
// and checks its sha256 and size while it is read: the reader returns an
// error instead of io.EOF when the bytes differ from the manifest. The
// caller closes it.
func (s *Store) OpenData(ctx context.Context, b *Backup) (io.ReadCloser, error) {
	if !b.Trusted() {
		return nil, fmt.Errorf("refusing %s: %s", b.Name, b.Problem)
	}
	r, o, err := s.Get(ctx, b.Name, b.Manifest.DataVersionID)
	if err != nil {
		return nil, err
	}
	want := StoredOf(b.Manifest)
	if o.Size != want.Size {
		r.Close()
		return nil, fmt.Errorf("refusing %s: the pinned version holds %d bytes, the manifest says %d", b.Name, o.Size, want.Size)
	}
	return CheckDigest(r, want, b.Name), nil
}

// CheckDigest checks r against want while it is read: more bytes than
// want.Size is an error at once, and a stream that ends with other bytes
// returns an error wrapping ErrDigest, naming name, in place of io.EOF.
func CheckDigest(r io.ReadCloser, want Stored, name string) io.ReadCloser {
	return &checkedReader{r: r, h: sha256.New(), want: want, name: name}
}

// ErrDigest is returned at the end of a data stream whose bytes differ from
// what the signed manifest says.
var ErrDigest = errors.New("the data differs from its signed manifest")

type checkedReader struct {
	r    io.ReadCloser
	h    hash.Hash
	n    int64
	want Stored
	name string
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.n > c.want.Size {
		return n, fmt.Errorf("%s: %w: more than %d bytes", c.name, ErrDigest, c.want.Size)
	}
	if err == io.EOF {
		if got := hex.EncodeToString(c.h.Sum(nil)); c.n != c.want.Size || got != c.want.SHA256 {
			return n, fmt.Errorf("%s: %w: %d bytes with sha256 %s, want %d bytes with sha256 %s", c.name, ErrDigest, c.n, got, c.want.Size, c.want.SHA256)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.r.Close() }
