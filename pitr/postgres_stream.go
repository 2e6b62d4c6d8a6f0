package pitr

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"casino/backup"
	"casino/keys"
)

// DefaultSlot is the replication slot `casino pitr stream` reads through.
const DefaultSlot = "casino_pitr"

// StreamOptions configures `casino pitr stream`.
type StreamOptions struct {
	// URL connects as a role with REPLICATION (and LOGIN). Its database is
	// used only for the heartbeat queries (pg_replication_slots, which every
	// role may read); WAL and base backups use the replication protocol.
	URL string
	// Dir is the stream folder (created 0700).
	Dir string
	// Slot is the physical replication slot; DefaultSlot when empty.
	Slot string
	// BaseEvery is how often a new base backup is taken; 24h when zero.
	BaseEvery time.Duration
	// BinDir, when set, is the only folder pg_receivewal and pg_basebackup are
	// taken from; otherwise /usr/lib/postgresql/<server major>/bin, then PATH.
	BinDir string
	// KeepBase is how many base backups to keep; after each new one, older
	// ones and the WAL before the oldest kept one are deleted. 0 keeps all.
	KeepBase int
	// Heartbeat is how often stream.json is refreshed; 1s when zero.
	Heartbeat time.Duration
	// Log receives what the stream does; slog.Default() when nil.
	Log *slog.Logger
	// Signer signs every base backup's manifest and every batch of
	// completed WAL segments (seal.go); required: a recovery refuses what
	// no verify key vouches for.
	Signer *keys.Private
	// OnSealed, when set, is called with each new signed file set (a base
	// backup folder's files, or a WAL batch manifest with its segments), to
	// ship it off the host; its errors are logged and retried next time.
	OnSealed func(ctx context.Context, s Sealed) error
}

