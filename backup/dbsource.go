package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"casino"
	"casino/sqlstore"
)

// DatabaseSource is a PostgreSQL database restored directly, without a
// backup file: its pg_dump streams into the restore loader
// (RestoreOptions.Database). A point-in-time restore reads the temporary
// instance it recovered this way, in one pass, where a dump to a file and
// a restore of that file would read and write the data twice.
//
// What a signed backup's manifest vouches for is established on the source
// itself: the restore opens one exported snapshot there, counts every
// table's rows and reads the schema version inside it, and pg_dump dumps
// exactly that snapshot. The scratch copy must then hold exactly those row
// counts, after the same statement checks, catalog comparison and
// migrations as any backup's data.
type DatabaseSource struct {
	// URL connects to the source database; it is only read.
	URL string
	// Name and Location name what is restored in the plan and the facts
	// (backup.name, backup.location).
	Name     string
	Location string
	// SnapshotAt is the instant the data describes, recorded as the facts'
	// backup.snapshot_at: the restore carries over what the live database
	// recorded after it. Zero: the instant the snapshot was taken.
	SnapshotAt time.Time
	// KeyFingerprint is the key whose signature verified what the source
	// was built from ("" when nothing was verified), recorded as the facts'
	// backup.key_fingerprint.
	KeyFingerprint string
}

// dbStream is a DatabaseSource's open snapshot and the pg_dump of it.
type dbStream struct {
	ctx  context.Context
	name string
	url  string
	bin  string
	snap *pgSnapshot

	mu     sync.Mutex
	opened bool
	hc     *hashCounter
}

// verifyDatabase opens one exported snapshot of the source database and
// counts its rows there; the result's Open streams pg_dump of that
// snapshot. release closes the snapshot (after the load).
func verifyDatabase(ctx context.Context, src *DatabaseSource, binDir string) (*VerifyResult, error) {
	if !strings.HasPrefix(src.URL, "postgres") {
		return nil, errorf(casino.EINVALID, "a database source must be a PostgreSQL URL")
	}
	snap, err := openPGSnapshot(ctx, src.URL)
	if err != nil {
		return nil, err
	}
	bin, err := findPGTool("pg_dump", binDir, snap.serverMajr)
	if err != nil {
		snap.close()
		return nil, err
	}
	latest := sqlstore.LatestVersion(sqlstore.Postgres)
	if snap.schema < 1 || snap.schema > latest {
		snap.close()
		return nil, errorf(casino.EINVALID, "%s: its schema version %d is not one this binary knows (1 to %d)", src.Name, snap.schema, latest)
	}
	at := snap.at
	if !src.SnapshotAt.IsZero() {
		at = src.SnapshotAt.UTC()
	}
	ident := sqlstore.Target{Dialect: sqlstore.Postgres, URL: src.URL}.Identity()
	m := &casino.BackupManifest{
		FormatVersion: FormatVersion,
		Engine:        casino.EnginePostgres,
		AppVersion:    casino.Build().Version,
		AppCommit:     casino.Build().Commit,
		Compression:   None,
		Source:        ident,
		File:          src.Name,
		SnapshotAt:    at,
		RowCounts:     snap.counts,
		SchemaVersion: snap.schema,
	}
	r := &VerifyResult{Path: src.Name, Engine: casino.EnginePostgres, Manifest: m, KeyFingerprint: src.KeyFingerprint}
	r.db = &dbStream{ctx: ctx, name: src.Name, url: src.URL, bin: bin, snap: snap}
	r.pass("read directly from %s: pg_dump of one exported snapshot streams into the loader, no file between", ident)
	r.pass("row counts counted in that snapshot: the scratch copy must hold exactly them")
	r.pass("schema version %d (this binary knows %d)", snap.schema, latest)
	return r, nil
}

// release closes the source's snapshot; a VerifyResult of a file has none.
func (r *VerifyResult) release() {
	if r != nil && r.db != nil {
		r.db.snap.close()
	}
}

// StreamedSHA256 is the sha256 of the dump a database source streamed into
// the loader ("" for a backup file, or before the stream was read).
func (r *VerifyResult) StreamedSHA256() string {
	if r == nil || r.db == nil {
		return ""
	}
	r.db.mu.Lock()
	defer r.db.mu.Unlock()
	if r.db.hc == nil {
		return ""
	}
	return r.db.hc.sum()
}

// open starts pg_dump of the snapshot and returns its output. The stream
// ends with pg_dump's failure, not io.EOF, when it exits non-zero; Close
// stops it when the loader gives up early. It may be opened once.
func (d *dbStream) open(p *Progress) (io.ReadCloser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opened {
		return nil, errors.New("a database source streams once")
	}
	d.opened = true
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	growPipe(pr)
	u, env := LibpqArgs(d.url)
	cmd := exec.CommandContext(d.ctx, d.bin, "--format=plain", "--no-owner", "--no-privileges", "--snapshot="+d.snap.id, "--dbname="+u)
	cmd.Env = env
	dieWithParent(cmd)
	cmd.Stdout = pw
	s := &dumpStream{r: pr, cmd: cmd, done: make(chan error, 1), p: p, hc: newHashCounter()}
	cmd.Stderr = &s.stderr
	started := make(chan error, 1)
	go func() {
		// The child is started and waited for on one locked OS thread: the
		// thread dieWithParent's signal follows lives as long as pg_dump.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.done <- cmd.Wait()
	}()
	err = <-started
	pw.Close() // pg_dump holds its own copy
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("start pg_dump: %w", err)
	}
	d.hc = s.hc
	p.Start("pg_dump "+d.name, 0)
	return s, nil
}

// dumpStream is pg_dump's running output.
type dumpStream struct {
	r      *os.File
	cmd    *exec.Cmd
	done   chan error
	waited bool
	err    error
	stderr tailBuffer
	p      *Progress
	hc     *hashCounter
}

func (s *dumpStream) Read(b []byte) (int, error) {
	if s.waited {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	n, err := s.r.Read(b)
	s.hc.Write(b[:n])
	s.p.Add(int64(n))
	if err == io.EOF {
		s.wait()
		if s.err != nil {
			return n, s.err
		}
	}
	return n, err
}

func (s *dumpStream) wait() {
	if s.waited {
		return
	}
	s.waited = true
	if err := <-s.done; err != nil {
		s.err = fmt.Errorf("pg_dump: %v: %s", err, sqlstore.Redact(strings.TrimSpace(s.stderr.String())))
	}
}

// Close stops pg_dump if it still runs (the loader gave up) and waits for it.
func (s *dumpStream) Close() error {
	s.r.Close()
	if !s.waited {
		s.cmd.Process.Kill()
		s.wait()
	}
	s.p.Done()
	return nil
}
