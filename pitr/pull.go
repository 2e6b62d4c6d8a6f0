package pitr

// Pulling: RemoteShipper in reverse. When the host that ran `casino pitr
// stream` is lost, its stream folder is gone, but the bucket holds every
// signed base backup and WAL batch it shipped. Pull rebuilds a stream folder
// from them, in the layout a recovery reads (pitr.go), checking everything
// before it is written: each manifest's signature against the verify keys,
// each file's size and sha256 (of the plaintext) against its manifest, the
// names against the shapes the streamer writes, and the WAL for gaps. It
// writes into a temporary folder beside the target and renames it into place
// only when complete, so a failed or killed pull leaves no stream folder.
//
// What the bucket cannot hold is the newest seconds: the segment
// pg_receivewal was still writing (.partial) and completed segments not yet
// sealed are never shipped. A pulled folder's window therefore ends at the
// last commit in the WAL it pulled, found with pg_waldump; the RPO of a
// restore from the bucket is how often segments complete (archive_timeout on
// the server bounds it; docs/ops/pitr.md).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"casino/keys"
	"casino/s3store"
)

// ErrMissing: a file a signed manifest lists is not in the bucket, or the
// WAL in the bucket has a gap. The error names what is missing.
var ErrMissing = errors.New("stream file missing from the remote")

// Decrypter opens an age-encrypted stream (backup.Keys.DecryptFrom).
type Decrypter func(r io.Reader) (io.Reader, error)