// streamState is stream.json: written by the streamer every heartbeat, read
// by status and by recovery (which may run on another host).
type streamState struct {
	Slot        string `json:"slot"`
	ServerMajor int    `json:"server_major"`
	// CaughtUpAt is the server's clock at the newest heartbeat whose WAL
	// flush position the slot has since reached: every transaction
	// committed before it is in the folder.
	CaughtUpAt  *time.Time `json:"caught_up_at,omitempty"`
	CaughtUpLSN string     `json:"caught_up_lsn,omitempty"`
	// RetainedBytes is how much WAL the slot keeps on the server.
	RetainedBytes int64  `json:"retained_bytes"`
	WALStatus     string `json:"wal_status,omitempty"`
	// SlotLostAt is set when the slot disappeared (a failover, a drop, or
	// max_slot_wal_keep_size): WAL and base backups from before moved to old/.
	SlotLostAt *time.Time `json:"slot_lost_at,omitempty"`
	Receiving  bool       `json:"receiving"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

func readState(dir string) (*streamState, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stream.json"))
	if err != nil {
		return nil, err
	}
	var s streamState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "stream.json"), err)
	}
	return &s, nil
}

func writeState(dir string, s *streamState) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return writeFileAtomic(filepath.Join(dir, "stream.json"), append(b, '\n'))
}

type streamer struct {
	o      StreamOptions
	db     *sql.DB
	log    *slog.Logger
	state  streamState
	major  int
	recv   string // pg_receivewal
	base   string // pg_basebackup
	conn   string // libpq URL without password
	env    []string
	walDir string
	sealer *walSealer
	shipMu sync.Mutex
	// marks are earlier heartbeats' (server clock, WAL flush position) the
	// slot had not reached yet, oldest first: see caughtUpAt.
	marks []flushMark
}

// flushMark is the server's WAL flush position at one heartbeat.
type flushMark struct {
	at    time.Time
	flush int64
}

// maxFlushMarks bounds the heartbeats remembered for a stream that stays
// behind: an hour of one-second heartbeats.
const maxFlushMarks = 3600

// caughtUpAt records the heartbeat at instant now, when the server had
// flushed WAL up to flush and the slot had received up to restart, and
// returns the newest instant before which every commit is in the folder:
// the latest heartbeat whose flush position the slot has reached. Under
// steady writes the slot is almost never level with the server at the
// instant of a heartbeat, but it passes earlier heartbeats' positions
// within a moment, so the lag stays the stream's real delay.
func (s *streamer) caughtUpAt(now time.Time, flush, restart int64) (time.Time, bool) {
	s.marks = append(s.marks, flushMark{at: now, flush: flush})
	var at time.Time
	reached := 0
	for i, m := range s.marks {
		if m.flush > restart {
			break
		}
		at, reached = m.at, i+1
	}
	s.marks = append(s.marks[:0], s.marks[reached:]...)
	if len(s.marks) > maxFlushMarks {
		s.marks = append(s.marks[:0], s.marks[len(s.marks)-maxFlushMarks:]...)
	}
	return at, reached > 0
}

// ship hands every sealed set not shipped yet to OnSealed, oldest first,
// and marks each one it took; it stops at the first failure (retried at
// the next heartbeat), so the remote never holds a WAL batch whose
// predecessors it lacks.
func (s *streamer) ship(ctx context.Context) {
	if s.o.OnSealed == nil {
		return
	}
	s.shipMu.Lock()
	defer s.shipMu.Unlock()
	for _, p := range pendingShipments(s.o.Dir) {
		if err := s.o.OnSealed(ctx, p); err != nil {
			s.log.Error("ship sealed files", "manifest", filepath.Base(p.Manifest), "error", err.Error())
			return
		}
		if err := writeFileAtomic(p.Manifest+shippedSuffix, nil); err != nil {
			s.log.Error("ship sealed files", "error", err.Error())
			return
		}
	}
}

// Stream runs until ctx ends: it keeps pg_receivewal streaming into
// DIR/wal through the replication slot (created when missing; when it
// disappears, the stream says so, moves the cut-off WAL and base backups to
// DIR/old, recreates the slot and takes a new base backup), takes a base
// backup every BaseEvery, and refreshes DIR/stream.json every heartbeat.
// A PostgreSQL restart or a lost connection only pauses it. It returns
// ErrLocked when another stream writes to DIR.
func Stream(ctx context.Context, o StreamOptions) error {
	if o.Slot == "" {
		o.Slot = DefaultSlot
	}
	if !validSlot.MatchString(o.Slot) {
		return fmt.Errorf("invalid slot name %q: lower-case letters, digits and _ only", o.Slot)
	}
	if o.BaseEvery <= 0 {
		o.BaseEvery = 24 * time.Hour
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Signer == nil {
		return backup.ErrNoSigningKey
	}
	s := &streamer{o: o, log: o.Log.With("component", "pitr_stream", "slot", o.Slot), walDir: filepath.Join(o.Dir, "wal")}
	for _, d := range []string{o.Dir, s.walDir, filepath.Join(o.Dir, "base")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("stream folder: %w", err)
		}
	}
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	if st, err := readState(o.Dir); err == nil {
		s.state = *st
	}
	if s.sealer, err = newWALSealer(o.Dir, *o.Signer); err != nil {
		return fmt.Errorf("stream folder: %w", err)
	}
	s.state.Slot = o.Slot
	s.conn, s.env = backup.LibpqArgs(o.URL)
	s.db, err = sql.Open("pgx", o.URL)
	if err != nil {
		return fmt.Errorf("replication URL: %w", err)
	}
	defer s.db.Close()
	s.db.SetMaxOpenConns(2)

	backoff := time.Second
	for ctx.Err() == nil {
		began := time.Now()
		err := s.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(began) > 30*time.Second {
			backoff = time.Second // it streamed a while: this is a new outage
		}
		s.log.Warn("wal stream interrupted; retrying", "error", err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
	s.state.Receiving = false
	s.state.UpdatedAt = time.Now().UTC()
	writeState(o.Dir, &s.state)
	return nil
}

var validSlot = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

var errSlotGone = errors.New("replication slot disappeared")

// session connects, makes sure of the slot, and streams until pg_receivewal
// exits or the slot disappears.
func (s *streamer) session(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	var num int
	err := s.db.QueryRowContext(qctx, "SHOW server_version_num").Scan(&num)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if num/10000 != s.major {
		s.major = num / 10000
		if s.recv, err = findTool("pg_receivewal", s.o.BinDir, s.major); err != nil {
			return err
		}
		if s.base, err = findTool("pg_basebackup", s.o.BinDir, s.major); err != nil {
			return err
		}
	}
	s.state.ServerMajor = s.major
	needBase, err := s.ensureSlot(ctx)
	if err != nil {
		return err
	}

	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	cmd := exec.Command(s.recv, "-D", s.walDir, "-S", s.o.Slot, "-d", s.conn, "-n", "-w", "--synchronous", "-v")
	cmd.Env = s.env
	var errTail tail
	cmd.Stderr = &lineWriter{fn: func(l string) {
		errTail.Write([]byte(l + "\n"))
		s.log.Info("pg_receivewal", "line", l)
	}}
	done, err := startLocked(cmd)
	if err != nil {
		return fmt.Errorf("start pg_receivewal: %w", err)
	}
	s.log.Info("streaming wal", "dir", s.walDir, "server_major", s.major)
	s.state.Receiving = true

	hbDone := make(chan struct{})
	go func() { defer close(hbDone); s.heartbeat(sctx, stop) }()
	baseDone := make(chan struct{})
	go func() { defer close(baseDone); s.baseLoop(sctx, needBase) }()

	select {
	case err = <-done:
		stop(fmt.Errorf("pg_receivewal exited: %v: %s", err, lastLine(errTail.String())))
	case <-sctx.Done():
		cmd.Process.Signal(syscall.SIGTERM) // pg_receivewal flushes and exits
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	<-hbDone
	<-baseDone
	s.sealWAL(context.WithoutCancel(ctx)) // what pg_receivewal completed on its way out
	s.state.Receiving = false
	return context.Cause(sctx)
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// ensureSlot creates the slot when missing. When a slot this folder streamed
// through is gone, the WAL since is lost: the folder's WAL and base backups
// move to old/ (they no longer join up with what comes next), and the caller
// takes a new base backup at once.
func (s *streamer) ensureSlot(ctx context.Context) (needBase bool, err error) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n int
	if err := s.db.QueryRowContext(qctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", s.o.Slot).Scan(&n); err != nil {
		return false, fmt.Errorf("look up slot: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	hadWAL := dirHasEntries(s.walDir)
	if _, err := s.db.ExecContext(qctx, "SELECT pg_create_physical_replication_slot($1, true)", s.o.Slot); err != nil {
		return false, fmt.Errorf("create replication slot %s (the role needs REPLICATION): %w", s.o.Slot, err)
	}
	if !hadWAL {
		s.log.Info("created replication slot")
		return true, nil
	}
	now := time.Now().UTC()
	old := filepath.Join(s.o.Dir, "old", now.Format("20060102T150405Z"))
	if err := os.MkdirAll(old, 0o700); err != nil {
		return false, err
	}
	if err := os.Rename(s.walDir, filepath.Join(old, "wal")); err != nil {
		return false, err
	}
	if err := os.Rename(filepath.Join(s.o.Dir, "base"), filepath.Join(old, "base")); err != nil {
		return false, err
	}
	for _, d := range []string{s.walDir, filepath.Join(s.o.Dir, "base")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return false, err
		}
	}
	s.state.SlotLostAt = &now
	s.state.CaughtUpAt = nil
	writeState(s.o.Dir, &s.state)
	s.log.Warn("replication slot was gone (failover, drop, or max_slot_wal_keep_size exceeded): recreated it; WAL between the last streamed position and now is lost, earlier WAL and base backups moved aside; taking a new base backup now",
		"moved_to", old)
	return true, nil
}

func dirHasEntries(dir string) bool {
	ents, _ := os.ReadDir(dir)
	return len(ents) > 0
}

// heartbeat refreshes stream.json and notices a vanished slot.
func (s *streamer) heartbeat(ctx context.Context, stop context.CancelCauseFunc) {
	t := time.NewTicker(s.o.Heartbeat)
	defer t.Stop()
	for {
		s.beat(ctx, stop)
		s.sealWAL(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sealWAL signs a manifest over the segments completed since the last one,
// and hands it to OnSealed.
func (s *streamer) sealWAL(ctx context.Context) {
	n, err := s.sealer.seal()
	if err != nil {
		s.log.Error("seal wal", "error", err.Error())
		return
	}
	if n > 0 {
		s.log.Debug("wal sealed", "segments", n)
	}
	s.ship(ctx)
}

func (s *streamer) beat(ctx context.Context, stop context.CancelCauseFunc) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var (
		now       time.Time
		flush     int64
		restart   sql.NullInt64
		lsn       string
		retained  int64
		walStatus sql.NullString
	)
	err := s.db.QueryRowContext(qctx, `SELECT clock_timestamp(),
		pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint,
		pg_wal_lsn_diff(restart_lsn, '0/0')::bigint,
		coalesce(restart_lsn::text, ''),
		coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint,
		wal_status
		FROM pg_replication_slots WHERE slot_name = $1`, s.o.Slot).Scan(&now, &flush, &restart, &lsn, &retained, &walStatus)
	if errors.Is(err, sql.ErrNoRows) {
		stop(errSlotGone)
		return
	}
	if err != nil {
		return // the server is away; stream.json goes stale and lag grows
	}
	if restart.Valid {
		if t, ok := s.caughtUpAt(now.UTC(), flush, restart.Int64); ok && (s.state.CaughtUpAt == nil || t.After(*s.state.CaughtUpAt)) {
			s.state.CaughtUpAt = &t
			s.state.CaughtUpLSN = lsn
		}
	}
	s.state.RetainedBytes = retained
	s.state.WALStatus = walStatus.String
	s.state.UpdatedAt = time.Now().UTC()
	if err := writeState(s.o.Dir, &s.state); err != nil {
		s.log.Error("write stream.json", "error", err.Error())
	}
}

// baseLoop takes a base backup when none is newer than BaseEvery.
func (s *streamer) baseLoop(ctx context.Context, now bool) {
	for {
		wait := time.Duration(0)
		if !now {
			bases, _ := listBases(s.o.Dir)
			if len(bases) > 0 {
				wait = time.Until(bases[len(bases)-1].FinishedAt.Add(s.o.BaseEvery))
			}
		}
		now = false
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			return
		}
		b, err := s.takeBase(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("base backup failed; retrying in a minute", "error", err.Error())
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Minute):
				}
			}
			continue
		}
		s.log.Info("base backup taken", "name", b.Name, "start_lsn", b.StartLSN, "end_lsn", b.EndLSN, "finished_at", b.FinishedAt.Format(time.RFC3339Nano))
		s.ship(ctx)
		if err := s.prune(); err != nil {
			s.log.Error("prune", "error", err.Error())
		}
	}
}

// prune keeps the newest KeepBase base backups and deletes older ones, then
// the WAL segments before the oldest kept one's start: the window then
// starts at that base backup's end.
func (s *streamer) prune() error {
	bases, err := listBases(s.o.Dir)
	if err != nil || s.o.KeepBase <= 0 || len(bases) <= s.o.KeepBase {
		return err
	}
	oldest := bases[len(bases)-s.o.KeepBase]
	for _, b := range bases[:len(bases)-s.o.KeepBase] {
		if err := os.RemoveAll(b.dir); err != nil {
			return err
		}
		s.log.Info("base backup pruned", "name", b.Name)
	}
	start, err := parseLSN(oldest.StartLSN)
	if err != nil {
		return err
	}
	segs, segSize, err := walSegments(s.walDir, oldest.Timeline)
	if err != nil || segSize == 0 {
		return err
	}
	n := 0
	for _, sg := range segs {
		if sg.no < start/uint64(segSize) && !sg.partial {
			if err := os.Remove(filepath.Join(s.walDir, sg.name)); err != nil {
				return err
			}
			n++
		}
	}
	if n > 0 {
		s.log.Info("wal pruned", "segments", n, "before", oldest.StartLSN)
	}
	return nil
}

// BaseBackup is one base backup in the stream folder (its info.json).
type BaseBackup struct {
	Name        string    `json:"name"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"` // server clock; recovery may target any later instant
	StartLSN    string    `json:"start_lsn"`
	EndLSN      string    `json:"end_lsn"`
	Timeline    int       `json:"timeline"`
	ServerMajor int       `json:"server_major"`
	// BootstrapRole is the cluster's first superuser (OID 10): the role a
	// recovery connects to its temporary instance as (trust over a private
	// socket).
	BootstrapRole string `json:"bootstrap_role"`
	Bytes         int64  `json:"bytes"`
	dir           string
}

