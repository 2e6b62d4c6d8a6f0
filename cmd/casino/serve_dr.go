package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
	"casino/backup"
	"casino/docs/ops"
	"casino/dr"
	"casino/keys"
	"casino/redact"
	"casino/s3store"
	"casino/sqlstore"
)

// drServeConfig holds the DR readiness settings of casino serve: where the
// proofs are (for open incidents and drill proof links) and the RTO/RPO
// targets it exports and compares with.
type drServeConfig struct {
	ProofDir string
	Targets  string
}

func bindDRServeFlags(fs *flag.FlagSet, env *Env, c *drServeConfig) {
	stringSetting(fs, env, &c.ProofDir, "dr-proof-dir", "CASINO_DR_PROOF_DIR", dr.DefaultProofDir, "folder of incident and drill proofs the /dr page reads (read-only)")
	stringSetting(fs, env, &c.Targets, "dr-targets", "CASINO_DR_TARGETS", "", "RTO/RPO targets (JSON; default "+dr.DefaultTargets+" when it exists, else the targets built into casino)")
}

func (c *drServeConfig) redacted() map[string]any {
	return map[string]any{"dr_proof_dir": c.ProofDir, "dr_targets": c.Targets}
}

// drServeHook builds the DR readiness (GET /api/v1/admin/dr-status, /dr)
// and registers its metrics.
func drServeHook(env *Env, cfg *Config, db *sqlstore.DB, k *backup.Keys, newest *backup.NewestCache, logger *slog.Logger, reg *prometheus.Registry) (*dr.Readiness, error) {
	src, err := dr.LoadSource(cfg.DR.Targets, dr.DefaultTargets, "dr_targets.json", ops.Targets)
	if err != nil {
		return nil, fmt.Errorf("serve: RTO/RPO targets: %w", err)
	}
	t, err := dr.ParseTargets(src.Text, src.Name)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	r := &dr.Readiness{
		Drills: db, Verifications: db, Targets: t, TargetsSource: src.Name,
		PITR: cfg.PITR.Mode, ProofDir: cfg.DR.ProofDir,
		Local: func(context.Context) casino.BackupFreshness { return newest.Freshness() },
	}
	if env.Getenv("CASINO_BACKUP_REMOTE") != "" {
		r.Remote = remoteFreshness(env, k, logger)
	}
	reg.MustRegister(r.Collector())
	return r, nil
}

// remoteFreshness lists the remote's backups for its newest trusted one,
// at most every 60 s, each listing bounded to 10 s.
func remoteFreshness(env *Env, k *backup.Keys, logger *slog.Logger) func(context.Context) casino.BackupFreshness {
	var mu sync.Mutex
	var at time.Time
	var last casino.BackupFreshness
	var verify []keys.Public
	if k != nil {
		verify = k.Verify
	}
	return func(ctx context.Context) casino.BackupFreshness {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < time.Minute {
			return aged(last)
		}
		at = time.Now()
		last = casino.BackupFreshness{Where: "remote", Location: env.Getenv("CASINO_BACKUP_REMOTE")}
		cfg, err := s3store.ConfigFromEnv("", env.Getenv)
		if err != nil {
			last.Error = remoteError(env, err)
			return last
		}
		last.Location = cfg.URL()
		st, err := s3store.Open(cfg)
		if err != nil {
			last.Error = remoteError(env, err)
			return last
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		l, err := st.ListBackups(lctx, s3store.KeyVerifier(verify))
		if err != nil {
			last.Error = remoteError(env, err)
			logger.Warn("dr_remote_unreadable", slog.String("reason", last.Error))
			return last
		}
		if b := l.Newest(); b != nil {
			snap := b.Manifest.SnapshotAt.UTC()
			last.Name, last.SnapshotAt = b.Name, &snap
		}
		return aged(last)
	}
}

// remoteError is err with the remote's credentials redacted by value.
func remoteError(env *Env, err error) string {
	r := redact.New(nil)
	for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"} {
		r.Add(env.Getenv(k))
	}
	return r.String(err.Error())
}

// aged sets f's age from now.
func aged(f casino.BackupFreshness) casino.BackupFreshness {
	if f.SnapshotAt != nil {
		f.AgeSeconds = time.Since(*f.SnapshotAt).Seconds()
	}
	return f
}
