// Package s3store keeps casino's backups in S3-compatible object storage
// (AWS S3, MinIO, versitygw, Ceph RGW ...) through minio-go: the off-host,
// immutable copy that survives the loss of the host.
//
// A backup in the bucket is three objects under the remote's prefix: the
// data object (the same bytes as the local backup file), the detached
// signature of the manifest, and the manifest. They are written in that
// order and the manifest is the commit point: a data object without a
// manifest is not a backup, only an orphan that List reports and Prune
// deletes once its lock allows. The manifest records the version id of the
// data object, so readers fetch exactly the version that was signed; a data
// object replaced later is simply not read. This needs a versioned bucket
// (Object Lock turns versioning on); a bucket without versioning is refused.
//
// Retention is read from each object version itself (GetObjectRetention),
// never from the manifest, and is only ever extended.
package s3store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"casino/redact"
)

// Scheme is the URL scheme of a remote: s3://bucket/prefix.
const Scheme = "s3://"

// DefaultPartSize is the multipart part size. minio-go, given a stream of
// unknown length and no part size, buffers parts of about 537 MiB in memory
// (5 TiB / 10000 parts); 16 MiB parts keep memory at PartSize × Threads and
// still allow 156 GiB objects.
const DefaultPartSize = 16 << 20

// DefaultThreads is how many parts upload at once.
const DefaultThreads = 4

// minPartSize is S3's smallest part but the last.
const minPartSize = 5 << 20

// Errors a caller can match with errors.Is.
var (
	// ErrLocked: the server refused to delete or shorten an object version
	// because Object Lock protects it.
	ErrLocked = errors.New("object is protected by Object Lock")
	// ErrNotFound: no such object or version.
	ErrNotFound = errors.New("no such object")
	// ErrNoVersioning: the bucket returned no version id, so a manifest
	// could not pin the data it describes.
	ErrNoVersioning = errors.New("the bucket has no versioning")
)

// Config says where the remote is and how to reach it. ConfigFromEnv fills
// it from casino's settings.
type Config struct {
	// Bucket and Prefix come from CASINO_BACKUP_REMOTE=s3://bucket/prefix.
	Bucket string
	Prefix string
	// Endpoint is CASINO_S3_ENDPOINT: https://host[:port] (a bare host
	// means https); empty means AWS (s3.amazonaws.com).
	Endpoint string
	// Region is CASINO_S3_REGION; empty lets the client ask the bucket.
	Region string
	// AccessKey, SecretKey and SessionToken are AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
	AccessKey    string
	SecretKey    string
	SessionToken string
	// CAFile is CASINO_S3_CA_FILE: PEM certificates trusted in addition to
	// the system's, for a private CA.
	CAFile string
	// Insecure is CASINO_S3_INSECURE=1: plain http and unverified TLS,
	// accepted only for a loopback endpoint (tests).
	Insecure bool
	// Addressing is CASINO_S3_ADDRESSING: "auto" (default; virtual-host for
	// AWS and the like, path-style elsewhere), "path" or "virtual".
	Addressing string
	// PartSize is the multipart part size (DefaultPartSize when 0).
	PartSize uint64
	// Threads is how many parts upload at once (DefaultThreads when 0).
	Threads int
}

// URL is the remote as s3://bucket/prefix.
func (c Config) URL() string {
	if c.Prefix == "" {
		return Scheme + c.Bucket
	}
	return Scheme + c.Bucket + "/" + c.Prefix
}

// Secrets are the values that must never be printed.
func (c Config) Secrets() []string {
	return []string{c.SecretKey, c.SessionToken}
}

// Redacted returns the settings for --print-config, secrets masked.
func (c Config) Redacted() map[string]any {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return redact.Mask
	}
	return map[string]any{
		"backup_remote":         c.URL(),
		"s3_endpoint":           c.Endpoint,
		"s3_region":             c.Region,
		"s3_addressing":         c.Addressing,
		"s3_ca_file":            c.CAFile,
		"s3_insecure":           c.Insecure,
		"aws_access_key_id":     c.AccessKey,
		"aws_secret_access_key": mask(c.SecretKey),
		"aws_session_token":     mask(c.SessionToken),
	}
}

