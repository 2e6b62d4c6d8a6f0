package pitr

// This file is the only one that imports Litestream. Its library API is not
// declared stable (v0.5 is pinned in go.mod): an upgrade touches this file.

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/s3"

	"casino"
	"casino/s3store"
)

// Replica names a Litestream replica: file:///path, or s3://bucket/prefix
// reached with the same S3 settings as off-host backups.
type Replica struct {
	// URL is CASINO_PITR_REPLICA.
	URL string
	// AllowPlaintextRemote permits writing an s3:// replica: Litestream has
	// no client-side encryption, so the bucket sees the database as it is
	// (use a bucket with server-side encryption). Reading (restore) needs no
	// permission.
	AllowPlaintextRemote bool
	// Getenv reads the S3 settings (CASINO_S3_ENDPOINT, CASINO_S3_REGION,
	// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
	// CASINO_S3_CA_FILE, CASINO_S3_INSECURE, CASINO_S3_ADDRESSING); nil
	// reads nothing.
	Getenv func(string) string
}

func (r Replica) getenv(k string) string {
	if r.Getenv == nil {
		return ""
	}
	return r.Getenv(k)
}

// LitestreamOptions configures continuous replication of a SQLite database.
type LitestreamOptions struct {
	// DBPath is the SQLite file casino serves.
	DBPath  string
	Replica Replica
	Log     *slog.Logger
}

// Litestream replicates one SQLite database while casino serves it.
type Litestream struct {
	store *litestream.Store
	db    *litestream.DB

	mu sync.Mutex
	// walReadAt is when the newest successful read of the database's WAL
	// into Litestream's own files began: every commit before it is there.
	walReadAt time.Time
	stopWatch context.CancelFunc
	watching  chan struct{}
}

// watchWAL records, every 100 ms, when the newest successful WAL read
// began. Litestream reads the WAL every 250 ms whether or not it changed,
// so on a healthy database the instant stays fresh while idle, and stops
// when the reads fail (the local disk full, a broken shadow folder), which
// the replica's own sync time would not show: the replica then syncs
// "successfully" with nothing new to send.
func (l *Litestream) watchWAL(ctx context.Context) {
	defer close(l.watching)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		d := l.db.SyncDiagnostic()
		if d.Operation == "sync" && !d.Active && d.Error == "" && d.StartedAt != nil {
			l.mu.Lock()
			if d.StartedAt.After(l.walReadAt) {
				l.walReadAt = *d.StartedAt
			}
			l.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// replicaClient turns a replica into a Litestream client, refusing what
// casino does not support. write says the client will replicate (serve),
// not only read (restore).
func replicaClient(r Replica, write bool) (litestream.ReplicaClient, string, error) {
	raw := r.URL
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA does not parse: %v", err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: want file:///absolute/path", raw)
		}
		return file.NewReplicaClient(u.Path), u.Path, nil
	case "s3":
		return s3ReplicaClient(r, write)
	}
	return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: want file:///path or s3://bucket/prefix", raw)
}

