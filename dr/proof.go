package dr

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"casino/keys"
)

// Journal entry types of operator prose and of what comes after close.
const (
	TypeNote      = "note"      // operator prose, while the incident is open
	TypeAddendum  = "addendum"  // a section added after close (postmortem, sign-off)
	TypeSignature = "signature" // an Ed25519 signature of the journal's head
)

// postClose are the entry types a closed journal still takes: nothing is
// edited in place, later sections are chained and signed.
var postClose = map[string]bool{TypeAddendum: true, TypeSignature: true}

// Note is the data of a note entry.
type Note struct {
	Text string `json:"text"`
}

// Addendum is the data of an addendum entry.
type Addendum struct {
	Section string `json:"section"`
	File    string `json:"file"`
	SHA256  string `json:"sha256"` // of the file's bytes as read
	Text    string `json:"text"`   // as journaled (redacted)
}

// Signature is the data of a signature entry: an Ed25519 signature over
// SignedMessage of the entry before it.
type Signature struct {
	Seq            int    `json:"signed_seq"`
	Hash           string `json:"signed_hash"`
	KeyFingerprint string `json:"key_fingerprint"`
	Sig            string `json:"signature"` // standard base64
}

// Addendum sections.
var AddendumSections = []string{"postmortem", "signoff"}

// MaxProseBytes bounds a note or an addendum.
const MaxProseBytes = 256 << 10

// SignedMessage is what a signature covers: the incident and the seq and
// hash of the entry signed, which chains every entry before it.
func SignedMessage(id string, seq int, hash string) []byte {
	return []byte(fmt.Sprintf("casino dr journal head\nincident %s\nseq %d\nsha256 %s\n", id, seq, hash))
}

func checkProse(b []byte) error {
	if len(b) > MaxProseBytes {
		return fmt.Errorf("%d bytes: at most %d", len(b), MaxProseBytes)
	}
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return errors.New("not UTF-8 text")
	}
	return nil
}

// AddNote journals operator prose while the incident is open.
func (in *Incident) AddNote(text string) error {
	if strings.TrimSpace(text) == "" {
		return errors.New("the note is empty")
	}
	if err := checkProse([]byte(text)); err != nil {
		return fmt.Errorf("note: %w", err)
	}
	return in.Append(TypeNote, Note{Text: text})
}