// IsRemote reports whether s names a remote (s3://...).
func IsRemote(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseURL splits s3://bucket/prefix. The prefix is optional; it must not
// hold empty, "." or ".." segments.
func ParseURL(s string) (bucket, prefix string, err error) {
	if !IsRemote(s) {
		return "", "", fmt.Errorf("remote %q: want s3://bucket/prefix", s)
	}
	rest := strings.TrimPrefix(s, Scheme)
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return "", "", fmt.Errorf("remote %q: bucket %q: %v", s, bucket, err)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		for _, seg := range strings.Split(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
				return "", "", fmt.Errorf("remote %q: prefix %q has an empty, '.', '..' or invalid segment", s, prefix)
			}
		}
	}
	return bucket, prefix, nil
}

// ConfigFromEnv reads the remote remote (s3://bucket/prefix; "" means
// CASINO_BACKUP_REMOTE) and the S3 settings from getenv.
func ConfigFromEnv(remote string, getenv func(string) string) (Config, error) {
	if remote == "" {
		remote = getenv("CASINO_BACKUP_REMOTE")
	}
	if remote == "" {
		return Config{}, errors.New("no remote: set CASINO_BACKUP_REMOTE=s3://bucket/prefix or give an s3:// URL")
	}
	var c Config
	var err error
	if c.Bucket, c.Prefix, err = ParseURL(remote); err != nil {
		return Config{}, err
	}
	c.Endpoint = strings.TrimSpace(getenv("CASINO_S3_ENDPOINT"))
	c.Region = strings.TrimSpace(getenv("CASINO_S3_REGION"))
	c.AccessKey = getenv("AWS_ACCESS_KEY_ID")
	c.SecretKey = getenv("AWS_SECRET_ACCESS_KEY")
	c.SessionToken = getenv("AWS_SESSION_TOKEN")
	c.CAFile = getenv("CASINO_S3_CA_FILE")
	c.Addressing = getenv("CASINO_S3_ADDRESSING")
	switch v := getenv("CASINO_S3_INSECURE"); v {
	case "", "0", "false":
	case "1", "true":
		c.Insecure = true
	default:
		return Config{}, fmt.Errorf("CASINO_S3_INSECURE=%q: want 1 or unset", v)
	}
	if v := getenv("CASINO_S3_PART_SIZE_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 5120 {
			return Config{}, fmt.Errorf("CASINO_S3_PART_SIZE_MB=%q: want 5..5120", v)
		}
		c.PartSize = uint64(n) << 20
	}
	if _, _, err := c.endpoint(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// endpoint returns the host[:port] and whether to use TLS, refusing plain
// http and CASINO_S3_INSECURE anywhere but on loopback.
func (c Config) endpoint() (host string, secure bool, err error) {
	e := c.Endpoint
	if e == "" {
		if c.Insecure {
			return "", false, errors.New("CASINO_S3_INSECURE=1 is for a loopback CASINO_S3_ENDPOINT only")
		}
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		shown := c.Endpoint
		if err == nil && u.User != nil {
			u.User = url.User(redact.Mask)
			shown = u.String()
		} else if err != nil {
			shown = redact.String(c.Endpoint)
		}
		return "", false, fmt.Errorf("CASINO_S3_ENDPOINT=%q: want https://host[:port], nothing else (credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", shown)
	}
	loop := isLoopback(u.Hostname())
	if c.Insecure && !loop {
		return "", false, fmt.Errorf("CASINO_S3_INSECURE=1 is refused for %s: it is for a loopback endpoint (tests) only", u.Host)
	}
	switch u.Scheme {
	case "https":
		return u.Host, true, nil
	case "http":
		if !c.Insecure {
			return "", false, fmt.Errorf("CASINO_S3_ENDPOINT=%q is plain http: the credentials and backups would cross the network in the clear; use https (CASINO_S3_INSECURE=1 allows http on loopback only)", c.Endpoint)
		}
		return u.Host, false, nil
	}
	return "", false, fmt.Errorf("CASINO_S3_ENDPOINT=%q: scheme must be https", c.Endpoint)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Store is one remote: a bucket and a prefix.
type Store struct {
	c       *minio.Client
	cfg     Config
	bucket  string
	prefix  string
	part    uint64
	threads uint
}

// Open checks the configuration and returns a client for it. It does not
// touch the network.
func Open(cfg Config) (*Store, error) {
	host, secure, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)")
	}
	lookup := minio.BucketLookupAuto
	switch cfg.Addressing {
	case "", "auto":
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual":
		lookup = minio.BucketLookupDNS
	default:
		return nil, fmt.Errorf("CASINO_S3_ADDRESSING=%q: want auto, path or virtual", cfg.Addressing)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Only what is configured here is trusted: the system roots, plus
	// CASINO_S3_CA_FILE. AWS_CA_BUNDLE (aws-cli's setting) is not read.
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CASINO_S3_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CASINO_S3_CA_FILE %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.Insecure {
		tc.InsecureSkipVerify = true // loopback only, checked by endpoint()
	}
	tr.TLSClientConfig = tc
	c, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   3,
		// Checksum headers announced at CreateMultipartUpload, as servers
		// that check the checksum mode of an upload require.
		TrailingHeaders: true,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 client for %s: %w", host, err)
	}
	s := &Store{c: c, cfg: cfg, bucket: cfg.Bucket, prefix: cfg.Prefix, part: cfg.PartSize, threads: uint(cfg.Threads)}
	if s.part == 0 {
		s.part = DefaultPartSize
	}
	if s.part < minPartSize {
		s.part = minPartSize
	}
	if s.threads == 0 {
		s.threads = DefaultThreads
	}
	return s, nil
}