var (
	startPointRE = regexp.MustCompile(`write-ahead log start point: ([0-9A-F]+/[0-9A-F]+) on timeline (\d+)`)
	endPointRE   = regexp.MustCompile(`write-ahead log end point: ([0-9A-F]+/[0-9A-F]+)`)
)

// takeBase runs pg_basebackup (tar, gzip, with its own WAL) into a temporary
// folder and renames it into base/ only when complete.
func (s *streamer) takeBase(ctx context.Context) (*BaseBackup, error) {
	var started time.Time
	if err := s.db.QueryRowContext(ctx, "SELECT clock_timestamp()").Scan(&started); err != nil {
		return nil, err
	}
	name := started.UTC().Format("20060102T150405Z")
	baseDir := filepath.Join(s.o.Dir, "base")
	tmp := filepath.Join(baseDir, ".tmp-"+name)
	os.RemoveAll(tmp)
	cmd := exec.Command(s.base, "-d", s.conn, "-D", tmp, "-F", "t", "-z", "-X", "stream", "-c", "fast", "-w", "-v", "-l", "casino-pitr-"+name)
	cmd.Env = s.env
	out, err := runTool(ctx, cmd, nil)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	var finished time.Time
	var role string
	if err := s.db.QueryRowContext(ctx, "SELECT clock_timestamp(), (SELECT rolname FROM pg_roles WHERE oid = 10)").Scan(&finished, &role); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	b := &BaseBackup{Name: name, StartedAt: started.UTC(), FinishedAt: finished.UTC(), ServerMajor: s.major, BootstrapRole: role}
	if m := startPointRE.FindStringSubmatch(out); m != nil {
		b.StartLSN = m[1]
		b.Timeline, _ = strconv.Atoi(m[2])
	}
	if m := endPointRE.FindStringSubmatch(out); m != nil {
		b.EndLSN = m[1]
	}
	if b.StartLSN == "" || b.EndLSN == "" {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("pg_basebackup: no start/end point in its output")
	}
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		if e.Name() != "base.tar.gz" && e.Name() != "pg_wal.tar.gz" && e.Name() != "backup_manifest" {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("pg_basebackup wrote %s: tablespaces are not supported by casino pitr", e.Name())
		}
		if fi, err := e.Info(); err == nil {
			b.Bytes += fi.Size()
		}
	}
	j, _ := json.MarshalIndent(b, "", "  ")
	if err := writeFileAtomic(filepath.Join(tmp, "info.json"), append(j, '\n')); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := sealBase(tmp, b, *s.o.Signer); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	final := filepath.Join(baseDir, name)
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	syncDir(baseDir)
	b.dir = final
	return b, nil
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// listBases returns the complete base backups in DIR/base, oldest first.
func listBases(dir string) ([]*BaseBackup, error) {
	baseDir := filepath.Join(dir, "base")
	ents, err := os.ReadDir(baseDir)
	if err != nil {
		return nil, err
	}
	var out []*BaseBackup
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(baseDir, e.Name(), "info.json"))
		if err != nil {
			continue
		}
		var b BaseBackup
		if json.Unmarshal(raw, &b) != nil || b.Name != e.Name() {
			continue
		}
		b.dir = filepath.Join(baseDir, e.Name())
		out = append(out, &b)
	}
	// names are UTC stamps: lexical order is time order
	return out, nil
}

// lockDir takes an exclusive lock on DIR/lock for the life of the stream.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
	}
	return func() { f.Close() }, nil
}