// s3ReplicaClient is Litestream's S3 client for s3://bucket/prefix, set up
// from casino's S3 settings.
func s3ReplicaClient(r Replica, write bool) (litestream.ReplicaClient, string, error) {
	raw := r.URL
	if r.getenv("CASINO_S3_CA_FILE") != "" {
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: Litestream's S3 client cannot use a custom CA and CASINO_S3_CA_FILE is set: use a file:// replica, or an endpoint with a publicly trusted certificate and unset CASINO_S3_CA_FILE", raw)
	}
	if write && !r.AllowPlaintextRemote {
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: Litestream has no client-side encryption, so the bucket would hold the database as it is: use a bucket with server-side encryption and pass --allow-plaintext-remote (CASINO_PITR_ALLOW_PLAINTEXT_REMOTE=1), or a file:// replica", raw)
	}
	if r.getenv("AWS_SESSION_TOKEN") != "" {
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: Litestream's S3 client takes static keys only, and AWS_SESSION_TOKEN is set: give the replica long-lived keys of their own", raw)
	}
	cfg, err := s3store.ConfigFromEnv(raw, r.getenv)
	if err != nil {
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA: %v", err)
	}
	if cfg.Prefix == "" {
		return nil, "", fmt.Errorf("CASINO_PITR_REPLICA %q: name a prefix of its own (s3://bucket/prefix): Litestream deletes what it compacts under it", raw)
	}
	c := s3.NewReplicaClient()
	c.Bucket, c.Path, c.Region = cfg.Bucket, cfg.Prefix, cfg.Region
	c.AccessKeyID, c.SecretAccessKey = cfg.AccessKey, cfg.SecretKey
	if ep := cfg.Endpoint; ep != "" {
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep
		}
		c.Endpoint = ep
		c.ForcePathStyle = cfg.Addressing != "virtual"
	}
	return c, raw, nil
}

// initClient connects an S3 client before Litestream uses it. The AWS SDK
// refuses a custom HTTP client (Litestream's) while AWS_CA_BUNDLE is set,
// as this machine and many CI images set it: the variable is hidden from
// the SDK for the duration of its configuration load only, and put back.
// Nothing else in casino reads it (casino's own S3 client ignores it).
func initClient(ctx context.Context, c litestream.ReplicaClient) error {
	sc, ok := c.(*s3.ReplicaClient)
	if !ok {
		return nil
	}
	caBundleMu.Lock()
	defer caBundleMu.Unlock()
	if v, set := os.LookupEnv("AWS_CA_BUNDLE"); set {
		os.Unsetenv("AWS_CA_BUNDLE")
		defer os.Setenv("AWS_CA_BUNDLE", v)
	}
	if err := sc.Init(ctx); err != nil {
		return fmt.Errorf("litestream s3 replica: %w", err)
	}
	return nil
}

var caBundleMu sync.Mutex

// CheckLitestreamReplica validates a replica without opening anything;
// write: for replication (serve), else for a restore.
func CheckLitestreamReplica(r Replica, write bool) error {
	_, _, err := replicaClient(r, write)
	return err
}

// StartLitestream starts replicating o.DBPath: Litestream watches its WAL
// every 250ms and ships changes to the replica every 500ms, so a commit
// reaches the replica within about a second. Litestream keeps its own state
// in a shadow folder next to the database (.NAME-litestream) and in two
// tables (_litestream_seq, _litestream_lock); casino's backups drop both
// tables and never read the folder.
func StartLitestream(ctx context.Context, o LitestreamOptions) (*Litestream, error) {
	client, _, err := replicaClient(o.Replica, true)
	if err != nil {
		return nil, err
	}
	if err := initClient(ctx, client); err != nil {
		return nil, err
	}
	db := litestream.NewDB(o.DBPath)
	if o.Log != nil {
		db.Logger = o.Log.With("component", "litestream")
	}
	db.MonitorInterval = 250 * time.Millisecond
	r := litestream.NewReplicaWithClient(db, client)
	r.SyncInterval = 500 * time.Millisecond
	if fc, ok := client.(*file.ReplicaClient); ok {
		fc.Replica = r
	}
	db.Replica = r
	store := litestream.NewStore([]*litestream.DB{db}, litestream.DefaultCompactionLevels)
	if err := store.Open(ctx); err != nil {
		return nil, fmt.Errorf("start litestream: %w", err)
	}
	l := &Litestream{store: store, db: db, watching: make(chan struct{})}
	var wctx context.Context
	wctx, l.stopWatch = context.WithCancel(context.Background())
	go l.watchWAL(wctx)
	return l, nil
}