// URL is the remote as s3://bucket/prefix.
func (s *Store) URL() string { return s.cfg.URL() }

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Key is the object key of name under the prefix.
func (s *Store) Key(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

// validName refuses names that would leave the prefix or nest under it.
func validName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return fmt.Errorf("invalid object name %q", name)
	}
	return nil
}

// Lock is an Object Lock retention: a mode and a retain-until date.
type Lock struct {
	// Mode is "GOVERNANCE" or "COMPLIANCE"; "" means no lock.
	Mode  string    `json:"mode,omitempty"`
	Until time.Time `json:"retain_until,omitzero"`
}

// IsSet reports whether the lock holds a mode and a date.
func (l Lock) IsSet() bool { return l.Mode != "" && !l.Until.IsZero() }

// Holds reports whether the lock still protects the object at t.
func (l Lock) Holds(t time.Time) bool { return l.IsSet() && t.Before(l.Until) }

// ParseMode maps --lock-mode compliance|governance to the S3 mode.
func ParseMode(s string) (string, error) {
	switch strings.ToLower(s) {
	case "compliance":
		return string(minio.Compliance), nil
	case "governance":
		return string(minio.Governance), nil
	}
	return "", fmt.Errorf("lock mode %q: want compliance or governance", s)
}

// Object is one object version in the remote.
type Object struct {
	Name         string    `json:"name"`
	VersionID    string    `json:"version_id"`
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
	ETag         string    `json:"etag,omitempty"`
}

// PutOptions configure one upload.
type PutOptions struct {
	// Lock, when set, is the retention the object gets at upload.
	Lock Lock
	// ContentType of the object; application/octet-stream when empty.
	ContentType string
}

// Put streams r into the object name: multipart with PartSize parts (at
// most Threads in memory), each part with a CRC32C checksum (the integrity
// header Object Lock uploads require), and the lock as the object's
// retention. A failed upload is aborted. It returns the new version.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, o PutOptions) (Object, error) {
	if err := validName(name); err != nil {
		return Object{}, err
	}
	po := minio.PutObjectOptions{
		PartSize:              s.part,
		NumThreads:            s.threads,
		ConcurrentStreamParts: s.threads > 1,
		AutoChecksum:          minio.ChecksumCRC32C,
		ContentType:           o.ContentType,
	}
	if po.ContentType == "" {
		po.ContentType = "application/octet-stream"
	}
	if o.Lock.IsSet() {
		po.Mode = minio.RetentionMode(o.Lock.Mode)
		po.RetainUntilDate = o.Lock.Until.UTC()
	}
	info, err := s.c.PutObject(ctx, s.bucket, s.Key(name), r, -1, po)
	if err != nil {
		return Object{}, s.wrap("upload "+name, err)
	}
	return Object{Name: name, VersionID: info.VersionID, Size: info.Size, LastModified: info.LastModified, ETag: info.ETag}, nil
}

// PutSmall uploads a small object in one request, with its checksum and the
// lock.
func (s *Store) PutSmall(ctx context.Context, name string, b []byte, o PutOptions) (Object, error) {
	if err := validName(name); err != nil {
		return Object{}, err
	}
	po := minio.PutObjectOptions{
		DisableMultipart: true,
		AutoChecksum:     minio.ChecksumCRC32C,
		SendContentMd5:   true,
		ContentType:      o.ContentType,
	}
	if o.Lock.IsSet() {
		po.Mode = minio.RetentionMode(o.Lock.Mode)
		po.RetainUntilDate = o.Lock.Until.UTC()
	}
	info, err := s.c.PutObject(ctx, s.bucket, s.Key(name), strings.NewReader(string(b)), int64(len(b)), po)
	if err != nil {
		return Object{}, s.wrap("upload "+name, err)
	}
	return Object{Name: name, VersionID: info.VersionID, Size: info.Size, LastModified: info.LastModified, ETag: info.ETag}, nil
}

