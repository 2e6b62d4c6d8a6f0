package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"casino"
)

// Encryption. With recipients set (--encrypt-to, CASINO_BACKUP_RECIPIENTS)
// the compressed stream is encrypted with age, and the file is named
// NAME.sql.gz.age (or .sqlite.gz.age): at 03:00 `age -d -i KEY FILE | gunzip`
// gives back the plain dump. The manifest records the recipients and the
// size and sha256 of the ciphertext, so integrity is checked without the
// private key; reading the data (restore, deep verify) needs an identity
// from CASINO_BACKUP_IDENTITY.

// AgeSuffix ends the name of an encrypted backup.
const AgeSuffix = ".age"

// maxIdentityFile bounds an identity file read.
const maxIdentityFile = 64 << 10

// encKeys are a command's age keys.
type encKeys struct {
	recipients []age.Recipient
	names      []string // the recipients as given, normalized
	identities []age.Identity
}

// loadEncryption parses c's recipients and identity.
func (k *Keys) loadEncryption(c KeyConfig) error {
	seen := map[string]bool{}
	for _, r := range c.Recipients {
		for _, s := range strings.FieldsFunc(r, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
			if seen[s] {
				continue
			}
			seen[s] = true
			rs, err := age.ParseRecipients(strings.NewReader(s))
			if err != nil || len(rs) != 1 {
				return errorf(casino.EINVALID, "age recipient %q does not parse: want an age1... public key (age-keygen -y KEYFILE prints it)", s)
			}
			k.enc.recipients = append(k.enc.recipients, rs[0])
			k.enc.names = append(k.enc.names, s)
		}
	}
	v := strings.TrimSpace(c.Identity)
	if v == "" {
		return nil
	}
	b := []byte(v)
	if !strings.HasPrefix(v, "AGE-SECRET-KEY-") && !strings.HasPrefix(v, "#") {
		var err error
		if b, err = readSmall(v, maxIdentityFile); err != nil {
			return errorf(casino.EINVALID, "CASINO_BACKUP_IDENTITY: read %s: %v", v, errors.Unwrap(err))
		}
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		// age's message may quote the line; never the key.
		return errorf(casino.EINVALID, "CASINO_BACKUP_IDENTITY holds no valid age identity (want AGE-SECRET-KEY-1... lines, as age-keygen writes)")
	}
	k.enc.identities = ids
	return nil
}

// Encrypts reports whether new backups are encrypted.
func (k *Keys) Encrypts() bool { return k != nil && len(k.enc.recipients) > 0 }

// isEncryptedName reports whether a backup file name is an age file.
func isEncryptedName(name string) bool { return strings.HasSuffix(name, AgeSuffix) }

// backupStream is a reader of a backup's decompressed data that checks,
// as the bytes go by, everything the manifest signed about them: at most
// and exactly want bytes (a stream that goes on is cut there, so a gzip
// bomb never fills a disk), and when encrypted, the sha256 and size of the
// decrypted compressed stream. Any mismatch is returned by Read in place of
// io.EOF, so a consumer that loads the data fails before it commits.
type backupStream struct {
	r      io.Reader // decompressed data
	want   int64     // signed uncompressed byte count; 0 = unknown
	n      int64
	final  func() error // checks once the stream is drained
	closer func() error
	err    error
}

func (s *backupStream) Read(b []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.want > 0 && int64(len(b)) > s.want-s.n {
		b = b[:s.want-s.n]
	}
	if len(b) == 0 && s.want > 0 && s.n == s.want {
		s.err = s.finish()
		return 0, s.err
	}
	n, err := s.r.Read(b)
	s.n += int64(n)
	if err == io.EOF {
		if s.want > 0 && s.n < s.want {
			s.err = fmt.Errorf("the data ends short: %d bytes decompressed, the signed manifest says %d (truncated or altered file)", s.n, s.want)
		} else {
			s.err = s.finish()
		}
		return n, s.err
	} else if err != nil {
		s.err = err
	}
	return n, err
}