// AddAddendum journals a section written after close, read from file.
func (in *Incident) AddAddendum(section, file string) error {
	if in.State == nil || !in.State.Closed {
		return errors.New("addenda come after close: while the incident is open, use 'casino dr note'")
	}
	ok := false
	for _, s := range AddendumSections {
		ok = ok || s == section
	}
	if !ok {
		return fmt.Errorf("section %q: want one of %s", section, strings.Join(AddendumSections, ", "))
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Size() > MaxProseBytes {
		return fmt.Errorf("%s: not a regular file of at most %d bytes", file, MaxProseBytes)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := checkProse(b); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	sum := sha256.Sum256(b)
	return in.Append(TypeAddendum, Addendum{Section: section, File: file, SHA256: hex.EncodeToString(sum[:]), Text: string(b)})
}

// Sign journals a signature of the current head with key.
func (in *Incident) Sign(key keys.Private) error {
	// The head is read under the journal's lock: an entry another dr
	// process appended since this one loaded is what gets signed.
	return in.appendBuilt(TypeSignature, func(head *Entry) (any, error) {
		if head == nil {
			return nil, errors.New("nothing to sign")
		}
		sig := key.Sign(SignedMessage(in.ID, head.Seq, head.Hash))
		return Signature{Seq: head.Seq, Hash: head.Hash,
			KeyFingerprint: key.Public().Fingerprint(), Sig: base64.StdEncoding.EncodeToString(sig)}, nil
	})
}

// ProofReport is what VerifyProof found.
type ProofReport struct {
	Entries int
	// Rendered: the whole proof was re-rendered from the journal and
	// matched byte for byte. False for a legacy proof (renderer version 0),
	// whose head the journal does not hold.
	Rendered bool
	// Signed names the key fingerprints of the signatures found; Checked
	// says they were verified against --key.
	Signed  []string
	Checked bool

	entries []Entry
}

// HeadSeq returns the seq of the verified entry whose hash starts with the
// given hash or prefix (case-insensitive), or 0 when none does: a head
// recorded elsewhere at close that is missing means the journal was cut or
// rewritten.
func (r *ProofReport) HeadSeq(hash string) int {
	hash = strings.ToLower(hash)
	for _, e := range r.entries {
		if hash != "" && strings.HasPrefix(e.Hash, hash) {
			return e.Seq
		}
	}
	return 0
}

// ProofMismatch names the first line where the proof differs from its
// rendering from the journal.
type ProofMismatch struct {
	Line          int
	Proof, Render string
}

func (e *ProofMismatch) Error() string {
	return fmt.Sprintf("proof line %d differs from what the journal renders (edited after it was written?):\n  proof:   %q\n  journal: %q", e.Line, e.Proof, e.Render)
}

// ErrNotSigned: verify-proof was given a key and the journal's head is not
// signed by it.
var ErrNotSigned = errors.New("the journal's head is not signed")

// VerifyProof checks an incident's record as a whole: the journal's hash
// chain; the proof file byte for byte against its rendering from the
// journal; and, with pubs, that the last entry is a signature, by one of
// pubs, of the entry before it (every other signature must verify too).
// path is the proof .md or its journal.
func VerifyProof(path string, pubs []keys.Public) (*ProofReport, error) {
	jpath, proof := path, path
	if strings.HasSuffix(path, ".md") {
		jpath = strings.TrimSuffix(path, ".md") + journalSuffix
	} else {
		proof = strings.TrimSuffix(path, journalSuffix) + ".md"
	}
	rep := &ProofReport{}
	entries, err := ReadJournal(jpath)
	rep.Entries, rep.entries = len(entries), entries
	if err != nil {
		return rep, err
	}
	if len(entries) == 0 {
		return rep, errors.New("journal is empty")
	}
	st, err := Fold(entries)
	if err != nil {
		return rep, err
	}
	id := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(jpath), journalSuffix), ".md")
	in := &Incident{Dir: strings.TrimSuffix(jpath, filepath.Base(jpath)), ID: id, Entries: entries, State: st}
	if st.RendererVersion > RendererVersion {
		return rep, fmt.Errorf("the journal was rendered by renderer version %d; this casino renders version %d: verify with the casino that wrote it", st.RendererVersion, RendererVersion)
	}
	got, err := os.ReadFile(proof)
	if err != nil {
		return rep, err
	}
	if want, ok := in.RenderBytes(); ok {
		if !bytes.Equal(got, want) {
			return rep, firstDiff(got, want)
		}
		rep.Rendered = true
	} else if head := entries[len(entries)-1]; !bytes.Contains(got, []byte(head.Hash)) {
		return rep, fmt.Errorf("proof %s does not name the journal head (entry seq %d, sha256 %s): proof and journal disagree", proof, head.Seq, head.Hash)
	}
	// Signatures.
	for i, e := range entries {
		if e.Type != TypeSignature {
			continue
		}
		var s Signature
		if err := json.Unmarshal(e.Data, &s); err != nil {
			return rep, fmt.Errorf("journal entry %d: signature: %w", e.Seq, err)
		}
		rep.Signed = append(rep.Signed, s.KeyFingerprint)
		if i == 0 || s.Seq != entries[i-1].Seq || s.Hash != entries[i-1].Hash {
			return rep, fmt.Errorf("journal entry %d: the signature is not of the entry before it (signed seq %d sha256 %s): entries were inserted or rewritten", e.Seq, s.Seq, s.Hash)
		}
		if pubs == nil {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return rep, fmt.Errorf("journal entry %d: signature does not decode", e.Seq)
		}
		if _, err := keys.VerifyAny(pubs, s.KeyFingerprint, SignedMessage(id, s.Seq, s.Hash), sig); err != nil {
			return rep, fmt.Errorf("journal entry %d: %w", e.Seq, err)
		}
	}
	if pubs != nil {
		if last := entries[len(entries)-1]; last.Type != TypeSignature {
			return rep, fmt.Errorf("%w: the last entry (seq %d, %s) is not a signature; a journal rewritten without the key, or entries added after the last signature", ErrNotSigned, last.Seq, last.Type)
		}
		rep.Checked = true
	}
	return rep, nil
}

func firstDiff(got, want []byte) error {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		} else {
			gl = "(end of file)"
		}
		if i < len(w) {
			wl = w[i]
		} else {
			wl = "(end of rendering)"
		}
		if gl != wl {
			return &ProofMismatch{Line: i + 1, Proof: gl, Render: wl}
		}
	}
	return &ProofMismatch{Line: len(g), Proof: "(bytes differ)", Render: ""}
}
