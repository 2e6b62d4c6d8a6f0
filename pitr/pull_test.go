package pitr

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"casino/backup"
	"casino/internal/testpg"
	"casino/internal/tests3"
	"casino/keys"
	"casino/s3store"
)

// fakeRemote is a bucket holding what RemoteShipper ships for a small
// stream folder built by hand: one base backup (four small files) and two
// signed WAL batches of 1 MiB segments, all age-encrypted. The data are
// random bytes: pull checks signatures, hashes and names, not WAL contents.
type fakeRemote struct {
	st      *s3store.Store
	id      *age.X25519Identity
	base    *BaseBackup
	segs    []string // segment names, in order
	batches []string // WAL manifest object names
	bin     string   // PostgreSQL binaries (pg_waldump)
	major   int
}

const fakeSegSize = 1 << 20

func segName(tli int, no uint64) string {
	perID := uint64(0x100000000) / fakeSegSize
	return fmt.Sprintf("%08X%08X%08X", tli, no/perID, no%perID)
}

func newFakeRemote(t *testing.T) *fakeRemote {
	t.Helper()
	bin, err := testpg.BinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	major, err := backup.ToolMajor(filepath.Join(bin, "pg_waldump"))
	if err != nil {
		t.Fatal(err)
	}
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{Versioning: true})
	st := openTestStore(t, srv, "s3://"+bucket+"/prod/"+RemotePrefix)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRemote{st: st, id: id, bin: bin, major: major}
	f.base = f.addBase(t, "20261202T030000Z", 0x10, 2, 2)
	if len(f.batches) != 2 {
		t.Fatalf("shipped %d WAL batches, want 2", len(f.batches))
	}
	return f
}

// addBase ships a base backup named stamp (finished 5 s after it) starting
// in segment startNo of timeline 1, and batches WAL batches of perBatch
// segments after it.
func (f *fakeRemote) addBase(t *testing.T, stamp string, startNo uint64, batches, perBatch int) *BaseBackup {
	t.Helper()
	return f.addBaseOn(t, 1, stamp, startNo, batches, perBatch)
}

