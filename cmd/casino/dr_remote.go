package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"casino/dr"
	"casino/retention"
	"casino/s3store"
)

// The incident record off the host: with a remote (--remote, or
// CASINO_BACKUP_REMOTE), every dr command that journals mirrors the
// incident's journal and proof to s3://bucket/prefix/proofs/<incident>/
// (s3store.ProofMirror); dr status --remote rebuilds them on a new host and
// dr verify-proof checks the mirrored copy.

// drRemoteURL is the remote the dr flags name: --remote=s3://..., else the
// bucket in CASINO_BACKUP_REMOTE ("" when neither is set).
func (f *drFlags) drRemoteURL() (string, bool) {
	if f.remote == nil || f.env == nil {
		return "", false // flags not bound: no remote
	}
	if f.remote.url != "" {
		return f.remote.url, true
	}
	if f.remote.set || f.env.Getenv("CASINO_BACKUP_REMOTE") != "" {
		return "", true
	}
	return "", false
}

// openProofStore opens the remote the dr flags name.
func (f *drFlags) openProofStore() (*s3store.Store, error) {
	url, _ := f.drRemoteURL()
	cfg, err := s3store.ConfigFromEnv(url, f.env.Getenv)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return st, nil
}

// attachMirror sets in's mirror when a remote is set, and reports whether
// it did. Every failure to mirror is printed loudly on stderr; the local
// record is never undone for it.
func (f *drFlags) attachMirror(in *dr.Incident) bool {
	if _, on := f.drRemoteURL(); !on {
		return false
	}
	warn := func(err error) {
		fmt.Fprintf(f.env.Stderr, "\n!!! WARNING: %v\n!!! The incident's record exists only on this host until a mirror succeeds.\n\n", err)
	}
	in.MirrorFailed = warn
	st, err := f.openProofStore()
	if err != nil {
		in.Mirror = unreachableMirror{err: err}
		return true
	}
	m := &s3store.ProofMirror{Store: st, Ctx: context.Background()}
	mode, min := f.env.Getenv("CASINO_BACKUP_LOCK_MODE"), f.env.Getenv("CASINO_BACKUP_LOCK_MIN")
	if mode != "" && min != "" {
		md, err1 := s3store.ParseMode(mode)
		d, err2 := retention.ParseSpan(min)
		if err1 == nil && err2 == nil && d > 0 {
			m.Lock = s3store.Lock{Mode: md, Until: time.Now().Add(d).UTC().Truncate(time.Second).Add(time.Second)}
		}
	}
	in.Mirror = m
	return true
}

// unreachableMirror stands in for a remote whose settings do not open: each
// mirror fails with the reason.
type unreachableMirror struct{ err error }

func (u unreachableMirror) PutProof(string, int, []byte, []byte) error { return u.err }
func (u unreachableMirror) Where(id string) string                     { return "the remote" }

// rebuildFromRemote takes the mirrored records of the remote into the proof
// folder (dr status --remote): the incident --incident names, or every
// incident whose newest mirrored snapshot is still open. Each is checked
// like verify-proof before it is written; a local journal is only ever
// extended. It prints what it did on w.
func rebuildFromRemote(ctx context.Context, w io.Writer, f *drFlags) error {
	st, err := f.openProofStore()
	if err != nil {
		return err
	}
	all, err := st.ProofSnapshots(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 && f.incident == "" {
		return fmt.Errorf("no mirrored incident in %s/%s/", st.URL(), s3store.ProofsDir)
	}
	rebuilt, err := dr.RebuildOpen(f.proofDir, f.incident, ids, func(id string) (int, []byte, []byte, error) {
		return st.LatestProof(ctx, id)
	})
	for _, r := range rebuilt {
		switch r.Action {
		case "written":
			fmt.Fprintf(w, "rebuilt incident %s from %s (entry %d): hash chain verified, proof re-rendered byte for byte\n", r.ID, st.ProofURL(r.ID), r.Seq)
		case "updated":
			fmt.Fprintf(w, "updated incident %s from %s: the mirror holds entries up to %d, more than this host had\n", r.ID, st.ProofURL(r.ID), r.Seq)
		case "unchanged":
			fmt.Fprintf(w, "incident %s: the local record equals the mirror (entry %d)\n", r.ID, r.Seq)
		case "local-ahead":
			fmt.Fprintf(w, "incident %s: the local record is ahead of the mirror (entry %d); mirroring it now\n", r.ID, r.Seq)
		}
	}
	if err != nil {
		return fmt.Errorf("dr status --remote: %w", err)
	}
	if len(rebuilt) == 0 {
		return fmt.Errorf("no open incident mirrored in %s/%s/ (name a closed one with --incident)", st.URL(), s3store.ProofsDir)
	}
	return nil
}

// fetchMirroredProof downloads the newest mirrored snapshot that arg names
// (s3://bucket/prefix/proofs/ID, or ID with --remote) into a new folder and
// returns the proof's path there; cleanup removes the folder.
func fetchMirroredProof(ctx context.Context, f *drFlags, arg string) (string, func(), error) {
	id := arg
	if s3store.IsRemote(arg) {
		base, rest, ok := strings.Cut(arg, "/"+s3store.ProofsDir+"/")
		if !ok {
			return "", nil, usageErrorf("dr verify-proof: want s3://bucket/prefix/%s/INCIDENT, not %s", s3store.ProofsDir, arg)
		}
		f.remote.set, f.remote.url = true, base
		id = strings.TrimSuffix(rest, "/")
	}
	if err := s3store.ValidProofID(id); err != nil {
		return "", nil, usageErrorf("dr verify-proof: %v", err)
	}
	st, err := f.openProofStore()
	if err != nil {
		return "", nil, err
	}
	_, j, p, err := st.LatestProof(ctx, id)
	if err != nil {
		return "", nil, err
	}
	tmp, err := os.MkdirTemp("", "casino-mirrored-proof-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	path, err := dr.WriteSnapshot(tmp, id, j, p)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}
