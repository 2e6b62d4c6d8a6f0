package keys

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripPEM(t *testing.T) {
	p, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ParsePrivate(p.PEM())
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Key.Equal(p.Key) {
		t.Fatal("private key changed through PEM")
	}
	pub, err := ParsePublic(p.Public().PEM())
	if err != nil {
		t.Fatal(err)
	}
	if pub.Fingerprint() != p.Public().Fingerprint() || !strings.HasPrefix(pub.Fingerprint(), "SHA256:") {
		t.Fatalf("fingerprint %q vs %q", pub.Fingerprint(), p.Public().Fingerprint())
	}
	// The verify key derives from the signing key.
	derived, err := ParsePublic(p.PEM())
	if err != nil || derived.Fingerprint() != pub.Fingerprint() {
		t.Fatalf("derived %v %v", derived, err)
	}
	msg := []byte("manifest bytes")
	sig := p.Sign(msg)
	if !pub.Verify(msg, sig) || pub.Verify(append(msg, 'x'), sig) {
		t.Fatal("verify")
	}
}

func TestVerifyAnyAfterRotation(t *testing.T) {
	old, _ := Generate()
	cur, _ := Generate()
	other, _ := Generate()
	pubs, err := ParsePublics(append(cur.Public().PEM(), old.Public().PEM()...))
	if err != nil || len(pubs) != 2 {
		t.Fatalf("%d keys, %v", len(pubs), err)
	}
	msg := []byte("m")
	if _, err := VerifyAny(pubs, old.Public().Fingerprint(), msg, old.Sign(msg)); err != nil {
		t.Fatalf("old key after rotation: %v", err)
	}
	if _, err := VerifyAny(pubs, other.Public().Fingerprint(), msg, other.Sign(msg)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("another key: %v", err)
	}
	// A signature by another key that claims a known fingerprint.
	if _, err := VerifyAny(pubs, cur.Public().Fingerprint(), msg, other.Sign(msg)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: %v", err)
	}
}

func TestHostileKeyInput(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, maxPEM+10), 0o600)
	rsa := "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
	for name, v := range map[string]string{
		"empty":             "",
		"garbage":           "-----BEGIN PRIVATE KEY-----\nnotbase64!!\n-----END PRIVATE KEY-----\n",
		"rsa":               rsa,
		"big file":          big,
		"no file":           filepath.Join(dir, "missing"),
		"public as private": func() string { p, _ := Generate(); return string(p.Public().PEM()) }(),
	} {
		if _, err := LoadPrivate(v); err == nil {
			t.Errorf("%s: LoadPrivate accepted it", name)
		} else if strings.Contains(err.Error(), "MIIB") {
			t.Errorf("%s: error shows key material: %v", name, err)
		}
	}
	if _, err := LoadPublics("", " "); !errors.Is(err, ErrNoKey) {
		t.Errorf("no keys: %v", err)
	}
	if _, err := LoadPublics("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\ntrailing"); err == nil {
		t.Error("bad public accepted")
	}
}

func TestWriteKeyPairModesAndNoOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	p, _ := Generate()
	priv, pub, err := WriteKeyPair(dir, "backup", p)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode().Perm())
	}
	if _, _, err := WriteKeyPair(dir, "backup", p); err == nil {
		t.Fatal("overwrote a key")
	}
	loaded, err := LoadPrivate(priv)
	if err != nil || !loaded.Key.Equal(p.Key) {
		t.Fatal(err)
	}
	pubs, err := LoadPublics(pub)
	if err != nil || pubs[0].Fingerprint() != p.Public().Fingerprint() {
		t.Fatal(err)
	}
}

// openssl verifies what Sign writes with the public key alone: the 03:00
// path without casino.
func TestOpenSSLVerifies(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required in CI")
		}
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	p, _ := Generate()
	_, pubPath, err := WriteKeyPair(dir, "k", p)
	if err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(dir, "m")
	sig := filepath.Join(dir, "m.sig")
	os.WriteFile(msg, []byte(`{"sha256":"abc"}`+"\n"), 0o644)
	os.WriteFile(sig, p.Sign([]byte(`{"sha256":"abc"}`+"\n")), 0o644)
	out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl: %v %s", err, out)
	}
	os.WriteFile(msg, []byte(`{"sha256":"abd"}`+"\n"), 0o644)
	if out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a changed message: %s", out)
	}
}