// addBaseOn is addBase on timeline tli.
func (f *fakeRemote) addBaseOn(t *testing.T, tli int, stamp string, startNo uint64, batches, perBatch int) *BaseBackup {
	t.Helper()
	dir := t.TempDir()
	started, err := time.Parse("20060102T150405Z", stamp)
	if err != nil {
		t.Fatal(err)
	}
	b := &BaseBackup{Name: stamp, StartedAt: started, FinishedAt: started.Add(5 * time.Second),
		StartLSN: fmt.Sprintf("0/%X", startNo*fakeSegSize+0x28), EndLSN: fmt.Sprintf("0/%X", startNo*fakeSegSize+0x100), Timeline: tli, ServerMajor: f.major, BootstrapRole: "postgres"}
	bd := filepath.Join(dir, "base", b.Name)
	if err := os.MkdirAll(bd, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"base.tar.gz", "pg_wal.tar.gz", "backup_manifest"} {
		writeRandom(t, filepath.Join(bd, n), 4096)
	}
	info, _ := json.Marshal(b)
	os.WriteFile(filepath.Join(bd, "info.json"), info, 0o600)
	if err := sealBase(bd, b, testSigner); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	sealer, err := newWALSealer(dir, testSigner)
	if err != nil {
		t.Fatal(err)
	}
	no := startNo
	for batch := 0; batch < batches; batch++ {
		for i := 0; i < perBatch; i++ {
			name := segName(tli, no)
			no++
			writeRandom(t, filepath.Join(dir, "wal", name), fakeSegSize)
			f.segs = append(f.segs, name)
		}
		if _, err := sealer.seal(); err != nil {
			t.Fatal(err)
		}
	}
	ship := RemoteShipper(f.st, func(w io.Writer) (io.WriteCloser, error) { return age.Encrypt(w, f.id.Recipient()) }, nil)
	for _, p := range pendingShipments(dir) {
		if err := ship(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		if p.Kind == "wal" {
			f.batches = append(f.batches, "sealed-"+filepath.Base(p.Manifest))
		}
	}
	return b
}

func openTestStore(t *testing.T, srv tests3.Server, remote string) *s3store.Store {
	t.Helper()
	getenv := func(k string) string {
		for _, kv := range srv.Env() {
			if n, v, _ := strings.Cut(kv, "="); n == k {
				return v
			}
		}
		return ""
	}
	cfg, err := s3store.ConfigFromEnv(remote, getenv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func writeRandom(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeRemote) options(dir string) PullOptions {
	return PullOptions{Store: f.st, Dir: dir, Verify: []keys.Public{testSigner.Public()}, BinDir: f.bin,
		Decrypt: func(r io.Reader) (io.Reader, error) { return age.Decrypt(r, f.id) }}
}

func (f *fakeRemote) put(t *testing.T, name string, b []byte) {
	t.Helper()
	if _, err := f.st.PutSmall(context.Background(), name, b, s3store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// remove deletes every version of name.
func (f *fakeRemote) remove(t *testing.T, name string) {
	t.Helper()
	vs, err := f.st.Versions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Name == name {
			if err := f.st.Delete(context.Background(), name, v.VersionID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (f *fakeRemote) read(t *testing.T, name string) []byte {
	t.Helper()
	b, _, err := f.st.ReadSmall(context.Background(), name, "", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putManifest signs m with signer and uploads it and its signature as name.
func (f *fakeRemote) putManifest(t *testing.T, name string, m *Manifest, signer keys.Private) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.json")
	mb, sig, err := writeManifest(p, m, signer)
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, name+".sig", sig)
	f.put(t, name, mb)
}

func (f *fakeRemote) manifest(t *testing.T, name string) *Manifest {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(f.read(t, name), &m); err != nil {
		t.Fatal(err)
	}
	m.CreatedAt = time.Time{}
	return &m
}

// TestPullRefusesHostileRemote: every way the bucket can lie is refused
// with its own error naming the object, and leaves no stream folder (and no
// temporary folder) behind. The untouched bucket pulls into the layout a
// recovery reads, each file verified.
func TestPullRefusesHostileRemote(t *testing.T) {
	t.Parallel()
	other := keys.Private{Key: ed25519.NewKeyFromSeed([]byte("casino-pitr-test-another-key-32b"))}
	cases := []struct {
		name   string
		attack func(t *testing.T, f *fakeRemote, o *PullOptions)
		is     error
		want   string
	}{
		{"tampered object", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			// A valid age file of other bytes: only the signed hash tells.
			var buf bytes.Buffer
			w, _ := age.Encrypt(&buf, f.id.Recipient())
			w.Write(bytes.Repeat([]byte{0}, fakeSegSize))
			w.Close()
			f.put(t, "wal-"+f.segs[1]+".age", buf.Bytes())
		}, ErrTampered, "wal-" + "%SEG1%" + ".age has sha256"},
		{"corrupt ciphertext", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			ct := f.read(t, "base-"+f.base.Name+"-base.tar.gz.age")
			ct[len(ct)-20] ^= 0xff
			f.put(t, "base-"+f.base.Name+"-base.tar.gz.age", ct)
		}, ErrTampered, "base.tar.gz.age"},
		{"manifest signed by an unknown key", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			f.putManifest(t, f.batches[0], f.manifest(t, f.batches[0]), other)
		}, keys.ErrUnknownKey, "%BATCH0%: signature"},
		{"manifest changed after signing", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			b := f.read(t, f.batches[1])
			f.put(t, f.batches[1], bytes.Replace(b, []byte(`"size": 1048576`), []byte(`"size": 1048577`), 1))
		}, keys.ErrBadSignature, "%BATCH1%: signature"},
		{"manifest signature missing", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			f.remove(t, f.batches[0]+".sig")
		}, ErrTampered, "is unsigned"},
		{"file missing from the bucket", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			f.remove(t, "wal-"+f.segs[2]+".age")
		}, ErrMissing, "wal-%SEG2% (listed in %BATCH1%)"},
		{"WAL batch missing from the bucket", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			// The second batch removed, a third (later segment) kept: a gap.
			m := &Manifest{Format: walManifestFormat, Files: []SealedFile{f.manifest(t, f.batches[1]).Files[1]}}
			m.Files[0].Name = segName(1, 0x10+5)
			f.putManifest(t, "sealed-wal-"+m.Files[0].Name+"-"+m.Files[0].Name+".json", m, testSigner)
			f.remove(t, f.batches[1])
		}, ErrMissing, "WAL gap after segment %SEG1%"},
		{"file name escaping the folder", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			m := f.manifest(t, f.batches[0])
			m.Files[0].Name = "../../evil"
			f.putManifest(t, f.batches[0], m, testSigner)
		}, ErrTampered, `lists a file name "../../evil" that is not a plain name`},
		{"file name with a slash", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			m := f.manifest(t, f.batches[0])
			m.Files[0].Name = "wal/" + m.Files[0].Name
			f.putManifest(t, f.batches[0], m, testSigner)
		}, ErrTampered, "that is not a plain name"},
		{"WAL name that is no segment", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			m := f.manifest(t, f.batches[0])
			m.Files[0].Name = "postgresql.auto.conf"
			f.putManifest(t, f.batches[0], m, testSigner)
		}, ErrTampered, `lists "postgresql.auto.conf" (1048576 bytes), which is no complete WAL segment`},
		{"base backup named out of its folder", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			name := "base-" + f.base.Name + "-manifest.json"
			m := f.manifest(t, name)
			m.Base.Name = "../../evil"
			f.putManifest(t, name, m, testSigner)
		}, ErrTampered, `describes base backup "../../evil", not ` + "20261202T030000Z"},
		{"manifest naming a file twice", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			m := f.manifest(t, f.batches[0])
			m.Files = append(m.Files, m.Files[0])
			f.putManifest(t, f.batches[0], m, testSigner)
		}, ErrTampered, "lists %SEG0% twice"},
		{"segment listed twice with different hashes", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			m := f.manifest(t, f.batches[0])
			m.Files[0].SHA256 = strings.Repeat("0", 64)
			f.putManifest(t, "sealed-wal-"+f.segs[0]+"-"+f.segs[0]+".json", &Manifest{Format: walManifestFormat, Files: m.Files[:1]}, testSigner)
		}, ErrTampered, "WAL segment %SEG0% is listed in"},
		{"oversized manifest", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			big := append([]byte(`{"format":"casino-pitr-wal/1","files":[],"pad":"`), bytes.Repeat([]byte("x"), maxManifest)...)
			f.put(t, "sealed-wal-"+f.segs[3]+"-"+f.segs[3]+".json", append(big, `"}`...))
		}, ErrTampered, "more than the 16777216 allowed"},
		{"no verify key", func(t *testing.T, f *fakeRemote, o *PullOptions) { o.Verify = nil }, ErrTampered, "no verify key is configured"},
		{"no age identity", func(t *testing.T, f *fakeRemote, o *PullOptions) { o.Decrypt = nil }, nil, "is age-encrypted: set CASINO_BACKUP_IDENTITY"},
		{"another age identity", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			id, _ := age.GenerateX25519Identity()
			o.Decrypt = func(r io.Reader) (io.Reader, error) { return age.Decrypt(r, id) }
		}, nil, "is not encrypted to the age identity in CASINO_BACKUP_IDENTITY"},
		{"target before every base backup", func(t *testing.T, f *fakeRemote, o *PullOptions) {
			early := f.base.FinishedAt.Add(-time.Second)
			o.Target = &early
		}, ErrOutsideWindow, "before the oldest base backup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeRemote(t)
			parent := t.TempDir()
			o := f.options(filepath.Join(parent, "pitr"))
			c.attack(t, f, &o)
			want := strings.NewReplacer("%SEG0%", f.segs[0], "%SEG1%", f.segs[1], "%SEG2%", f.segs[2], "%BATCH0%", f.batches[0], "%BATCH1%", f.batches[1]).Replace(c.want)
			res, err := Pull(context.Background(), o)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Pull = %+v, %v; want %v naming %q", res, err, c.is, want)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("a refused pull left %v in %s", ents, parent)
			}
		})
	}

	t.Run("untouched", func(t *testing.T) {
		t.Parallel()
		f := newFakeRemote(t)
		dir := filepath.Join(t.TempDir(), "pitr")
		// What a pull killed with -9 left: removed by the next pull.
		dead := exec.Command("true")
		if err := dead.Run(); err != nil {
			t.Fatal(err)
		}
		leftover := filepath.Join(filepath.Dir(dir), fmt.Sprintf(".pitr.pull-%d-123", dead.Process.Pid))
		if err := os.MkdirAll(filepath.Join(leftover, "wal"), 0o700); err != nil {
			t.Fatal(err)
		}
		res, err := Pull(context.Background(), f.options(dir))
		if err != nil {
			t.Fatal(err)
		}
		if res.Files != 4+len(f.segs) || res.Encrypted != res.Files || res.WALSegments != len(f.segs) || res.FirstWAL != f.segs[0] || len(res.BaseBackups) != 1 {
			t.Errorf("pulled %+v; want the base backup's 4 files and %d encrypted segments", res, len(f.segs))
		}
		if len(res.KeyFingerprints) != 1 || res.KeyFingerprints[0] != testSigner.Public().Fingerprint() {
			t.Errorf("key fingerprints %v, want the signer's", res.KeyFingerprints)
		}
		// The layout a recovery reads, verified by the recovery's own checks.
		if err := testVerifier.VerifyBase(filepath.Join(dir, "base", f.base.Name)); err != nil {
			t.Errorf("VerifyBase of the pulled base backup: %v", err)
		}
		idx, err := testVerifier.WALIndex(dir)
		if err != nil || len(idx) != len(f.segs) {
			t.Errorf("WALIndex of the pulled folder: %d segments, %v; want %d", len(idx), err, len(f.segs))
		}
		bases, _ := listBases(dir)
		if len(bases) != 1 || bases[0].Name != f.base.Name {
			t.Errorf("listBases: %v", bases)
		}
		// Random bytes hold no commit: the folder has no window, and says so.
		if res.Window != nil {
			t.Errorf("window %v from WAL without a commit", res.Window)
		}
		// A second pull into the same folder is refused, the folder intact.
		if _, err := Pull(context.Background(), f.options(dir)); err == nil || !strings.Contains(err.Error(), "it exists") {
			t.Errorf("pull over an existing folder: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, PulledFile)); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(leftover); !os.IsNotExist(err) {
			t.Errorf("a dead pull's temporary folder survived the next pull: %v", err)
		}
		st, err := ReadStatus(dir, time.Now().Add(time.Hour))
		if err != nil || st.Pulled == nil || st.Pulled.Remote != f.st.URL() || !strings.HasPrefix(st.State(), "pulled from "+f.st.URL()) {
			t.Errorf("status of the pulled folder: %+v, %v", st, err)
		}
	})
}

