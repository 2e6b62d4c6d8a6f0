package pitr

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/pgzip"

	"casino"
)

// RecoverOptions configures a point-in-time recovery from a stream folder.
type RecoverOptions struct {
	// Dir is the stream folder; it is only read.
	Dir string
	// Target is the instant to recover to; nil means the end of the WAL.
	Target *time.Time
	// Database is the database the caller will read from the recovered
	// instance (its URL is handed to the use function).
	Database string
	// BinDir, when set, is the only folder the server binaries (postgres,
	// pg_waldump) of the base backup's major are taken from; otherwise
	// /usr/lib/postgresql/<major>/bin, then PATH.
	BinDir string
	// ScratchDir is where the temporary instance lives; os.TempDir() when
	// empty. Leftovers of killed recoveries there are removed first.
	ScratchDir string
	// RunAs is the unprivileged user the server runs as when casino runs as
	// root (postgres refuses root); "postgres" when empty.
	RunAs string
	// Timeout bounds the replay; 1h when zero.
	Timeout time.Duration
	// Log receives one line per step; may be nil.
	Log io.Writer
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
	// Verify checks the base backup and the WAL against their signed
	// manifests before anything is unpacked or replayed.
	Verify Verifier
}

// Recovered is a temporary instance holding the recovered data.
type Recovered struct {
	// URL connects to Database on the temporary instance (a private Unix
	// socket, trust, no TCP listener).
	URL        string
	Facts      casino.PITRFacts
	Base       *BaseBackup
	Window     Window
	ScratchDir string
	PID        int
	// KeyFingerprint is the key whose signature verified the base backup's
	// manifest ("" with Verify.TrustUnsigned).
	KeyFingerprint string
}

