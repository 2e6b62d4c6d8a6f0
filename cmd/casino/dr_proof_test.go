package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"casino/dr"
	"casino/keys"
)

// TestDRVerifyProofCatchesEveryEdit: the proof is rendered from the journal
// alone, so each single-field edit of the .md fails verify-proof naming its
// line; a journal rewritten with recomputed hashes fails once a signing key
// is set; the template on disk changing later breaks nothing; addenda after
// close are chained and signed.
func TestDRVerifyProofCatchesEveryEdit(t *testing.T) {
	f := newDRFixture(t)
	priv, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPath, pubPath, err := keys.WriteKeyPair(filepath.Join(f.Dir, "keys"), "dr", priv)
	if err != nil {
		t.Fatal(err)
	}
	f.Env["CASINO_DR_SIGNING_KEY"] = keyPath
	srv := startServe(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "c.db"), "CASINO_OWNER_PASSWORD": testOwnerPassword}, true)

	f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "Ines Ortega", "--comms", "Carl")
	f.mustDR(t, "scenario", "A", "--reason", "bad deploy")
	f.mustDR(t, "note", "rolled back to the previous image; watching the 5xx rate")
	f.mustDR(t, "validate", "--url", srv.URL, "--checks", "health,ready")
	// The canonical template changes after declare: the proof must not.
	os.WriteFile(filepath.Join(f.ProofDir, "template.md"), []byte("# a different template\n"), 0o644)
	f.mustDR(t, "status")
	f.mustDR(t, "close")
	proof := filepath.Join(f.ProofDir, listProof(t, f.ProofDir))
	journal := strings.TrimSuffix(proof, ".md") + ".journal.jsonl"

	out := f.mustDR(t, "verify-proof", "--key", pubPath, proof)
	if !strings.Contains(out, "matches byte for byte") || !strings.Contains(out, "verified with --key") {
		t.Fatalf("verify-proof of an untouched proof:\n%s", out)
	}
	orig, _ := os.ReadFile(proof)
	if !strings.Contains(string(orig), "rolled back to the previous image") {
		t.Errorf("the note is not in the proof")
	}
	if strings.Contains(string(orig), "a different template") {
		t.Errorf("the proof took the template changed after declare")
	}

	lines := strings.Split(string(orig), "\n")
	edits := []struct {
		name      string
		find, sub string
	}{
		{"RTO", "| RTO | ", "| RTO | 1s (edited) "},
		{"severity", "| severity | SEV-2 |", "| severity | SEV-3 |"},
		{"a timestamp", "| incident_start_utc | ", "| incident_start_utc | 2020-01-01T00:00:00Z "},
		{"a validation row", "| health | **PASS** |", "| health | **FAIL** |"},
		{"the IC's name", "| incident_commander | Ines Ortega |", "| incident_commander | Mallory |"},
	}
	for _, e := range edits {
		n := -1
		for i, l := range lines {
			if strings.Contains(l, e.find) {
				n = i
				break
			}
		}
		if n < 0 {
			t.Errorf("%s: no line with %q in the proof", e.name, e.find)
			continue
		}
		edited := append([]string{}, lines...)
		edited[n] = strings.Replace(edited[n], e.find, e.sub, 1)
		os.WriteFile(proof, []byte(strings.Join(edited, "\n")), 0o644)
		out, _, code := f.dr(t, "verify-proof", proof)
		want := "proof line " + strconv.Itoa(n+1) + " differs"
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("%s edited: exit %d, want 1 and %q:\n%s", e.name, code, want, out)
		}
	}
	os.WriteFile(proof, orig, 0o644)

	// Addenda after close: chained, signed; editing one fails too.
	pm := filepath.Join(f.Dir, "postmortem.md")
	os.WriteFile(pm, []byte("Root cause: the 1.4.2 image shipped without its migration.\n"), 0o644)
	f.mustDR(t, "addendum", "--section", "postmortem", pm)
	if _, errOut, code := f.dr(t, "note", "--incident", listProof(t, f.ProofDir), "late"); code == 0 || !strings.Contains(errOut, "closed") {
		t.Errorf("note after close: exit %d, %s", code, errOut)
	}
	out = f.mustDR(t, "verify-proof", "--key", pubPath, proof)
	withAddendum, _ := os.ReadFile(proof)
	if !strings.Contains(string(withAddendum), "## Addendum") || !strings.Contains(string(withAddendum), "without its migration") {
		t.Fatalf("the addendum is not in the proof")
	}
	os.WriteFile(proof, []byte(strings.Replace(string(withAddendum), "without its migration", "on time", 1)), 0o644)
	if out, _, code := f.dr(t, "verify-proof", proof); code != 1 || !strings.Contains(out, "differs") {
		t.Errorf("edited addendum: exit %d\n%s", code, out)
	}
	os.WriteFile(proof, withAddendum, 0o644)

	// A rewritten chain: the IC's name changed in the declare entry, every
	// hash recomputed, the proof re-rendered. Only the key catches it.
	mallory := func(typ string, data map[string]any) bool {
		if typ == "declare" {
			data["incident_commander"] = "Mallory"
		}
		return true
	}
	rerender := func() {
		in, err := dr.Open(f.ProofDir, listProof(t, f.ProofDir), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Render(); err != nil {
			t.Fatal(err)
		}
	}
	pristine, _ := os.ReadFile(journal)
	rewriteJournal(t, journal, mallory)
	rerender()
	// The signatures still name the old hashes: caught even without the key.
	if out, _, code := f.dr(t, "verify-proof", proof); code != 1 || !strings.Contains(out, "signature is not of the entry before it") {
		t.Errorf("rewrite keeping stale signatures: exit %d\n%s", code, out)
	}
	os.WriteFile(journal, pristine, 0o600)
	// The attacker drops the signatures too.
	rewriteJournal(t, journal, func(typ string, data map[string]any) bool {
		return mallory(typ, data) && typ != "signature"
	})
	rerender()
	if out, _, code := f.dr(t, "verify-proof", proof); code != 0 {
		t.Fatalf("without a key a consistent rewrite passes (as the README says); got exit %d\n%s", code, out)
	}
	if out, _, code := f.dr(t, "verify-proof", "--key", pubPath, proof); code != 1 || !strings.Contains(out, "signature") {
		t.Errorf("rewritten chain with --key: exit %d, want 1 naming the signature:\n%s", code, out)
	}
}

// rewriteJournal edits a journal's entries and recomputes every hash, as an
// attacker without the signing key can.
func rewriteJournal(t *testing.T, path string, edit func(typ string, data map[string]any) (keep bool)) {
	t.Helper()
	b, _ := os.ReadFile(path)
	prev := dr.GenesisHash
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Seq  int            `json:"seq"`
			TS   time.Time      `json:"ts"`
			Type string         `json:"type"`
			Data map[string]any `json:"data,omitempty"`
			Prev string         `json:"prev_hash"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if !edit(e.Type, e.Data) {
			continue
		}
		e.Seq, e.Prev = len(out)+1, prev
		body, _ := json.Marshal(e)
		sum := sha256.Sum256(body)
		prev = hex.EncodeToString(sum[:])
		out = append(out, string(body[:len(body)-1])+`,"hash":"`+prev+`"}`)
	}
	os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o600)
}
