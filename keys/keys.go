// Package keys is casino's one key format: Ed25519 key pairs in PEM, the
// private key as PKCS#8 ("PRIVATE KEY") and the public key as SPKI ("PUBLIC
// KEY"), the forms openssl reads. Backup manifests and DR journal heads are
// signed with them, and a key is named by its fingerprint, never printed.
//
// At 03:00, without casino:
//
//	openssl pkeyutl -verify -pubin -inkey backup.pub -rawin -in MANIFEST -sigfile SIG
package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Errors of key loading and signature checks.
var (
	// ErrNoKey means no key was configured.
	ErrNoKey = errors.New("no key configured")
	// ErrBadSignature means a signature does not verify with any given key.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUnknownKey means the signature names a key none of the given keys is.
	ErrUnknownKey = errors.New("signed by a key that is not among the verify keys")
)

// maxPEM bounds what is read from a key file: an Ed25519 PEM is ~120 bytes.
const maxPEM = 16 << 10

// Private is a signing key with its public half.
type Private struct {
	Key ed25519.PrivateKey
}

// Public returns the public half.
func (p Private) Public() Public { return Public{Key: p.Key.Public().(ed25519.PublicKey)} }

// Sign signs msg (Ed25519 over the exact bytes, as openssl pkeyutl -rawin).
func (p Private) Sign(msg []byte) []byte { return ed25519.Sign(p.Key, msg) }

// PEM returns the PKCS#8 PEM of the private key.
func (p Private) PEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		panic(err) // an ed25519.PrivateKey always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Public is a verify key.
type Public struct {
	Key ed25519.PublicKey
}

// PEM returns the SPKI PEM of the public key.
func (p Public) PEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(p.Key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Fingerprint names the key: "SHA256:" and the unpadded base64 of the
// sha256 of its SPKI DER, as OpenSSH prints fingerprints.
func (p Public) Fingerprint() string {
	der, err := x509.MarshalPKIXPublicKey(p.Key)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Verify reports whether sig is this key's signature over msg.
func (p Public) Verify(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(p.Key, msg, sig)
}

// Generate makes a new key pair.
func Generate() (Private, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Private{}, err
	}
	return Private{Key: priv}, nil
}

// ParsePrivate reads a PKCS#8 PEM Ed25519 private key.
func ParsePrivate(b []byte) (Private, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return Private{}, errors.New("not a PEM private key")
	}
	if block.Type != "PRIVATE KEY" {
		return Private{}, fmt.Errorf("PEM block is %q, want PRIVATE KEY (PKCS#8 Ed25519)", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return Private{}, errors.New("trailing data after the PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Private{}, errors.New("PEM private key does not parse as PKCS#8")
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return Private{}, fmt.Errorf("private key is %T, want Ed25519", k)
	}
	return Private{Key: ek}, nil
}

// ParsePublic reads an SPKI PEM Ed25519 public key. A private key is
// accepted too and its public half returned, so the verify key can be
// derived from the signing key.
func ParsePublic(b []byte) (Public, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return Public{}, errors.New("not a PEM public key")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return Public{}, errors.New("PEM public key does not parse as SPKI")
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return Public{}, fmt.Errorf("public key is %T, want Ed25519", k)
		}
		return Public{Key: ek}, nil
	case "PRIVATE KEY":
		p, err := ParsePrivate(pem.EncodeToMemory(block))
		if err != nil {
			return Public{}, err
		}
		return p.Public(), nil
	}
	return Public{}, fmt.Errorf("PEM block is %q, want PUBLIC KEY", block.Type)
}

// ParsePublics reads every PEM public key in b, in order (a file or a
// variable may hold several, so old backups keep verifying after a rotation).
func ParsePublics(b []byte) ([]Public, error) {
	var out []Public
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			if len(bytes.TrimSpace(b)) != 0 {
				return nil, errors.New("data that is not a PEM key")
			}
			break
		}
		p, err := ParsePublic(pem.EncodeToMemory(block))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		b = rest
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key")
	}
	return out, nil
}

// readValueOrFile returns v itself when it holds a PEM block, or the
// contents of the file it names.
func readValueOrFile(v string) ([]byte, string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "-----BEGIN ") {
		return []byte(v), "value", nil
	}
	f, err := os.Open(v)
	if err != nil {
		return nil, v, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	b := make([]byte, maxPEM+1)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return nil, v, fmt.Errorf("read key file %s: %w", v, err)
	}
	if n > maxPEM {
		return nil, v, fmt.Errorf("key file %s is larger than %d bytes: not a key", v, maxPEM)
	}
	return b[:n], v, nil
}

// LoadPrivate reads a signing key from a PEM value or a file path. An empty
// v is ErrNoKey. The error never contains key material.
func LoadPrivate(v string) (Private, error) {
	if strings.TrimSpace(v) == "" {
		return Private{}, ErrNoKey
	}
	b, src, err := readValueOrFile(v)
	if err != nil {
		return Private{}, err
	}
	p, err := ParsePrivate(b)
	if err != nil {
		return Private{}, fmt.Errorf("signing key (%s): %w", src, err)
	}
	return p, nil
}

// LoadPublics reads verify keys from PEM values or file paths; each may
// hold several keys. Empty entries are skipped; none at all is ErrNoKey.
func LoadPublics(vs ...string) ([]Public, error) {
	var out []Public
	for _, v := range vs {
		if strings.TrimSpace(v) == "" {
			continue
		}
		b, src, err := readValueOrFile(v)
		if err != nil {
			return nil, err
		}
		ps, err := ParsePublics(b)
		if err != nil {
			return nil, fmt.Errorf("verify key (%s): %w", src, err)
		}
		out = append(out, ps...)
	}
	if len(out) == 0 {
		return nil, ErrNoKey
	}
	return out, nil
}

// Find returns the key whose fingerprint is fp.
func Find(pubs []Public, fp string) (Public, bool) {
	for _, p := range pubs {
		if p.Fingerprint() == fp {
			return p, true
		}
	}
	return Public{}, false
}

// VerifyAny checks sig over msg with the key named fp among pubs. It
// returns ErrUnknownKey when no key has that fingerprint, ErrBadSignature
// when the named key does not verify it.
func VerifyAny(pubs []Public, fp string, msg, sig []byte) (Public, error) {
	p, ok := Find(pubs, fp)
	if !ok {
		return Public{}, fmt.Errorf("%w (%s)", ErrUnknownKey, fp)
	}
	if !p.Verify(msg, sig) {
		return Public{}, fmt.Errorf("%w with key %s", ErrBadSignature, fp)
	}
	return p, nil
}

// WriteKeyPair writes NAME.key (0600) and NAME.pub (0644) into dir, which
// it creates 0700. It refuses to overwrite an existing key.
func WriteKeyPair(dir, name string, p Private) (privPath, pubPath string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	privPath = filepath.Join(dir, name+".key")
	pubPath = filepath.Join(dir, name+".pub")
	if err := writeNew(privPath, p.PEM(), 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pubPath, p.Public().PEM(), 0o644); err != nil {
		os.Remove(privPath)
		return "", "", err
	}
	return privPath, pubPath, nil
}

// writeNew creates path with mode, refusing to replace a file, and fsyncs it.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: refusing to overwrite a key", path)
		}
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

var _ crypto.Signer = ed25519.PrivateKey(nil)