func (o *RecoverOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// PlanRecovery checks the target against the folder's recoverable window and
// returns the base backup a recovery would start from. A target outside the
// window returns ErrOutsideWindow naming the window.
func PlanRecovery(dir string, target *time.Time, now time.Time) (*BaseBackup, Window, error) {
	st, err := ReadStatus(dir, now)
	if err != nil {
		return nil, Window{}, err
	}
	bases, _ := listBases(dir)
	if len(bases) == 0 {
		return nil, Window{}, fmt.Errorf("%w: %s (is `casino pitr stream` running?)", ErrNoBaseBackup, dir)
	}
	if st.Window == nil {
		return nil, Window{}, fmt.Errorf("%w: the stream has not caught up since its oldest base backup (%s); check `casino pitr status`", ErrOutsideWindow, bases[0].FinishedAt.Format(time.RFC3339))
	}
	w := *st.Window
	if target == nil {
		return bases[len(bases)-1], w, nil
	}
	if !w.Contains(*target) {
		return nil, w, fmt.Errorf("%w: %s is outside %s (UTC)", ErrOutsideWindow, target.UTC().Format(time.RFC3339Nano), w)
	}
	var base *BaseBackup
	for _, b := range bases {
		if !b.FinishedAt.After(*target) {
			base = b
		}
	}
	return base, w, nil
}

// RecoverPostgres recovers the stream folder to o.Target in a temporary
// PostgreSQL, calls use with it while it runs (to pg_dump it), then stops it
// and removes its scratch folder, whatever use returned.
//
// The temporary instance runs as an unprivileged user, listens only on a
// Unix socket in its private scratch folder, has archive_mode=off, and reads
// WAL through a restore_command from a copy of the stream's WAL (the current
// .partial segment included): it never sees the stream folder, so it cannot
// write a new timeline into it. When the target is at or after the last
// commit in the WAL it recovers to the end of the WAL instead, since
// PostgreSQL 13 and later stop with FATAL when a time target is never reached.
func RecoverPostgres(ctx context.Context, o RecoverOptions, use func(ctx context.Context, r *Recovered) error) (*Recovered, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Hour
	}
	if o.ScratchDir == "" {
		o.ScratchDir = os.TempDir()
	}
	if o.RunAs == "" {
		o.RunAs = "postgres"
	}
	if o.Database == "" {
		return nil, errors.New("recover: no database named")
	}
	base, window, err := PlanRecovery(o.Dir, o.Target, o.Now())
	if err != nil {
		return nil, err
	}
	postgres, err := findTool("postgres", o.BinDir, base.ServerMajor)
	if err != nil {
		return nil, err
	}
	waldump, err := findTool("pg_waldump", o.BinDir, base.ServerMajor)
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := runAs(o.RunAs)
	if err != nil {
		return nil, err
	}
	removeDeadFolders(o.ScratchDir, "casino-pitr-")
	scratch, err := os.MkdirTemp(o.ScratchDir, fmt.Sprintf("casino-pitr-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	rec := &Recovered{Base: base, Window: window, ScratchDir: scratch}
	rec.Facts.TargetTime = o.Target
	rec.Facts.Source = o.Dir
	rec.Facts.BaseBackup, rec.Facts.BaseBackupStartedAt = base.Name, base.StartedAt

	data := filepath.Join(scratch, "data")
	wal := filepath.Join(scratch, "wal")
	sock := filepath.Join(scratch, "sock")
	for _, d := range []string{data, wal, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	// Nothing is unpacked or copied before the base backup and the WAL
	// manifests verified; then the three independent jobs run at once:
	// unpacking the base, unpacking its WAL, and copying (and checking) the
	// streamed WAL, then finding its last commit.
	if rec.KeyFingerprint, err = o.Verify.verifyBase(base.dir); err != nil {
		return nil, err
	}
	idx, err := o.Verify.WALIndex(o.Dir)
	if err != nil {
		return nil, err
	}
	o.logf("pitr: unpacking base backup %s (finished %s) and copying the streamed WAL", base.Name, base.FinishedAt.Format(time.RFC3339))
	var check walIndex
	if !o.Verify.TrustUnsigned {
		check = idx
	}
	var cw copiedWAL
	var last *commit
	err = inParallel(
		func() error {
			if err := untarGz(filepath.Join(base.dir, "base.tar.gz"), data); err != nil {
				return fmt.Errorf("unpack base backup: %w", err)
			}
			return nil
		},
		func() error {
			if err := untarGz(filepath.Join(base.dir, "pg_wal.tar.gz"), filepath.Join(data, "pg_wal")); err != nil {
				return fmt.Errorf("unpack base backup's WAL: %w", err)
			}
			return nil
		},
		func() error {
			var err error
			if cw, err = copyWAL(filepath.Join(o.Dir, "wal"), wal, base, check); err != nil {
				return err
			}
			last, err = lastCommit(ctx, waldump, wal)
			return err
		})
	if err != nil {
		return nil, err
	}
	// The production server's settings, replication and signal files stay out.
	for _, f := range []string{"postgresql.auto.conf", "standby.signal", "postmaster.pid", "postmaster.opts"} {
		os.Remove(filepath.Join(data, f))
	}
	rec.Facts.VerifiedWAL, rec.Facts.UnsignedWAL, rec.Facts.TrustUnsigned = cw.verified, cw.unsigned, o.Verify.TrustUnsigned
	o.logf("pitr: unpacked; copied %d WAL segments from %s (%d verified against signed manifests, unsigned tail %v)", cw.copied, filepath.Join(o.Dir, "wal"), cw.verified, cw.unsigned)
	mode := "target_time"
	if o.Target == nil || last == nil || !o.Target.Before(last.at) {
		mode = "end_of_wal"
	}
	rec.Facts.Mode = mode

	conf := []string{
		"listen_addresses = ''",
		"port = 5432",
		"unix_socket_directories = '" + sock + "'",
		"hba_file = '" + filepath.Join(scratch, "pg_hba.conf") + "'",
		"ident_file = '" + filepath.Join(scratch, "pg_ident.conf") + "'",
		"archive_mode = off",
		"hot_standby = off",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"log_timezone = 'UTC'",
		"timezone = 'UTC'",
		"logging_collector = off",
		"shared_preload_libraries = ''",
		"max_wal_senders = 0",
		"wal_level = replica",
		"restore_command = 'cp " + wal + "/%f %p'",
		"recovery_target_timeline = 'current'",
	}
	if mode == "target_time" {
		conf = append(conf,
			"recovery_target_time = '"+o.Target.UTC().Format("2006-01-02 15:04:05.999999")+"+00'",
			"recovery_target_action = 'promote'",
			"recovery_target_inclusive = on")
	}
	files := map[string]string{
		filepath.Join(scratch, "postgresql.conf"): strings.Join(conf, "\n") + "\n",
		filepath.Join(scratch, "pg_hba.conf"):     "local all all trust\n",
		filepath.Join(scratch, "pg_ident.conf"):   "",
		filepath.Join(data, "recovery.signal"):    "",
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			return nil, err
		}
	}
	if cred != nil {
		if err := chownTree(scratch, uid, gid); err != nil {
			return nil, err
		}
	}

	logPath := filepath.Join(scratch, "server.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(postgres, "-D", data, "-c", "config_file="+filepath.Join(scratch, "postgresql.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"TZ=UTC", "LANG=C", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	if mode == "target_time" {
		o.logf("pitr: starting a temporary PostgreSQL %d to replay to %s", base.ServerMajor, o.Target.UTC().Format(time.RFC3339Nano))
	} else {
		o.logf("pitr: starting a temporary PostgreSQL %d to replay to the end of the WAL", base.ServerMajor)
	}
	done, err := startLocked(cmd)
	if err != nil {
		return nil, fmt.Errorf("start temporary postgres: %w", err)
	}
	rec.PID = cmd.Process.Pid
	exited := false
	defer func() {
		if exited {
			return
		}
		cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()

	rec.URL = (&url.URL{Scheme: "postgres", User: url.User(base.BootstrapRole), Path: "/" + o.Database,
		RawQuery: url.Values{"host": {sock}, "port": {"5432"}, "sslmode": {"disable"}}.Encode()}).String()
	admin := (&url.URL{Scheme: "postgres", User: url.User(base.BootstrapRole), Path: "/postgres",
		RawQuery: url.Values{"host": {sock}, "port": {"5432"}, "sslmode": {"disable"}}.Encode()}).String()
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := waitPromoted(wctx, admin, done, &exited); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, logTail(logPath))
	}
	if err := recoveryEnd(logPath, &rec.Facts); err != nil {
		return nil, err
	}
	if mode == "end_of_wal" && last != nil {
		if rec.Facts.ReachedAt.IsZero() {
			rec.Facts.ReachedAt = last.at
		}
		if rec.Facts.LastXID == 0 {
			rec.Facts.LastXID = last.xid
		}
	}
	o.logf("pitr: recovered to %s (%s)", rec.Facts.ReachedAt.Format(time.RFC3339Nano), rec.Facts.RecoveryEnd)
	if err := use(ctx, rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// inParallel runs the jobs at once and, once all have ended, returns every
// job's error joined (errors.Join), in the order given; a failing job does
// not stop the others.
func inParallel(jobs ...func() error) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = j()
		}()
	}
	wg.Wait()
	return errors.Join(slices.DeleteFunc(errs, func(e error) bool { return e == nil })...)
}

// runAs returns the credential to start the server with when casino is root.
func runAs(name string) (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, os.Getuid(), os.Getgid(), nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("postgres refuses to run as root and there is no user %q to run it as: create it or set --run-as", name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, 0, 0, fmt.Errorf("--run-as %s is root: postgres refuses root", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// removeDeadFolders removes the folders in dir named prefix + "<pid>-..."
// whose process is gone: scratch folders of recoveries and temporary folders
// of pulls that a kill -9 left (a recovery's server died with it).
func removeDeadFolders(dir, prefix string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// untarGz unpacks a gzipped tar into dir, refusing entries that escape it.
func untarGz(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// pgzip decompresses ahead on its own goroutine while the files are
	// written here.
	zr, err := pgzip.NewReaderN(bufio.NewReaderSize(f, 1<<20), 1<<20, 4)
	if err != nil {
		return err
	}
	defer zr.Close()
	buf := make([]byte, 1<<20)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if name == "." {
			continue
		}
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%s: entry %q escapes the data folder", path, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			w, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.CopyBuffer(w, tr, buf)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			// pg_tblspc links: tablespaces are refused when the base is taken.
			return fmt.Errorf("%s: symlink %q: tablespaces are not supported by casino pitr", path, h.Name)
		}
	}
}

var segNameRE = regexp.MustCompile(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$`)

// walSeg is one segment file in a WAL folder.
type walSeg struct {
	name    string
	no      uint64 // segment number: LSN / segment size
	partial bool
}

// walSegments lists dir's segments of timeline tli, sorted by number (a
// complete segment before its stale .partial), and the segment size.
func walSegments(dir string, tli int) ([]walSeg, int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	var segs []walSeg
	var segSize int64
	for _, e := range ents {
		m := segNameRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		t, _ := strconv.ParseUint(m[1], 16, 32)
		if int(t) != tli {
			continue
		}
		hi, _ := strconv.ParseUint(m[2], 16, 32)
		lo, _ := strconv.ParseUint(m[3], 16, 32)
		if segSize == 0 {
			fi, err := e.Info()
			if err != nil {
				return nil, 0, err
			}
			segSize = fi.Size()
			if segSize < 1<<20 || segSize&(segSize-1) != 0 {
				return nil, 0, fmt.Errorf("%s: size %d is no WAL segment size (compressed WAL is not supported)", e.Name(), segSize)
			}
		}
		perID := uint64(0x100000000) / uint64(segSize)
		segs = append(segs, walSeg{name: e.Name(), no: hi*perID + lo, partial: m[4] != ""})
	}
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].no != segs[j].no {
			return segs[i].no < segs[j].no
		}
		return !segs[i].partial
	})
	return segs, segSize, nil
}

// copiedWAL is what copyWAL copied.
type copiedWAL struct {
	copied, verified int
	unsigned         []string // the unsigned tail, in order
}

// copyWAL copies the stream's segments of the base backup's timeline, from
// the base's start onward, into dst under their plain names (the .partial
// one too), and refuses a gap: replay would stop at it without a word.
// With idx (the verified WAL manifests) every completed segment's sha256 is
// checked as it is copied; segments no manifest lists are accepted only as
// the tail (the .partial one and at most MaxUnsignedTail completed ones),
// and a signed segment after an unsigned one is refused: a manifest was
// removed.
func copyWAL(src, dst string, base *BaseBackup, idx walIndex) (copiedWAL, error) {
	var cw copiedWAL
	startLSN, err := parseLSN(base.StartLSN)
	if err != nil {
		return cw, fmt.Errorf("base backup %s: %w", base.Name, err)
	}
	segs, segSize, err := walSegments(src, base.Timeline)
	if err != nil {
		return cw, err
	}
	if len(segs) == 0 {
		return cw, fmt.Errorf("no WAL of timeline %d in %s", base.Timeline, src)
	}
	first := startLSN / uint64(segSize)
	n := 0
	var prev uint64
	tail := 0
	for _, s := range segs {
		if s.no < first || (n > 0 && s.no == prev) {
			continue
		}
		if n == 0 && s.no > first {
			return cw, fmt.Errorf("WAL from %s onward is missing in %s (the base backup %s starts there)", base.StartLSN, src, base.Name)
		}
		if n > 0 && s.no != prev+1 {
			return cw, fmt.Errorf("WAL gap in %s after segment %s", src, s.name)
		}
		sum, size, err := copyFileHash(filepath.Join(src, s.name), filepath.Join(dst, strings.TrimSuffix(s.name, ".partial")))
		if err != nil {
			return cw, err
		}
		if idx != nil {
			sf, signed := idx[s.name]
			switch {
			case signed && (sf.SHA256 != sum || sf.Size != size):
				return cw, fmt.Errorf("%w: WAL segment %s has sha256 %s (%d bytes), its signed manifest says %s (%d bytes): changed after it was streamed", ErrTampered, s.name, sum, size, sf.SHA256, sf.Size)
			case signed && len(cw.unsigned) > 0:
				return cw, fmt.Errorf("%w: WAL segment %s is in no signed manifest, but the later segment %s is: a manifest was removed from %s", ErrTampered, cw.unsigned[0], s.name, sealedDir(filepath.Dir(src)))
			case signed:
				cw.verified++
			default:
				if !s.partial {
					tail++
				}
				if tail > MaxUnsignedTail {
					return cw, fmt.Errorf("%w: WAL segments %s and later are in no signed manifest (more than the %d the streamer may not have sealed yet): manifests are missing from %s", ErrTampered, cw.unsigned[0], MaxUnsignedTail, sealedDir(filepath.Dir(src)))
				}
				cw.unsigned = append(cw.unsigned, s.name)
			}
		}
		prev = s.no
		n++
	}
	if n == 0 {
		return cw, fmt.Errorf("WAL from %s onward is missing in %s", base.StartLSN, src)
	}
	cw.copied = n
	return cw, nil
}

// copyFileHash copies src to the new file dst and returns the sha256 and
// size of what it copied.
func copyFileHash(src, dst string) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err != nil {
		out.Close()
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, out.Close()
}

func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad LSN %q", s)
	}
	return h<<32 | l, nil
}

type commit struct {
	at  time.Time
	xid uint32
}

var commitRE = regexp.MustCompile(`tx:\s+(\d+),.*desc: COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC`)

// lastCommit finds the newest commit record in the copied WAL with
// pg_waldump, reading segments from the newest back until one holds a
// commit. nil when there is none.
func lastCommit(ctx context.Context, waldump, dir string) (*commit, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for i := len(ents) - 1; i >= 0; i-- {
		name := ents[i].Name()
		cmd := exec.CommandContext(ctx, waldump, "-p", dir, "-r", "Transaction", name, name)
		cmd.Env = []string{"TZ=UTC", "LANG=C"}
		out, _ := cmd.Output() // it exits 1 at the end of valid WAL; the records before count
		var last *commit
		for _, m := range commitRE.FindAllStringSubmatch(string(out), -1) {
			at, err := time.Parse("2006-01-02 15:04:05.999999", m[2])
			if err != nil {
				continue
			}
			xid, _ := strconv.ParseUint(m[1], 10, 32)
			last = &commit{at: at.UTC(), xid: uint32(xid)}
		}
		if last != nil {
			return last, nil
		}
	}
	return nil, nil
}

// waitPromoted polls the temporary instance until recovery ended and it was
// promoted, or the server exited.
func waitPromoted(ctx context.Context, admin string, done <-chan error, exited *bool) error {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			*exited = true
			return fmt.Errorf("temporary postgres stopped during recovery: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("recovery did not finish: %w", ctx.Err())
		case <-tick.C:
		}
		var inRecovery bool
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := db.QueryRowContext(qctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
		cancel()
		if err == nil && !inRecovery {
			return nil
		}
	}
}

var (
	stopRE     = regexp.MustCompile(`recovery stopping (after|before) commit of transaction (\d+), time (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\+00`)
	lastXactRE = regexp.MustCompile(`last completed transaction was at log time (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\+00`)
)

// recoveryEnd reads the server log for the recovery end: the transaction the
// recovery stopped at and the last completed transaction's time.
func recoveryEnd(logPath string, f *casino.PITRFacts) error {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	log := string(b)
	if m := stopRE.FindStringSubmatch(log); m != nil {
		f.RecoveryStop = strings.TrimSpace(m[0])
		xid, _ := strconv.ParseUint(m[2], 10, 32)
		f.LastXID = uint32(xid)
	}
	if m := lastXactRE.FindStringSubmatch(log); m != nil {
		at, err := time.Parse("2006-01-02 15:04:05.999999", m[1])
		if err == nil {
			f.ReachedAt = at.UTC()
		}
		f.RecoveryEnd = strings.TrimSpace(m[0])
	}
	return nil
}

func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "temporary server log (tail):\n" + string(b)
}