// Get opens one version of name ("" for the current one). The caller
// closes the reader.
func (s *Store) Get(ctx context.Context, name, versionID string) (io.ReadCloser, Object, error) {
	if err := validName(name); err != nil {
		return nil, Object{}, err
	}
	o, err := s.c.GetObject(ctx, s.bucket, s.Key(name), minio.GetObjectOptions{VersionID: versionID})
	if err != nil {
		return nil, Object{}, s.wrap("read "+name, err)
	}
	st, err := o.Stat()
	if err != nil {
		o.Close()
		return nil, Object{}, s.wrap("read "+name, err)
	}
	if versionID != "" && st.VersionID != versionID {
		o.Close()
		return nil, Object{}, fmt.Errorf("read %s: asked for version %s, the server sent %s", name, versionID, st.VersionID)
	}
	return o, Object{Name: name, VersionID: st.VersionID, Size: st.Size, LastModified: st.LastModified, ETag: st.ETag}, nil
}

// ReadSmall reads a whole object version of at most max bytes.
func (s *Store) ReadSmall(ctx context.Context, name, versionID string, max int64) ([]byte, Object, error) {
	r, o, err := s.Get(ctx, name, versionID)
	if err != nil {
		return nil, Object{}, err
	}
	defer r.Close()
	if o.Size > max {
		return nil, o, fmt.Errorf("%s is %d bytes, more than the %d allowed", name, o.Size, max)
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, o, s.wrap("read "+name, err)
	}
	if int64(len(b)) > max {
		return nil, o, fmt.Errorf("%s is more than the %d bytes allowed", name, max)
	}
	return b, o, nil
}

// Stat returns one version of name ("" for the current one).
func (s *Store) Stat(ctx context.Context, name, versionID string) (Object, error) {
	if err := validName(name); err != nil {
		return Object{}, err
	}
	st, err := s.c.StatObject(ctx, s.bucket, s.Key(name), minio.StatObjectOptions{VersionID: versionID})
	if err != nil {
		return Object{}, s.wrap("stat "+name, err)
	}
	return Object{Name: name, VersionID: st.VersionID, Size: st.Size, LastModified: st.LastModified, ETag: st.ETag}, nil
}

// List returns the current version of every object directly under the
// prefix (names without the prefix); nested keys are ignored.
func (s *Store) List(ctx context.Context) ([]Object, error) {
	return s.list(ctx, false)
}

// Versions returns every version of every object directly under the
// prefix, delete markers excluded.
func (s *Store) Versions(ctx context.Context) ([]Object, error) {
	return s.list(ctx, true)
}

func (s *Store) list(ctx context.Context, versions bool) ([]Object, error) {
	p := ""
	if s.prefix != "" {
		p = s.prefix + "/"
	}
	var out []Object
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: p, WithVersions: versions}) {
		if o.Err != nil {
			return nil, s.wrap("list "+s.URL(), o.Err)
		}
		name := strings.TrimPrefix(o.Key, p)
		if name == "" || strings.Contains(name, "/") || o.IsDeleteMarker {
			continue
		}
		out = append(out, Object{Name: name, VersionID: o.VersionID, Size: o.Size, LastModified: o.LastModified, ETag: o.ETag})
	}
	return out, nil
}

// Retention reads the Object Lock retention of one version from the object
// itself (the x-amz-object-lock-* headers of a HEAD, which every S3 server
// sends and which needs no more than read access); a zero Lock when it has
// none.
func (s *Store) Retention(ctx context.Context, name, versionID string) (Lock, error) {
	_, l, err := s.StatLock(ctx, name, versionID)
	return l, err
}

// StatLock is Stat and Retention in one HEAD request.
func (s *Store) StatLock(ctx context.Context, name, versionID string) (Object, Lock, error) {
	if err := validName(name); err != nil {
		return Object{}, Lock{}, err
	}
	st, err := s.c.StatObject(ctx, s.bucket, s.Key(name), minio.StatObjectOptions{VersionID: versionID})
	if err != nil {
		return Object{}, Lock{}, s.wrap("stat "+name, err)
	}
	o := Object{Name: name, VersionID: st.VersionID, Size: st.Size, LastModified: st.LastModified, ETag: st.ETag}
	l := Lock{Mode: strings.ToUpper(st.Metadata.Get("X-Amz-Object-Lock-Mode"))}
	if v := st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return o, Lock{}, fmt.Errorf("read the retention of %s: retain-until %q: %v", name, v, err)
		}
		l.Until = t.UTC()
	}
	return o, l, nil
}

