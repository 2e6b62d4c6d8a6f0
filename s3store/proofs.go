package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Proofs: `casino dr` mirrors the open incident's journal and proof to the
// remote after every journal entry, so the record of an incident survives
// the host it was run from. Under the remote's prefix,
//
//	proofs/<incident>/<seq>.journal.jsonl   the whole journal after entry seq
//	proofs/<incident>/<seq>.md              the proof rendered from it
//
// with seq zero-padded to eight digits. Each snapshot is a new object name:
// nothing is ever overwritten (a put that would is refused with
// ErrProofConflict unless the bytes are the same), so a later snapshot can
// never hide an earlier one, and with Object Lock (or the bucket's default
// retention) none can be deleted either. The newest complete snapshot is the
// incident's record.

// ProofsDir is the folder of mirrored proofs under the remote's prefix.
const ProofsDir = "proofs"

// Limits on a mirrored proof read back before it is verified.
const (
	maxProofJournal = 64 << 20
	maxProofFile    = 64 << 20
)

// ErrProofConflict: the bucket already holds a different snapshot under the
// same incident and seq: two hosts wrote the same incident, or someone
// replaced an object.
var ErrProofConflict = errors.New("a different proof snapshot with the same incident and seq is already in the bucket")

var proofIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidProofID refuses incident ids that could leave proofs/<id>/.
func ValidProofID(id string) error {
	if !proofIDRe.MatchString(id) || strings.Contains(id, "..") {
		return fmt.Errorf("invalid incident id %q", id)
	}
	return nil
}

func (s *Store) proofKey(id, name string) string {
	return s.Key(ProofsDir) + "/" + id + "/" + name
}

// ProofSnapshot names one mirrored snapshot of an incident.
type ProofSnapshot struct {
	Incident string `json:"incident"`
	Seq      int    `json:"seq"`
	// Complete: both the journal and the proof object exist.
	Complete bool `json:"complete"`
}

func proofNames(seq int) (journal, proof string) {
	p := fmt.Sprintf("%08d", seq)
	return p + ".journal.jsonl", p + ".md"
}

// ProofURL is where the snapshots of incident id live.
func (s *Store) ProofURL(id string) string {
	return Scheme + s.bucket + "/" + s.proofKey(id, "")
}

// PutProof stores the journal and proof of incident id as they stand after
// journal entry seq: the journal first, then the proof, each under a new
// name and locked with lock when set. A snapshot already stored with the
// same bytes is left as it is (a retried mirror); different bytes are
// refused with ErrProofConflict.
func (s *Store) PutProof(ctx context.Context, id string, seq int, journal, proof []byte, lock Lock) error {
	if err := ValidProofID(id); err != nil {
		return err
	}
	if seq <= 0 {
		return fmt.Errorf("mirror incident %s: seq %d", id, seq)
	}
	jn, pn := proofNames(seq)
	for _, o := range []struct {
		name string
		b    []byte
		ct   string
	}{{jn, journal, "application/x-ndjson"}, {pn, proof, "text/markdown; charset=utf-8"}} {
		if err := s.putOnce(ctx, s.proofKey(id, o.name), o.b, o.ct, lock); err != nil {
			return fmt.Errorf("mirror incident %s entry %d: %w", id, seq, err)
		}
	}
	return nil
}

// putOnce writes key unless it exists: If-None-Match: * where the server
// honours it, and a HEAD first where it does not. An existing object with
// the same bytes is success.
func (s *Store) putOnce(ctx context.Context, key string, b []byte, ct string, lock Lock) error {
	same := func() error {
		old, err := s.readKey(ctx, key, int64(len(b))+1)
		if err != nil {
			return err
		}
		if !bytes.Equal(old, b) {
			return fmt.Errorf("%s: %w", key, ErrProofConflict)
		}
		return nil
	}
	if _, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err == nil {
		return same()
	} else if minio.ToErrorResponse(err).StatusCode != 404 {
		return s.wrap("stat "+key, err)
	}
	po := minio.PutObjectOptions{
		DisableMultipart: true,
		AutoChecksum:     minio.ChecksumCRC32C,
		SendContentMd5:   true,
		ContentType:      ct,
	}
	po.SetMatchETagExcept("*")
	if lock.IsSet() {
		po.Mode = minio.RetentionMode(lock.Mode)
		po.RetainUntilDate = lock.Until.UTC()
	}
	_, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), po)
	if er := minio.ToErrorResponse(err); err != nil && er.StatusCode == 412 {
		return same()
	}
	return s.wrap("upload "+key, err)
}