// finish runs at the signed length: nothing may follow, and the final
// checks must pass.
func (s *backupStream) finish() error {
	if s.want > 0 {
		var one [1]byte
		for {
			n, err := s.r.Read(one[:])
			if n > 0 {
				return fmt.Errorf("the data goes on past the %d bytes the signed manifest says: refused (reading stopped there)", s.want)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
	}
	if s.final != nil {
		if err := s.final(); err != nil {
			return err
		}
	}
	return io.EOF
}

func (s *backupStream) Close() error { return s.closer() }

// openStream opens the decompressed data of the backup at path. m may be nil
// (no manifest: no length or hash to check). An encrypted file needs k's
// identities.
func openStream(path string, m *casino.BackupManifest, k *Keys, p *Progress, decrypt *atomic.Int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, _ := f.Stat()
	return openStreamFrom(path, f, st.Size(), m, k, p, decrypt)
}

// openStreamFrom is openStream over the stored bytes f (size bytes) of the
// backup named by path. Once the decompressed data ends, f is read to its
// end, so a reader that checks the stored bytes at EOF (a remote object's
// sha256) has its say before the stream reports success. The nanoseconds
// age spends decrypting are added to decrypt (when not nil).
func openStreamFrom(path string, f io.ReadCloser, size int64, m *casino.BackupManifest, k *Keys, p *Progress, decrypt *atomic.Int64) (io.ReadCloser, error) {
	p.Start("read "+stripAge(path), size)
	raw := &countingReader{r: bufio.NewReaderSize(f, 1<<20), p: p}
	var src io.Reader = raw
	drain := func() error {
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return err
		}
		return nil
	}
	var final func() error = drain
	if isEncryptedName(path) {
		if k == nil || len(k.enc.identities) == 0 {
			f.Close()
			return nil, errorf(casino.EINVALID, "%s is encrypted with age: set CASINO_BACKUP_IDENTITY to the identity (AGE-SECRET-KEY-1... value or file) of one of its recipients", baseName(path))
		}
		clock := &decryptClock{total: decrypt}
		var dr io.Reader
		err := clock.time(func() (err error) {
			dr, err = age.Decrypt(&timedSource{r: src, c: clock}, k.enc.identities...)
			return err
		})
		if err != nil {
			f.Close()
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return nil, errorf(casino.EINVALID, "%s is encrypted to other recipients: CASINO_BACKUP_IDENTITY holds none of their identities", baseName(path))
			}
			return nil, errorf(casino.EINVALID, "%s: age decryption failed: %w", baseName(path), err)
		}
		dr = &timedDecrypt{r: dr, c: clock}
		if m != nil {
			h := newHashCounter()
			dr = io.TeeReader(dr, h)
			final = func() error {
				if err := drain(); err != nil {
					return err
				}
				if h.n != m.SizeBytes || h.sum() != m.SHA256 {
					return fmt.Errorf("the decrypted stream does not match the signed manifest: %d bytes sha256 %s, want %d bytes sha256 %s", h.n, h.sum(), m.SizeBytes, m.SHA256)
				}
				return nil
			}
		}
		src = dr
	}
	zr, err := decompressor(src, CompressionOfName(path))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("not a valid %s file: %v", CompressionOfName(path), err)
	}
	var want int64
	if m != nil {
		want = m.UncompressedBytes
	}
	return &backupStream{r: zr, want: want, final: final, closer: func() error { zr.Close(); p.Done(); return f.Close() }}, nil
}

// stripAge returns the base name without the .age suffix.
func stripAge(path string) string { return strings.TrimSuffix(baseName(path), AgeSuffix) }

// EncryptTo returns a writer that age-encrypts to the configured recipients
// into w (Close finishes the age stream, not w). It fails when no recipient
// is configured: callers that need encryption check Encrypts first.
func (k *Keys) EncryptTo(w io.Writer) (io.WriteCloser, error) {
	if !k.Encrypts() {
		return nil, errors.New("no age recipient configured (CASINO_BACKUP_RECIPIENTS)")
	}
	return age.Encrypt(w, k.enc.recipients...)
}

// DecryptFrom returns the plaintext of an age stream, with the configured
// identities (CASINO_BACKUP_IDENTITY).
func (k *Keys) DecryptFrom(r io.Reader) (io.Reader, error) {
	if k == nil || len(k.enc.identities) == 0 {
		return nil, errors.New("no age identity configured (CASINO_BACKUP_IDENTITY)")
	}
	return age.Decrypt(r, k.enc.identities...)
}

// decryptClock measures the time age spends decrypting a stream: the time
// in its calls less the time they wait on the stored bytes underneath
// (timedSource), so a slow disk or bucket is not counted as decryption.
// One goroutine reads a stream, so the fields need no lock; total is shared
// by the streams of one verified backup.
type decryptClock struct {
	total *atomic.Int64 // nanoseconds decrypting; nil: not measured
	inner time.Duration // time spent reading the stored bytes so far
}

// time runs f and adds its time, less the stored-byte reads within it, to
// the total.
func (c *decryptClock) time(f func() error) error {
	t0, in0 := time.Now(), c.inner
	err := f()
	if c.total != nil {
		c.total.Add(int64(time.Since(t0) - (c.inner - in0)))
	}
	return err
}

// timedSource is the stored bytes as age reads them.
type timedSource struct {
	r io.Reader
	c *decryptClock
}

func (s *timedSource) Read(p []byte) (int, error) {
	t0 := time.Now()
	n, err := s.r.Read(p)
	s.c.inner += time.Since(t0)
	return n, err
}

// timedDecrypt is age's plaintext, each read timed by the clock.
type timedDecrypt struct {
	r io.Reader
	c *decryptClock
}

func (d *timedDecrypt) Read(p []byte) (n int, err error) {
	d.c.time(func() error {
		n, err = d.r.Read(p)
		return nil
	})
	return n, err
}