// TestPullAfterLostSlot: the stream lost its slot (a failover) and took a
// new base backup, so the bucket's WAL has a gap before it. Pulling
// everything leaves the cut-off base backup out, saying why, so no WAL in
// the folder has a gap a restore would refuse; pulling to a time before the
// loss takes the old base backup and its WAL up to the gap only.
func TestPullAfterLostSlot(t *testing.T) {
	t.Parallel()
	f := newFakeRemote(t) // base 03:00 at segment 0x10, WAL 0x10-0x13
	newer := f.addBase(t, "20261202T040000Z", 0x16, 1, 2)
	parent := t.TempDir()

	o := f.options(filepath.Join(parent, "all"))
	res, err := Pull(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BaseBackups) != 1 || res.BaseBackups[0] != newer.Name || len(res.LeftOut) != 1 || !strings.HasPrefix(res.LeftOut[0], f.base.Name+": its WAL stops at "+segName(1, 0x13)) {
		t.Errorf("pull all: bases %v, left out %q; want only %s, %s left out naming where its WAL stops", res.BaseBackups, res.LeftOut, newer.Name, f.base.Name)
	}
	// The hint names an instant --to-time takes: when the new base backup started.
	if hint := "--to-time before " + newer.StartedAt.UTC().Format(time.RFC3339); len(res.LeftOut) == 1 && !strings.HasSuffix(res.LeftOut[0], hint) {
		t.Errorf("left out %q: want it to end with %q", res.LeftOut[0], hint)
	}
	if res.WALSegments != 2 || res.FirstWAL != segName(1, 0x16) {
		t.Errorf("pull all: %d segments from %s, want the new base backup's 2 from %s", res.WALSegments, res.FirstWAL, segName(1, 0x16))
	}
	if bases, _ := listBases(o.Dir); len(bases) != 1 {
		t.Errorf("pulled folder holds %d base backups, want 1", len(bases))
	}

	before := newer.StartedAt.Add(-time.Minute)
	o = f.options(filepath.Join(parent, "before"))
	o.Target = &before
	res, err = Pull(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BaseBackups) != 1 || res.BaseBackups[0] != f.base.Name || res.WALSegments != 4 || res.LastWAL != segName(1, 0x13) || len(res.LeftOut) != 0 {
		t.Errorf("pull to %s: %+v; want %s with its WAL up to the gap (4 segments, last %s)", before, res, f.base.Name, segName(1, 0x13))
	}
	if ents, _ := os.ReadDir(filepath.Join(o.Dir, "wal")); len(ents) != 4 {
		t.Errorf("pulled WAL folder holds %d segments, want 4", len(ents))
	}
}

