package pitr

// Sealing: everything `casino pitr stream` writes that a recovery replays is
// listed, with its sha256, in a manifest signed with the backup signing key
// (Ed25519 over the manifest's exact bytes, the 64-byte signature beside it
// as NAME.sig, as for logical backups):
//
//	base/<stamp>/manifest.json     the base backup's files (base.tar.gz,
//	                               pg_wal.tar.gz, backup_manifest, info.json)
//	sealed/wal-<first>-<last>.json a batch of completed WAL segments
//
// A recovery checks the signatures and hashes before it unpacks or replays
// anything, and refuses a changed, missing or foreign-signed file naming it.
// The segment pg_receivewal is still writing (.partial), and completed
// segments the streamer has not sealed yet (at most MaxUnsignedTail), cannot
// be signed: they are the newest seconds of the stream. A recovery accepts
// them only as the tail after every sealed segment, and records their names
// in the facts (PITRFacts.UnsignedWAL).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"casino/keys"
)

// Manifest formats.
const (
	baseManifestFormat = "casino-pitr-base/1"
	walManifestFormat  = "casino-pitr-wal/1"
)

// MaxUnsignedTail is how many completed WAL segments after the last sealed
// one a recovery accepts unsigned (besides the .partial one): the streamer
// seals every SealEvery, so more means manifests were removed.
const MaxUnsignedTail = 2

// ErrTampered: a stream file does not match its signed manifest, or a
// manifest's signature does not verify. The error names the file.
var ErrTampered = errors.New("stream file refused")

// Manifest is a signed listing of stream files.
type Manifest struct {
	Format         string       `json:"format"`
	KeyFingerprint string       `json:"key_fingerprint"`
	CreatedAt      time.Time    `json:"created_at"`
	Base           *BaseBackup  `json:"base,omitempty"`
	Files          []SealedFile `json:"files"`
}

// SealedFile is one file of a manifest.
type SealedFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// hashFile returns the size and hex sha256 of a file.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// writeManifest signs m and writes NAME (and NAME.sig first) atomically.
func writeManifest(path string, m *Manifest, signer keys.Private) ([]byte, []byte, error) {
	m.KeyFingerprint = signer.Public().Fingerprint()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	mb = append(mb, '\n')
	sig := signer.Sign(mb)
	if err := writeFileAtomic(path+".sig", sig); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(path, mb); err != nil {
		return nil, nil, err
	}
	return mb, sig, nil
}

// Verifier checks manifests and files against the verify keys.
type Verifier struct {
	// Keys are the public keys a manifest may be signed by.
	Keys []keys.Public
	// TrustUnsigned accepts missing or failing signatures and hashes; the
	// recovery records it as the trust_unsigned override.
	TrustUnsigned bool
}

const maxManifest = 16 << 20

// readManifest reads and verifies the manifest at path.
func (v *Verifier) readManifest(path, format string) (*Manifest, error) {
	mb, err := readLimited(path, maxManifest)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTampered, path, err)
	}
	sig, err := readLimited(path+".sig", 1024)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is unsigned: %v", ErrTampered, path, err)
	}
	return v.parseManifest(path, mb, sig, format)
}

// parseManifest decodes and verifies a manifest's bytes and signature;
// where names it in errors (a path, or an object in the bucket). A file
// name that is not a plain name, or one listed twice, is refused.
func (v *Verifier) parseManifest(path string, mb, sig []byte, format string) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Format != format {
		return nil, fmt.Errorf("%w: %s is not a %s manifest", ErrTampered, path, format)
	}
	if len(v.Keys) == 0 {
		return nil, fmt.Errorf("%w: %s: no verify key is configured (set CASINO_BACKUP_VERIFY_KEY to the public half of the key casino pitr stream signs with)", ErrTampered, path)
	}
	if _, err := keys.VerifyAny(v.Keys, m.KeyFingerprint, mb, sig); err != nil {
		return nil, fmt.Errorf("%w: %s: signature: %w", ErrTampered, path, err)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") || strings.ContainsAny(f.Name, "/\\\x00") {
			return nil, fmt.Errorf("%w: %s lists a file name %q that is not a plain name", ErrTampered, path, f.Name)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%w: %s lists %s twice", ErrTampered, path, f.Name)
		}
		seen[f.Name] = true
	}
	return &m, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// sealBase writes the signed manifest of a base backup folder whose files
// (and info.json) are complete.
func sealBase(dir string, b *BaseBackup, signer keys.Private) error {
	m := &Manifest{Format: baseManifestFormat, Base: b}
	for _, name := range []string{"base.tar.gz", "pg_wal.tar.gz", "backup_manifest", "info.json"} {
		n, sum, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("seal base backup: %w", err)
		}
		m.Files = append(m.Files, SealedFile{Name: name, Size: n, SHA256: sum})
	}
	_, _, err := writeManifest(filepath.Join(dir, "manifest.json"), m, signer)
	return err
}

// VerifyBase checks a base backup folder against its signed manifest: the
// signature, and the size and sha256 of every file recovery reads.
func (v *Verifier) VerifyBase(dir string) error {
	if v.TrustUnsigned {
		return nil
	}
	m, err := v.readManifest(filepath.Join(dir, "manifest.json"), baseManifestFormat)
	if err != nil {
		return err
	}
	want := map[string]bool{"base.tar.gz": true, "pg_wal.tar.gz": true, "backup_manifest": true, "info.json": true}
	for _, f := range m.Files {
		if !want[f.Name] {
			continue
		}
		delete(want, f.Name)
		n, sum, err := hashFile(filepath.Join(dir, f.Name))
		if err != nil {
			return fmt.Errorf("%w: base backup %s: %v", ErrTampered, filepath.Base(dir), err)
		}
		if n != f.Size || sum != f.SHA256 {
			return fmt.Errorf("%w: base backup %s: %s has sha256 %s (%d bytes), its signed manifest says %s (%d bytes): changed after it was taken", ErrTampered, filepath.Base(dir), f.Name, sum, n, f.SHA256, f.Size)
		}
	}
	for name := range want {
		return fmt.Errorf("%w: base backup %s: its signed manifest does not list %s", ErrTampered, filepath.Base(dir), name)
	}
	return nil
}