// LagSeconds is now minus the newest instant the replica is known to hold
// every commit before: the earlier of the replica's last successful sync
// and the start of Litestream's last successful read of the WAL (about, to
// the few milliseconds a read and a sync overlap). Litestream reads the WAL
// every 250 ms and syncs the replica every 500 ms even while the database
// is idle, so a healthy replica stays under about a second; it grows while
// either fails. -1 before the first of each.
func (l *Litestream) LagSeconds(now time.Time) float64 {
	synced := l.db.LastSuccessfulSyncAt()
	l.mu.Lock()
	read := l.walReadAt
	l.mu.Unlock()
	if synced.IsZero() || read.IsZero() {
		return -1
	}
	if read.Before(synced) {
		synced = read
	}
	return max(0, now.Sub(synced).Seconds())
}

// Close syncs what is pending and stops replication.
func (l *Litestream) Close(ctx context.Context) error {
	l.stopWatch()
	<-l.watching
	return l.store.Close(ctx)
}

// LitestreamWindow returns the span a replica can restore to: from its first
// to its last sync.
func LitestreamWindow(ctx context.Context, replica Replica) (Window, error) {
	client, _, err := replicaClient(replica, false)
	if err != nil {
		return Window{}, err
	}
	if err := initClient(ctx, client); err != nil {
		return Window{}, err
	}
	created, updated, err := litestream.NewReplicaWithClient(nil, client).TimeBounds(ctx)
	if err != nil {
		return Window{}, fmt.Errorf("read replica %s: %w", replica.URL, err)
	}
	if created.IsZero() {
		return Window{}, fmt.Errorf("%w: the replica %s holds nothing yet", ErrNoBaseBackup, replica.URL)
	}
	return Window{Start: created.UTC(), End: updated.UTC()}, nil
}

// RestoreSQLite restores the replica as of target (nil: its newest state)
// into the new file out, which must not exist. Litestream stamps changes
// when they sync, so a restore to T holds what had synced by T. A target
// after the last sync restores the newest state (mode end_of_replica); one
// before the first sync or in the future is refused naming the window.
func RestoreSQLite(ctx context.Context, replica Replica, out string, target *time.Time, now time.Time) (*casino.PITRFacts, error) {
	client, _, err := replicaClient(replica, false)
	if err != nil {
		return nil, err
	}
	if err := initClient(ctx, client); err != nil {
		return nil, err
	}
	w, err := LitestreamWindow(ctx, replica)
	if err != nil {
		return nil, err
	}
	facts := &casino.PITRFacts{TargetTime: target, Source: replica.URL, Mode: "end_of_replica", ReachedAt: w.End}
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = out
	opt.IntegrityCheck = litestream.IntegrityCheckQuick
	if target != nil {
		if target.Before(w.Start) || target.After(now) {
			return nil, fmt.Errorf("%w: %s is outside %s (UTC)", ErrOutsideWindow, target.UTC().Format(time.RFC3339Nano), Window{Start: w.Start, End: now})
		}
		if target.Before(w.End) {
			opt.Timestamp = *target
			facts.Mode = "target_time"
			facts.ReachedAt, err = lastSyncBefore(ctx, client, *target)
			if err != nil {
				return nil, err
			}
		}
	}
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("refusing to restore over %s: it exists", out)
	}
	r := litestream.NewReplicaWithClient(nil, client)
	if err := r.Restore(ctx, opt); err != nil {
		os.Remove(out)
		return nil, fmt.Errorf("litestream restore: %w", err)
	}
	return facts, nil
}

// lastSyncBefore is the newest sync time at or before t in any level.
func lastSyncBefore(ctx context.Context, client litestream.ReplicaClient, t time.Time) (time.Time, error) {
	var last time.Time
	for level := litestream.SnapshotLevel; level >= 0; level-- {
		itr, err := client.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return last, err
		}
		for itr.Next() {
			if at := itr.Item().CreatedAt; !at.After(t) && at.After(last) {
				last = at
			}
		}
		if err := itr.Close(); err != nil {
			return last, err
		}
	}
	return last.UTC(), nil
}