func (s *Store) readKey(ctx context.Context, key string, max int64) ([]byte, error) {
	o, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrap("read "+key, err)
	}
	defer o.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(o, max+1))
	if err != nil {
		return nil, s.wrap("read "+key, err)
	}
	if n > max {
		return nil, fmt.Errorf("read %s: more than the %d bytes allowed", key, max)
	}
	return buf.Bytes(), nil
}

// ProofSnapshots lists the mirrored snapshots, by incident, oldest first.
// Objects under proofs/ that are not snapshots are ignored.
func (s *Store) ProofSnapshots(ctx context.Context) (map[string][]ProofSnapshot, error) {
	p := s.Key(ProofsDir) + "/"
	type halves struct{ j, p bool }
	seen := map[string]map[int]*halves{}
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if o.Err != nil {
			return nil, s.wrap("list "+Scheme+s.bucket+"/"+p, o.Err)
		}
		id, name, ok := strings.Cut(strings.TrimPrefix(o.Key, p), "/")
		if !ok || ValidProofID(id) != nil || strings.Contains(name, "/") {
			continue
		}
		num, kind, ok := strings.Cut(name, ".")
		seq, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 8 || seq <= 0 || (kind != "journal.jsonl" && kind != "md") {
			continue
		}
		if seen[id] == nil {
			seen[id] = map[int]*halves{}
		}
		h := seen[id][seq]
		if h == nil {
			h = &halves{}
			seen[id][seq] = h
		}
		if kind == "md" {
			h.p = true
		} else {
			h.j = true
		}
	}
	out := map[string][]ProofSnapshot{}
	for id, m := range seen {
		for seq, h := range m {
			out[id] = append(out[id], ProofSnapshot{Incident: id, Seq: seq, Complete: h.j && h.p})
		}
		sort.Slice(out[id], func(i, j int) bool { return out[id][i].Seq < out[id][j].Seq })
	}
	return out, nil
}

// LatestProof returns the newest complete snapshot of incident id: its seq,
// journal and proof bytes. ErrNotFound when the bucket has none.
func (s *Store) LatestProof(ctx context.Context, id string) (int, []byte, []byte, error) {
	if err := ValidProofID(id); err != nil {
		return 0, nil, nil, err
	}
	all, err := s.ProofSnapshots(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	snaps := all[id]
	for i := len(snaps) - 1; i >= 0; i-- {
		if !snaps[i].Complete {
			continue
		}
		jn, pn := proofNames(snaps[i].Seq)
		j, err := s.readKey(ctx, s.proofKey(id, jn), maxProofJournal)
		if err != nil {
			return 0, nil, nil, err
		}
		p, err := s.readKey(ctx, s.proofKey(id, pn), maxProofFile)
		if err != nil {
			return 0, nil, nil, err
		}
		return snaps[i].Seq, j, p, nil
	}
	return 0, nil, nil, fmt.Errorf("incident %s in %s: %w (no mirrored proof)", id, s.URL(), ErrNotFound)
}

// ProofMirror mirrors incident records to a store (it satisfies dr.Mirror
// without either package importing the other).
type ProofMirror struct {
	Store *Store
	Ctx   context.Context
	// Lock, when set, locks every snapshot object.
	Lock Lock
}

// PutProof stores one snapshot (Store.PutProof).
func (m *ProofMirror) PutProof(id string, seq int, journal, proof []byte) error {
	return m.Store.PutProof(m.Ctx, id, seq, journal, proof, m.Lock)
}

// Where is the incident's folder in the bucket.
func (m *ProofMirror) Where(id string) string { return m.Store.ProofURL(id) }
