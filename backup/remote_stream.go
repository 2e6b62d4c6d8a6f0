package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"

	"casino"
	"casino/s3store"
	"casino/sqlstore"
)

// CreateRemoteOnly takes a backup like Create and streams it straight into
// the bucket (backup create --remote-only): the dump is compressed,
// encrypted, hashed and uploaded in multipart parts as it is produced, so
// no copy of the backup is staged on local disk; memory holds at most the
// store's PartSize × Threads. The manifest is filled in when the stream
// ends, then signed and uploaded last, as for Push. A SQLite snapshot is
// still a copy of the database file (the online backup API needs a
// destination) in o.Dir, removed at once; a PostgreSQL one writes nothing
// locally.
func CreateRemoteOnly(ctx context.Context, o CreateOptions, st *s3store.Store, ro RemoteOptions) (*casino.BackupManifest, *s3store.Uploaded, error) {
	if o.Compression == "" {
		o.Compression = Gzip
	}
	if o.Compression != Gzip && o.Compression != Zstd && o.Compression != None {
		return nil, nil, errorf(casino.EINVALID, "unknown compression %q: want gzip, zstd or none", o.Compression)
	}
	if o.Kind == "" {
		o.Kind = KindManual
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if ro.Signer == nil {
		return nil, nil, errorf(casino.EINVALID, "%s", ErrNoRemoteSigner.Error())
	}
	encrypt := o.Keys.Encrypts()
	if !encrypt && !ro.AllowPlaintext {
		return nil, nil, errorf(casino.EINVALID, "%s", ErrPlaintextRemote.Error())
	}
	if !o.NoLock {
		lock, err := AcquireLock(ctx, o.Target)
		if err != nil {
			return nil, nil, err
		}
		defer lock.Release()
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create backup folder: %w", err)
	}
	start := o.Now()
	engine := engineOf(o.Target.Dialect)
	prefix, ext := o.nameParts(engine, encrypt)
	name := candidateName(prefix, start, 0, ext)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type produced struct {
		m   *casino.BackupManifest
		err error
	}
	result := make(chan produced, 1)
	go func() {
		m, err := produceBackup(ctx, o, engine, "backup "+engine+" to the remote", encrypt, start, pw)
		if err == nil {
			m.File = name
		}
		pw.CloseWithError(err) // nil: EOF for the uploader
		result <- produced{m, err}
	}()
	var got *produced
	wait := func() produced {
		if got == nil {
			r := <-result
			got = &r
		}
		return *got
	}
	done := func() (*casino.BackupManifest, error) {
		r := wait()
		return r.m, r.err
	}
	var lock s3store.Lock
	if ro.LockMode != "" && ro.LockMin > 0 {
		lock = s3store.Lock{Mode: ro.LockMode, Until: ro.now().Add(ro.LockMin).UTC().Truncate(time.Second).Add(time.Second)}
	}
	up, err := st.UploadBackupStream(ctx, name, pr, done, SignRemote(*ro.Signer), s3store.UploadOptions{Lock: lock, Pause: ro.Pause})
	if err != nil {
		// Stop the producer (pg_dump) when the upload failed first, and
		// wait for it; its own error says more when it failed first.
		pr.CloseWithError(err)
		cancel()
		if r := wait(); r.err != nil && !errors.Is(r.err, err) {
			return nil, nil, diskIfFull(o.Dir, r.err)
		}
		return nil, nil, err
	}
	return wait().m, up, nil
}

// produceBackup writes the backup stream into w and returns its manifest,
// unsigned and without File. The pipeline: data -> count (uncompressed) ->
// compress -> hash and count (the compressed stream) -> [age -> hash and
// count (ciphertext)] -> w. label names the work in the progress output.
func produceBackup(ctx context.Context, o CreateOptions, engine, label string, encrypt bool, start time.Time, w io.Writer) (*casino.BackupManifest, error) {
	fileHC := newHashCounter()
	fw := &countingWriter{w: io.MultiWriter(w, fileHC), p: o.Progress}
	var encW io.WriteCloser
	var compDst io.Writer = fw
	var err error
	if encrypt {
		if encW, err = age.Encrypt(fw, o.Keys.enc.recipients...); err != nil {
			return nil, fmt.Errorf("age: %w", err)
		}
		compDst = encW
	}
	compHC := newHashCounter()
	zw, err := compressor(io.MultiWriter(compDst, compHC), o.Compression, o.Level)
	if err != nil {
		return nil, err
	}
	uw := &countingWriter{w: zw}
	m := newManifest(o, engine)
	o.Progress.Start(label, 0)
	if o.Target.Dialect == sqlstore.Postgres {
		err = createPostgres(ctx, o, m, uw)
	} else {
		err = createSQLite(ctx, o, m, uw)
	}
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if encW != nil {
		if err := encW.Close(); err != nil {
			return nil, fmt.Errorf("age: %w", err)
		}
	}
	o.Progress.Done()
	m.SizeBytes = compHC.n
	m.SHA256 = compHC.sum()
	m.UncompressedBytes = uw.n
	if encrypt {
		m.Encryption = &casino.BackupEncryption{Scheme: "age", Recipients: o.Keys.enc.names, CiphertextBytes: fileHC.n, CiphertextSHA256: fileHC.sum()}
	}
	m.CreatedAt = o.Now().UTC()
	m.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return m, nil
}

// newManifest is a backup's manifest before its data is written.
func newManifest(o CreateOptions, engine string) *casino.BackupManifest {
	return &casino.BackupManifest{
		FormatVersion: FormatVersion,
		Engine:        engine,
		AppVersion:    casino.Build().Version,
		AppCommit:     casino.Build().Commit,
		Compression:   o.Compression,
		Source:        o.Target.Identity(),
		Kind:          o.Kind,
	}
}