// sealedDir is where WAL batch manifests live, outside the folder
// pg_receivewal scans.
func sealedDir(dir string) string { return filepath.Join(dir, "sealed") }

// walSealer seals completed WAL segments in batches.
type walSealer struct {
	dir    string // stream folder
	signer keys.Private
	sealed map[string]bool
	// onSealed, when set, receives each new manifest (to upload it).
	onSealed func(manifest string, files []SealedFile) error
}

func newWALSealer(dir string, signer keys.Private) (*walSealer, error) {
	s := &walSealer{dir: dir, signer: signer, sealed: map[string]bool{}}
	if err := os.MkdirAll(sealedDir(dir), 0o700); err != nil {
		return nil, err
	}
	// What this folder sealed before (a restart): trust our own listing;
	// recovery verifies every manifest anyway.
	ents, _ := os.ReadDir(sealedDir(dir))
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := readLimited(filepath.Join(sealedDir(dir), e.Name()), maxManifest)
		if err != nil {
			continue
		}
		var m Manifest
		if json.Unmarshal(b, &m) == nil {
			for _, f := range m.Files {
				s.sealed[f.Name] = true
			}
		}
	}
	return s, nil
}

// seal signs one manifest over every completed segment not sealed yet.
func (s *walSealer) seal() (int, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "wal"))
	if err != nil {
		return 0, err
	}
	var names []string
	for _, e := range ents {
		m := segNameRE.FindStringSubmatch(e.Name())
		if m == nil || m[4] != "" || s.sealed[e.Name()] {
			continue
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		return 0, nil
	}
	sort.Strings(names)
	m := &Manifest{Format: walManifestFormat}
	for _, name := range names {
		n, sum, err := hashFile(filepath.Join(s.dir, "wal", name))
		if err != nil {
			return 0, err
		}
		m.Files = append(m.Files, SealedFile{Name: name, Size: n, SHA256: sum})
	}
	path := filepath.Join(sealedDir(s.dir), "wal-"+names[0]+"-"+names[len(names)-1]+".json")
	if _, _, err := writeManifest(path, m, s.signer); err != nil {
		return 0, err
	}
	syncDir(sealedDir(s.dir))
	for _, n := range names {
		s.sealed[n] = true
	}
	if s.onSealed != nil {
		if err := s.onSealed(path, m.Files); err != nil {
			return len(names), err
		}
	}
	return len(names), nil
}

// walIndex is the verified sha256 of every sealed segment.
type walIndex map[string]SealedFile

// WALIndex reads and verifies every WAL manifest of the stream folder.
func (v *Verifier) WALIndex(dir string) (walIndex, error) {
	idx := walIndex{}
	if v.TrustUnsigned {
		return idx, nil
	}
	ents, err := os.ReadDir(sealedDir(dir))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		m, err := v.readManifest(filepath.Join(sealedDir(dir), e.Name()), walManifestFormat)
		if err != nil {
			return nil, err
		}
		for _, f := range m.Files {
			if prev, ok := idx[f.Name]; ok && prev != f {
				return nil, fmt.Errorf("%w: WAL segment %s is listed twice with different hashes", ErrTampered, f.Name)
			}
			idx[f.Name] = f
		}
	}
	return idx, nil
}

// Sealed is one signed set of stream files: a base backup, or a batch of
// WAL segments with its manifest.
type Sealed struct {
	Kind string // "base" or "wal"
	// Dir holds Files; Manifest is the signed manifest's path (its
	// signature is Manifest+".sig").
	Dir      string
	Manifest string
	Files    []SealedFile
}

// shippedSuffix marks a manifest whose files OnSealed took: restart-safe,
// and a failed shipment is retried at the next heartbeat.
const shippedSuffix = ".shipped"

// pendingShipments lists the sealed sets not shipped yet, oldest first.
func pendingShipments(dir string) []Sealed {
	var out []Sealed
	bases, _ := listBases(dir)
	for _, b := range bases {
		mp := filepath.Join(b.dir, "manifest.json")
		if _, err := os.Stat(mp + shippedSuffix); err == nil {
			continue
		}
		if m := readOwnManifest(mp); m != nil {
			out = append(out, Sealed{Kind: "base", Dir: b.dir, Manifest: mp, Files: m.Files})
		}
	}
	ents, _ := os.ReadDir(sealedDir(dir))
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		mp := filepath.Join(sealedDir(dir), e.Name())
		if _, err := os.Stat(mp + shippedSuffix); err == nil {
			continue
		}
		if m := readOwnManifest(mp); m != nil {
			out = append(out, Sealed{Kind: "wal", Dir: filepath.Join(dir, "wal"), Manifest: mp, Files: m.Files})
		}
	}
	return out
}

// readOwnManifest reads a manifest this streamer wrote (no verification:
// the receiving end verifies).
func readOwnManifest(path string) *Manifest {
	b, err := readLimited(path, maxManifest)
	if err != nil {
		return nil
	}
	var m Manifest
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return &m
}