// TestPullAfterFailover: a failover put the server on timeline 2; the
// stream lost its slot there and took a new base backup on timeline 2 (the
// stream folder moved the timeline-1 one to old/). The timeline-1 base
// backup's WAL has no gap of its own, but nothing joins it to timeline 2:
// pulling everything leaves it out, saying why, or the pulled folder's
// window would claim the hole between them, and a restore to a time in it
// would replay timeline 1 to its end and call that the target's state.
func TestPullAfterFailover(t *testing.T) {
	t.Parallel()
	f := newFakeRemote(t) // base 03:00 on timeline 1 at segment 0x10, WAL 0x10-0x13
	newer := f.addBaseOn(t, 2, "20261202T040000Z", 0x16, 1, 2)
	res, err := Pull(context.Background(), f.options(filepath.Join(t.TempDir(), "all")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BaseBackups) != 1 || res.BaseBackups[0] != newer.Name || len(res.LeftOut) != 1 || !strings.HasPrefix(res.LeftOut[0], f.base.Name+": ") {
		t.Errorf("pull all: bases %v, left out %q; want only %s, %s left out saying why", res.BaseBackups, res.LeftOut, newer.Name, f.base.Name)
	}
	if res.WALSegments != 2 || res.FirstWAL != segName(2, 0x16) {
		t.Errorf("pull all: %d segments from %s, want the new base backup's 2 from %s", res.WALSegments, res.FirstWAL, segName(2, 0x16))
	}
}
