package dr

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// GenesisHash is the prev_hash of a journal's first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is one line of an incident journal. Hash is the SHA-256 of the line
// without its hash field (see entryBody); Prev is the Hash of the entry
// before, so changing, removing or reordering any entry breaks the chain
// from that entry on.
type Entry struct {
	Seq  int             `json:"seq"`
	TS   time.Time       `json:"ts"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
	Prev string          `json:"prev_hash"`
	Hash string          `json:"-"`
	// Raw is the line as read from the file.
	Raw []byte `json:"-"`
}

// hashSuffix is how every line ends: ,"hash":"<64 hex>"}
const hashSuffixLen = len(`,"hash":""}`) + 64

// encodeEntry returns the journal line of e (without newline) and its hash.
func encodeEntry(e Entry) (line []byte, hash string, err error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(body)
	hash = hex.EncodeToString(sum[:])
	line = append(body[:len(body)-1:len(body)-1], []byte(`,"hash":"`+hash+`"}`)...)
	return line, hash, nil
}

// ChainError names the first journal entry that breaks the hash chain.
type ChainError struct {
	Line   int // 1-based line in the journal file
	Seq    int
	Type   string
	Reason string
}

func (e *ChainError) Error() string {
	if e.Seq > 0 {
		return fmt.Sprintf("journal line %d (entry seq %d, %s): %s", e.Line, e.Seq, e.Type, e.Reason)
	}
	return fmt.Sprintf("journal line %d: %s", e.Line, e.Reason)
}

// ReadJournal reads and verifies a journal file. On a broken chain it
// returns the entries before the break and a *ChainError.
func ReadJournal(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseJournal(b)
}

// ParseJournal parses and verifies journal bytes (see ReadJournal). A last
// line without a newline that does not parse is a write torn by a crash:
// it is reported as such, not silently dropped.
func ParseJournal(b []byte) ([]Entry, error) {
	return parseJournal(b, nil, 0)
}

// parseJournal parses and verifies journal lines that follow last (nil for
// a whole journal), whose line in the file is lineBase: Append uses it to
// read only what other processes appended since this one last read.
func parseJournal(b []byte, last *Entry, lineBase int) ([]Entry, error) {
	var out []Entry
	prev, seq0 := GenesisHash, 0
	if last != nil {
		prev, seq0 = last.Hash, last.Seq
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := lineBase
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		fail := func(e *Entry, reason string) ([]Entry, error) {
			ce := &ChainError{Line: n, Reason: reason}
			if e != nil {
				ce.Seq, ce.Type = e.Seq, e.Type
			}
			return out, ce
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return fail(nil, "not a journal entry: "+err.Error())
		}
		if len(line) < hashSuffixLen || !bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(`,"hash":"`)) {
			return fail(&e, "no hash field at the end of the entry")
		}
		hash := string(line[len(line)-hashSuffixLen+len(`,"hash":"`) : len(line)-2])
		body := append(append([]byte{}, line[:len(line)-hashSuffixLen]...), '}')
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != hash {
			return fail(&e, "hash does not match the entry's content (entry edited)")
		}
		if e.Prev != prev {
			return fail(&e, "prev_hash does not match the entry before it (entry removed, inserted or reordered)")
		}
		if e.Seq != seq0+len(out)+1 {
			return fail(&e, fmt.Sprintf("seq %d where %d was expected", e.Seq, seq0+len(out)+1))
		}
		e.Hash = hash
		e.Raw = append([]byte{}, line...)
		out = append(out, e)
		prev = hash
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	return out, nil
}

// appendEntry writes e as the next line of the journal open in f (for
// append, and locked by the caller), chained to last (nil for the first
// entry), and syncs it to disk before returning, so a kill -9 right after a
// command step started still finds the step.
func appendEntry(f *os.File, last *Entry, typ string, data any, now time.Time) (Entry, error) {
	e := Entry{Seq: 1, TS: now.UTC(), Type: typ, Prev: GenesisHash}
	if last != nil {
		e.Seq, e.Prev = last.Seq+1, last.Hash
	}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			return Entry{}, fmt.Errorf("journal %s: %w", typ, err)
		}
		e.Data = raw
	}
	line, hash, err := encodeEntry(e)
	if err != nil {
		return Entry{}, err
	}
	e.Hash, e.Raw = hash, line
	if _, err := f.Write(append(line, '\n')); err != nil {
		return Entry{}, err
	}
	return e, f.Sync()
}

// redactValue returns v with every string in it redacted, by way of its JSON
// form, so a secret holding quotes or backslashes is matched as text and not
// as its escaped JSON spelling.
func redactValue(r *Redactor, v any) (any, error) {
	if v == nil || r == nil {
		return v, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return walkRedact(r, generic), nil
}

func walkRedact(r *Redactor, v any) any {
	switch t := v.(type) {
	case string:
		return scrub(r, t)
	case []any:
		for i := range t {
			t[i] = walkRedact(r, t[i])
		}
		return t
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[scrub(r, k)] = walkRedact(r, x)
		}
		return out
	}
	return v
}

// VerifyFile checks the hash chain of a journal, given the journal itself or
// the proof file beside it, and that the proof names the journal's head.
// It returns the number of entries verified.
func VerifyFile(path string) (int, error) {
	jpath, proof := path, ""
	if strings.HasSuffix(path, ".md") {
		proof = path
		jpath = strings.TrimSuffix(path, ".md") + journalSuffix
	}
	entries, err := ReadJournal(jpath)
	if err != nil {
		return len(entries), err
	}
	if len(entries) == 0 {
		return 0, errors.New("journal is empty")
	}
	if proof != "" {
		b, err := os.ReadFile(proof)
		if err != nil {
			return len(entries), err
		}
		head := entries[len(entries)-1]
		if !bytes.Contains(b, []byte(head.Hash)) {
			return len(entries), fmt.Errorf("proof %s does not name the journal head (entry seq %d, sha256 %s): proof and journal disagree (if a dr command was killed right after journaling, 'casino dr status' re-renders the proof; otherwise the journal lost entries at its end)", proof, head.Seq, head.Hash)
		}
	}
	return len(entries), nil
}