// PullOptions configures Pull.
type PullOptions struct {
	// Store is REMOTE/pitr: the folder `casino pitr stream --remote` ships to.
	Store *s3store.Store
	// Dir is the stream folder to create. It must not exist: the pull
	// writes a temporary folder beside it and renames it at the end.
	Dir string
	// Target, when set, pulls only the newest base backup that finished at
	// or before it, and the WAL from that base backup's start onward; nil
	// pulls every base backup in the bucket.
	Target *time.Time
	// Verify are the public keys a manifest may be signed with.
	Verify []keys.Public
	// Decrypt opens NAME.age objects; nil refuses encrypted objects.
	Decrypt Decrypter
	// BinDir, when set, is the only folder pg_waldump (of the stream's
	// major) is taken from; otherwise /usr/lib/postgresql/<major>/bin, then
	// PATH. It finds the last commit in the pulled WAL: the window's end.
	BinDir string
	// Log receives one line per step; may be nil.
	Log io.Writer
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Pulled is what Pull wrote; the folder holds it as pulled.json.
type Pulled struct {
	Dir      string     `json:"dir"`
	Remote   string     `json:"remote"`
	PulledAt time.Time  `json:"pulled_at"`
	Target   *time.Time `json:"target,omitempty"`
	// BaseBackups are the names of the base backups pulled, oldest first.
	BaseBackups []string `json:"base_backups"`
	// LeftOut names the base backups not pulled because a lost slot cut
	// their WAL off (a new base backup followed), each with why.
	LeftOut []string `json:"left_out,omitempty"`
	// WALSegments is how many WAL segments were pulled; FirstWAL and
	// LastWAL name the first and last.
	WALSegments int    `json:"wal_segments"`
	FirstWAL    string `json:"first_wal,omitempty"`
	LastWAL     string `json:"last_wal,omitempty"`
	// Files and Bytes count the verified plaintext files written.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Encrypted counts the files that were age-encrypted in the bucket.
	Encrypted int `json:"encrypted"`
	// KeyFingerprints are the keys the pulled manifests were signed with.
	KeyFingerprints []string `json:"key_fingerprints"`
	// Window is what a restore from the folder can reach: from the oldest
	// pulled base backup's end to the last commit in the pulled WAL. nil
	// when the WAL holds no commit after that base backup.
	Window *Window `json:"window,omitempty"`
	// LastCommit is the newest commit in the pulled WAL.
	LastCommit *time.Time `json:"last_commit,omitempty"`
	Seconds    float64    `json:"seconds"`
}

// PulledFile is pulled.json's name in the stream folder.
const PulledFile = "pulled.json"

var (
	remoteBaseManifestRE = regexp.MustCompile(`^base-([0-9]{8}T[0-9]{6}Z)-manifest\.json$`)
	remoteWALManifestRE  = regexp.MustCompile(`^sealed-(wal-[0-9A-F]{24}-[0-9A-F]{24}\.json)$`)
	baseFiles            = []string{"base.tar.gz", "pg_wal.tar.gz", "backup_manifest", "info.json"}
)

// pullFile is one file to download: its object (without .age), where it
// goes, and what its signed manifest says of it.
type pullFile struct {
	object string
	dst    string // relative to the stream folder
	want   SealedFile
	from   string // the manifest object that lists it
}

// remoteManifest is one verified manifest of the bucket.
type remoteManifest struct {
	object   string
	local    string // relative path in the stream folder
	bytes    []byte
	sig      []byte
	m        *Manifest
	segments []pullSeg // WAL manifests: the segments it lists, parsed
}

func (o *PullOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Pull rebuilds a stream folder at o.Dir from the bucket, verified, and
// returns what it wrote. Nothing is left at o.Dir when it fails: a tampered,
// foreign-signed, missing or oddly named file is refused (ErrTampered,
// ErrMissing, each naming the object), as is a target before every base
// backup (ErrOutsideWindow) or a bucket without one (ErrNoBaseBackup).
func Pull(ctx context.Context, o PullOptions) (*Pulled, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	began := o.Now()
	if o.Store == nil || o.Dir == "" {
		return nil, errors.New("pull: no remote or no folder named")
	}
	if len(o.Verify) == 0 {
		return nil, fmt.Errorf("%w: no verify key is configured (set CASINO_BACKUP_VERIFY_KEY to the public half of the key casino pitr stream signs with)", ErrTampered)
	}
	dir := filepath.Clean(o.Dir)
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("refusing to pull into %s: it exists (name a new folder)", dir)
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	objs, err := o.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	present := map[string]s3store.Object{}
	for _, ob := range objs {
		present[ob.Name] = ob
	}
	bases, wals, err := o.readManifests(ctx, objs)
	if err != nil {
		return nil, err
	}
	if len(bases) == 0 {
		return nil, fmt.Errorf("%w: %s holds no signed base backup manifest (base-<stamp>-manifest.json)", ErrNoBaseBackup, o.Store.URL())
	}
	sel := bases
	if o.Target != nil {
		var pick *remoteManifest
		for _, b := range bases {
			if !b.m.Base.FinishedAt.After(*o.Target) {
				pick = b
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("%w: %s is before the oldest base backup in %s (%s, finished %s UTC)", ErrOutsideWindow,
				o.Target.UTC().Format(time.RFC3339Nano), o.Store.URL(), bases[0].m.Base.Name, bases[0].m.Base.FinishedAt.UTC().Format(time.RFC3339))
		}
		sel = []*remoteManifest{pick}
	}
	plan, err := planPull(sel, bases, wals)
	if err != nil {
		return nil, err
	}
	sel, files, walMans, segs := plan.bases, plan.files, plan.mans, plan.segs
	for _, d := range plan.dropped {
		o.logf("pitr pull: leaving out base backup %s", d)
	}
	for _, f := range files {
		_, enc := present[f.object+".age"]
		_, plain := present[f.object]
		if !enc && !plain {
			return nil, fmt.Errorf("%w: %s (listed in %s) is not in %s", ErrMissing, f.object, f.from, o.Store.URL())
		}
	}

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, err
	}
	removeDeadFolders(parent, "."+filepath.Base(dir)+".pull-")
	tmp, err := os.MkdirTemp(parent, fmt.Sprintf(".%s.pull-%d-", filepath.Base(dir), os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("pull: temporary folder: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	res := &Pulled{Dir: dir, Remote: o.Store.URL(), Target: o.Target, LeftOut: plan.dropped}
	fps := map[string]bool{}
	for _, b := range sel {
		res.BaseBackups = append(res.BaseBackups, b.m.Base.Name)
		fps[b.m.KeyFingerprint] = true
	}
	for _, w := range walMans {
		fps[w.m.KeyFingerprint] = true
	}
	for fp := range fps {
		res.KeyFingerprints = append(res.KeyFingerprints, fp)
	}
	sort.Strings(res.KeyFingerprints)
	res.WALSegments = len(segs)
	if len(segs) > 0 {
		res.FirstWAL, res.LastWAL = segs[0].name, segs[len(segs)-1].name
	}
	o.logf("pitr pull: %d base backups (%s) and %d WAL segments from %s", len(sel), strings.Join(res.BaseBackups, ", "), len(segs), o.Store.URL())
	for _, d := range []string{"wal", "base", "sealed"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			return nil, err
		}
	}
	for _, b := range sel {
		if err := os.Mkdir(filepath.Join(tmp, "base", b.m.Base.Name), 0o700); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		enc, err := o.download(ctx, f, filepath.Join(tmp, f.dst), present)
		if err != nil {
			return nil, err
		}
		res.Files++
		res.Bytes += f.want.Size
		if enc {
			res.Encrypted++
		}
	}
	// The manifests last, as they were shipped: exactly the signed bytes.
	for _, m := range append(append([]*remoteManifest(nil), sel...), walMans...) {
		p := filepath.Join(tmp, m.local)
		if err := writeFileAtomic(p+".sig", m.sig); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(p, m.bytes); err != nil {
			return nil, err
		}
	}
	// The window's end: the last commit in the pulled WAL. stream.json says
	// so in the streamer's own terms (caught up to it, not receiving).
	newest := sel[len(sel)-1].m.Base
	if len(segs) > 0 {
		waldump, err := findTool("pg_waldump", o.BinDir, newest.ServerMajor)
		if err != nil {
			return nil, fmt.Errorf("pull: finding the last commit in the pulled WAL: %w", err)
		}
		last, err := lastCommit(ctx, waldump, filepath.Join(tmp, "wal"))
		if err != nil {
			return nil, fmt.Errorf("pull: finding the last commit in the pulled WAL: %w", err)
		}
		if last != nil {
			at := last.at.UTC()
			res.LastCommit = &at
			if !at.Before(sel[0].m.Base.FinishedAt) {
				res.Window = &Window{Start: sel[0].m.Base.FinishedAt, End: at}
			}
		}
	}
	state := &streamState{ServerMajor: newest.ServerMajor, UpdatedAt: o.Now().UTC()}
	if res.Window != nil {
		end := res.Window.End
		state.CaughtUpAt = &end
	}
	if err := writeState(tmp, state); err != nil {
		return nil, err
	}
	res.PulledAt = o.Now().UTC()
	res.Seconds = res.PulledAt.Sub(began).Seconds()
	pj, _ := json.MarshalIndent(res, "", "  ")
	if err := writeFileAtomic(filepath.Join(tmp, PulledFile), append(pj, '\n')); err != nil {
		return nil, err
	}
	for _, d := range []string{"wal", "sealed", "base", "."} {
		syncDir(filepath.Join(tmp, d))
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("refusing to pull into %s: it appeared while pulling", dir)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	done = true
	syncDir(parent)
	return res, nil
}

// readManifests reads and verifies every manifest in the listing: base
// backups oldest first, WAL batches in name order. Objects of other shapes
// are not read (data objects are reached through the manifests).
func (o *PullOptions) readManifests(ctx context.Context, objs []s3store.Object) (bases, wals []*remoteManifest, err error) {
	v := Verifier{Keys: o.Verify}
	for _, ob := range objs {
		bm := remoteBaseManifestRE.FindStringSubmatch(ob.Name)
		wm := remoteWALManifestRE.FindStringSubmatch(ob.Name)
		if bm == nil && wm == nil {
			continue
		}
		mb, _, err := o.Store.ReadSmall(ctx, ob.Name, "", maxManifest)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: manifest %s: %v", ErrTampered, ob.Name, err)
		}
		sig, _, err := o.Store.ReadSmall(ctx, ob.Name+".sig", "", 1024)
		if errors.Is(err, s3store.ErrNotFound) {
			return nil, nil, fmt.Errorf("%w: %s is unsigned: %s.sig is not in %s", ErrTampered, ob.Name, ob.Name, o.Store.URL())
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s.sig: %v", ErrTampered, ob.Name, err)
		}
		if bm != nil {
			m, err := v.parseManifest(ob.Name, mb, sig, baseManifestFormat)
			if err != nil {
				return nil, nil, err
			}
			if m.Base == nil || m.Base.Name != bm[1] {
				return nil, nil, fmt.Errorf("%w: %s describes base backup %q, not %s", ErrTampered, ob.Name, baseName(m), bm[1])
			}
			if len(m.Files) != len(baseFiles) {
				return nil, nil, fmt.Errorf("%w: %s lists %d files, a base backup has %s", ErrTampered, ob.Name, len(m.Files), strings.Join(baseFiles, ", "))
			}
			for _, f := range m.Files {
				if !isBaseFile(f.Name) {
					return nil, nil, fmt.Errorf("%w: %s lists %q, which is no base backup file", ErrTampered, ob.Name, f.Name)
				}
			}
			if _, err := parseLSN(m.Base.StartLSN); err != nil || m.Base.Timeline < 1 {
				return nil, nil, fmt.Errorf("%w: %s: start %q on timeline %d is no WAL position", ErrTampered, ob.Name, m.Base.StartLSN, m.Base.Timeline)
			}
			bases = append(bases, &remoteManifest{object: ob.Name, local: filepath.Join("base", bm[1], "manifest.json"), bytes: mb, sig: sig, m: m})
			continue
		}
		m, err := v.parseManifest(ob.Name, mb, sig, walManifestFormat)
		if err != nil {
			return nil, nil, err
		}
		rm := &remoteManifest{object: ob.Name, local: filepath.Join("sealed", wm[1]), bytes: mb, sig: sig, m: m}
		for _, f := range m.Files {
			s, ok := parseSegName(f.Name, f.Size)
			if !ok {
				return nil, nil, fmt.Errorf("%w: %s lists %q (%d bytes), which is no complete WAL segment", ErrTampered, ob.Name, f.Name, f.Size)
			}
			rm.segments = append(rm.segments, s)
		}
		wals = append(wals, rm)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i].m.Base.Name < bases[j].m.Base.Name })
	sort.Slice(wals, func(i, j int) bool { return wals[i].object < wals[j].object })
	return bases, wals, nil
}

func baseName(m *Manifest) string {
	if m.Base == nil {
		return ""
	}
	return m.Base.Name
}

func isBaseFile(name string) bool {
	for _, n := range baseFiles {
		if n == name {
			return true
		}
	}
	return false
}

// pullSeg is one complete WAL segment a manifest lists.
type pullSeg struct {
	name string
	no   uint64 // segment number: LSN / segment size
	tli  int
	size int64
}

// parseSegName parses a complete segment's name with its size (a power of
// two from 1 MiB to 1 GiB, as PostgreSQL allows).
func parseSegName(name string, size int64) (pullSeg, bool) {
	m := segNameRE.FindStringSubmatch(name)
	if m == nil || m[4] != "" || size < 1<<20 || size > 1<<30 || size&(size-1) != 0 {
		return pullSeg{}, false
	}
	tli, _ := strconv.ParseUint(m[1], 16, 32)
	hi, _ := strconv.ParseUint(m[2], 16, 32)
	lo, _ := strconv.ParseUint(m[3], 16, 32)
	perID := uint64(0x100000000) / uint64(size)
	if lo >= perID {
		return pullSeg{}, false
	}
	return pullSeg{name: name, no: hi*perID + lo, tli: int(tli), size: size}, true
}

// pullPlan is what a pull downloads.
type pullPlan struct {
	bases   []*remoteManifest // the base backups kept, oldest first
	dropped []string          // base backups cut off by a lost slot, with why
	files   []pullFile
	mans    []*remoteManifest // the WAL manifests listing a pulled segment
	segs    []pullSeg         // the pulled segments, in order
}

// planPull lists the files to download for the selected base backups: each
// base backup's files, and the WAL segments of its timeline from its start
// onward, which must be contiguous. A gap is a missing WAL batch (an error),
// unless a later base backup in the bucket starts after it: then the gap is
// a lost replication slot (a failover, max_slot_wal_keep_size), after which
// the stream took a new base backup. A base backup before such a gap keeps
// only the WAL up to it; with several selected, it is dropped instead, as
// the stream itself moves it to old/, so no base backup's WAL in the pulled
// folder has a gap a restore would refuse. A base backup followed by one on
// another timeline (a failover) is dropped the same way when several are
// selected: nothing joins its WAL to the later timeline's.
func planPull(sel, all, wals []*remoteManifest) (*pullPlan, error) {
	type listed struct {
		seg  pullSeg
		want SealedFile
		from string
	}
	byName := map[string]listed{}
	var segSize int64
	for _, w := range wals {
		for i, f := range w.m.Files {
			s := w.segments[i]
			if segSize == 0 {
				segSize = s.size
			}
			if s.size != segSize {
				return nil, fmt.Errorf("%w: %s lists %s with %d bytes; other segments have %d", ErrTampered, w.object, f.Name, s.size, segSize)
			}
			if prev, ok := byName[f.Name]; ok && prev.want != f {
				return nil, fmt.Errorf("%w: WAL segment %s is listed in %s and in %s with different hashes", ErrTampered, f.Name, prev.from, w.object)
			}
			byName[f.Name] = listed{seg: s, want: f, from: w.object}
		}
	}
	startSeg := func(b *remoteManifest) uint64 {
		start, _ := parseLSN(b.m.Base.StartLSN)
		return start / uint64(segSize)
	}
	// restartedAfter returns the oldest base backup later than b that
	// starts on its timeline at or after segment no, nil when none does.
	restartedAfter := func(b *remoteManifest, no uint64) *remoteManifest {
		for _, o := range all {
			if o.m.Base.Name > b.m.Base.Name && o.m.Base.Timeline == b.m.Base.Timeline && startSeg(o) >= no {
				return o
			}
		}
		return nil
	}
	p := &pullPlan{}
	want := map[string]bool{}
	for _, b := range sel {
		if segSize == 0 {
			return nil, fmt.Errorf("%w: no signed WAL batch in the bucket: base backup %s needs the WAL from %s on", ErrMissing, b.m.Base.Name, b.m.Base.StartLSN)
		}
		// A later base backup on another timeline: a failover, after
		// which the stream lost its slot and moved this one to old/.
		// Its own timeline's WAL has no gap, but nothing joins it to
		// the later one's, so with several selected it is dropped too.
		if later := onLaterTimeline(b, all); later != nil && len(sel) > 1 {
			p.dropped = append(p.dropped, fmt.Sprintf("%s: its WAL is on timeline %d, and base backup %s is on timeline %d after it (a failover; the stream took a new base backup): pull it with --to-time before %s", b.m.Base.Name, b.m.Base.Timeline, later.m.Base.Name, later.m.Base.Timeline, later.m.Base.StartedAt.UTC().Format(time.RFC3339)))
			continue
		}
		first := startSeg(b)
		var nos []pullSeg
		for _, l := range byName {
			if l.seg.tli == b.m.Base.Timeline && l.seg.no >= first {
				nos = append(nos, l.seg)
			}
		}
		sort.Slice(nos, func(i, j int) bool { return nos[i].no < nos[j].no })
		if len(nos) == 0 || nos[0].no != first {
			return nil, fmt.Errorf("%w: the WAL segment holding %s (timeline %d), where base backup %s starts, is in no signed WAL batch in the bucket", ErrMissing, b.m.Base.StartLSN, b.m.Base.Timeline, b.m.Base.Name)
		}
		run := nos
		var restart *remoteManifest
		for i := 1; i < len(nos); i++ {
			if nos[i].no == nos[i-1].no+1 {
				continue
			}
			if restart = restartedAfter(b, nos[i].no); restart == nil {
				return nil, fmt.Errorf("%w: WAL gap after segment %s: the next one in the bucket is %s (a WAL batch is missing)", ErrMissing, nos[i-1].name, nos[i].name)
			}
			run = nos[:i]
			break
		}
		if len(run) < len(nos) && len(sel) > 1 {
			p.dropped = append(p.dropped, fmt.Sprintf("%s: its WAL stops at %s, where the stream lost its slot and took base backup %s: pull it with --to-time before %s", b.m.Base.Name, run[len(run)-1].name, restart.m.Base.Name, restart.m.Base.StartedAt.UTC().Format(time.RFC3339)))
			continue
		}
		p.bases = append(p.bases, b)
		for _, sg := range run {
			want[sg.name] = true
		}
	}
	if len(p.bases) == 0 {
		return nil, fmt.Errorf("%w: no base backup in the bucket has its WAL complete", ErrMissing)
	}
	for _, b := range p.bases {
		prefix := "base-" + b.m.Base.Name + "-"
		for _, f := range b.m.Files {
			p.files = append(p.files, pullFile{object: prefix + f.Name, dst: filepath.Join("base", b.m.Base.Name, f.Name), want: f, from: b.object})
		}
	}
	for name := range want {
		l := byName[name]
		p.segs = append(p.segs, l.seg)
		p.files = append(p.files, pullFile{object: "wal-" + name, dst: filepath.Join("wal", name), want: l.want, from: l.from})
	}
	sort.Slice(p.segs, func(i, j int) bool {
		if p.segs[i].tli != p.segs[j].tli {
			return p.segs[i].tli < p.segs[j].tli
		}
		return p.segs[i].no < p.segs[j].no
	})
	for _, w := range wals {
		for _, f := range w.m.Files {
			if want[f.Name] {
				p.mans = append(p.mans, w)
				break
			}
		}
	}
	return p, nil
}

// onLaterTimeline returns a base backup later than b on another timeline,
// nil when there is none.
func onLaterTimeline(b *remoteManifest, all []*remoteManifest) *remoteManifest {
	for _, o := range all {
		if o.m.Base.Name > b.m.Base.Name && o.m.Base.Timeline != b.m.Base.Timeline {
			return o
		}
	}
	return nil
}

// download writes one file's plaintext to dst (a new file), checking its
// size and sha256 against the manifest as it streams. It reports whether
// the object was encrypted.
func (o *PullOptions) download(ctx context.Context, f pullFile, dst string, present map[string]s3store.Object) (bool, error) {
	name, enc := f.object+".age", true
	if _, ok := present[name]; !ok {
		name, enc = f.object, false
	}
	if enc && o.Decrypt == nil {
		return true, fmt.Errorf("%s is age-encrypted: set CASINO_BACKUP_IDENTITY to the age identity of the recipients casino pitr stream encrypts to", name)
	}
	rc, _, err := o.Store.Get(ctx, name, "")
	if err != nil {
		if errors.Is(err, s3store.ErrNotFound) {
			return enc, fmt.Errorf("%w: %s (listed in %s)", ErrMissing, name, f.from)
		}
		return enc, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if enc {
		if r, err = o.Decrypt(rc); err != nil {
			var nomatch *age.NoIdentityMatchError
			if errors.As(err, &nomatch) {
				return enc, fmt.Errorf("%s is not encrypted to the age identity in CASINO_BACKUP_IDENTITY: give the identity of the recipients casino pitr stream encrypts to (CASINO_BACKUP_RECIPIENTS)", name)
			}
			return enc, fmt.Errorf("%w: %s does not decrypt: %v", ErrTampered, name, err)
		}
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return enc, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, f.want.Size+1))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if enc && !errors.Is(err, context.Canceled) {
			return enc, fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
		}
		return enc, fmt.Errorf("download %s: %w", name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if n != f.want.Size || sum != f.want.SHA256 {
		size := fmt.Sprint(n)
		if n > f.want.Size {
			size = "more than " + fmt.Sprint(f.want.Size)
		}
		return enc, fmt.Errorf("%w: %s has sha256 %s (%s bytes), its signed manifest %s says %s (%d bytes): changed in the bucket", ErrTampered, name, sum, size, f.from, f.want.SHA256, f.want.Size)
	}
	return enc, nil
}

// PullToScratch pulls o's stream (o.Dir is ignored) into a new folder under
// scratchDir (the system's temporary folder when empty) and returns the
// stream folder and a function that removes it: `restore --to-time
// --pitr-dir s3://...` restores from it and removes it when done.
func PullToScratch(ctx context.Context, o PullOptions, scratchDir string) (dir string, remove func(), err error) {
	tmp, err := os.MkdirTemp(scratchDir, "casino-pitr-pull-")
	if err != nil {
		return "", nil, fmt.Errorf("scratch folder for the pull: %w", err)
	}
	remove = func() { os.RemoveAll(tmp) }
	o.Dir = filepath.Join(tmp, "stream")
	if _, err := Pull(ctx, o); err != nil {
		remove()
		return "", nil, err
	}
	return o.Dir, remove, nil
}