// ExtendRetention sets the version's retain-until to until when that is
// later than what it has; it never shortens a lock. A version with no lock
// gets mode. It returns the lock now in force.
func (s *Store) ExtendRetention(ctx context.Context, name, versionID, mode string, until time.Time) (Lock, error) {
	cur, err := s.Retention(ctx, name, versionID)
	if err != nil {
		return Lock{}, err
	}
	if cur.IsSet() && !until.After(cur.Until) {
		return cur, nil
	}
	if cur.Mode != "" {
		mode = cur.Mode
	}
	m := minio.RetentionMode(mode)
	u := until.UTC()
	if err := s.c.PutObjectRetention(ctx, s.bucket, s.Key(name), minio.PutObjectRetentionOptions{Mode: &m, RetainUntilDate: &u, VersionID: versionID}); err != nil {
		return cur, s.wrap("extend the retention of "+name, err)
	}
	return Lock{Mode: mode, Until: u}, nil
}

// Delete permanently deletes one version of name. A version under Object
// Lock is refused by the server: ErrLocked, with the server's words.
func (s *Store) Delete(ctx context.Context, name, versionID string) error {
	if err := validName(name); err != nil {
		return err
	}
	if versionID == "" {
		return fmt.Errorf("delete %s: no version id (a delete without one only hides the object)", name)
	}
	err := s.c.RemoveObject(ctx, s.bucket, s.Key(name), minio.RemoveObjectOptions{VersionID: versionID})
	return s.wrap("delete "+name+" version "+versionID, err)
}

// Upload is an unfinished multipart upload.
type Upload struct {
	Name      string    `json:"name"`
	UploadID  string    `json:"upload_id"`
	Initiated time.Time `json:"initiated"`
}

// Incomplete lists unfinished multipart uploads directly under the prefix:
// what an upload killed mid-way leaves behind.
func (s *Store) Incomplete(ctx context.Context) ([]Upload, error) {
	p := ""
	if s.prefix != "" {
		p = s.prefix + "/"
	}
	var out []Upload
	for u := range s.c.ListIncompleteUploads(ctx, s.bucket, p, false) {
		if u.Err != nil {
			return nil, s.wrap("list unfinished uploads", u.Err)
		}
		name := strings.TrimPrefix(u.Key, p)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		out = append(out, Upload{Name: name, UploadID: u.UploadID, Initiated: u.Initiated})
	}
	return out, nil
}

// Abort aborts one unfinished multipart upload and frees its parts.
func (s *Store) Abort(ctx context.Context, u Upload) error {
	core := minio.Core{Client: s.c}
	return s.wrap("abort the unfinished upload of "+u.Name, core.AbortMultipartUpload(ctx, s.bucket, s.Key(u.Name), u.UploadID))
}

// wrap turns a minio error into one that says what failed, matching
// ErrLocked and ErrNotFound where they apply. nil stays nil.
func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		msg := er.Message
		if msg == "" {
			msg = er.Code
		}
		switch {
		case er.Code == "NoSuchKey" || er.Code == "NoSuchVersion" || er.StatusCode == http.StatusNotFound && er.Code != "NoSuchBucket":
			return fmt.Errorf("%s in %s: %w (%s)", what, s.URL(), ErrNotFound, msg)
		case lockedRefusal(er):
			return fmt.Errorf("%s in %s: %w: the server refused: %s (%s)", what, s.URL(), ErrLocked, msg, er.Code)
		}
		return fmt.Errorf("%s in %s: %s (%s)", what, s.URL(), msg, er.Code)
	}
	return fmt.Errorf("%s in %s: %w", what, s.URL(), err)
}

// lockedRefusal reports whether the server refused because of Object Lock.
func lockedRefusal(er minio.ErrorResponse) bool {
	m := strings.ToLower(er.Message)
	return er.StatusCode == http.StatusForbidden && (strings.Contains(m, "lock") || strings.Contains(m, "retention") || strings.Contains(m, "protected")) ||
		er.Code == "ObjectLocked" || er.Code == "InvalidRetentionPeriod" && strings.Contains(m, "shorten")
}
