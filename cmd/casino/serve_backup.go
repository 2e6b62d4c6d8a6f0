package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
	"casino/backup"
	"casino/sqlstore"
)

// backupConfig holds the backup settings casino serve needs (the backup
// folder whose newest backup /metrics reports).
type backupConfig struct {
	Dir string
	// keys check the signatures of the backups /metrics reports: only a
	// backup whose manifest verifies counts as the newest.
	keys backup.KeyConfig
	// remote are the remote's settings for --print-config, secrets masked.
	remote map[string]any
}

func bindBackupFlags(fs *flag.FlagSet, env *Env, c *backupConfig) {
	c.remote = remoteSettings(env)
	stringSetting(fs, env, &c.Dir, "backup-dir", "CASINO_BACKUP_DIR", backup.DefaultDir, "backup folder whose newest backup /metrics reports")
	c.keys.SigningKey = env.Getenv("CASINO_BACKUP_SIGNING_KEY")
	c.keys.VerifyKeys = splitKeyList(env.Getenv("CASINO_BACKUP_VERIFY_KEY"))
}

func (c *backupConfig) validate(fs *flag.FlagSet) error {
	if c.Dir == "" {
		return usageErrorf("invalid %s: must not be empty", settingName(fs, "backup-dir", "CASINO_BACKUP_DIR"))
	}
	return nil
}

func (c *backupConfig) redacted() map[string]any {
	m := map[string]any{"backup_dir": c.Dir}
	for k, v := range c.remote {
		m[k] = v
	}
	return m
}

// backupServeHook runs at serve start: reports and cleans leftovers of an
// interrupted restore, and registers the backup metrics. It returns the
// backup keys (nil when unusable), whose public halves decide which backups
// are trusted, and the folder's newest trusted backup, rescanned at most
// every 10 s, which the metrics and the DR readiness share.
func backupServeHook(ctx context.Context, env *Env, cfg *Config, db *sqlstore.DB, logger *slog.Logger, reg *prometheus.Registry) (*backup.Keys, *backup.NewestCache, error) {
	cleanLeftoversAtStart(ctx, cfg, db, logger)
	kc := cfg.Backup.keys
	kc.Target, kc.BackupDir = db.Target, cfg.Backup.Dir
	k, err := backup.LoadKeys(kc)
	if err != nil {
		logger.Warn("backup_keys_unusable", slog.String("reason", casino.ErrorMessage(err)))
		k = nil
	}
	newest := &backup.NewestCache{Dir: cfg.Backup.Dir, Keys: k, Every: 10 * time.Second}
	registerBackupMetrics(reg, newest)
	registerRemoteMetrics(reg, env, cfg.DatabaseURL)
	return k, newest, nil
}

// cleanLeftoversAtStart removes what a killed restore left behind (scratch
// files or databases, the swapped-out old database, dead temp files). It
// only does so holding the backup lock, so it never touches the work of a
// restore that is running right now; it never fails the start.
func cleanLeftoversAtStart(ctx context.Context, cfg *Config, db *sqlstore.DB, logger *slog.Logger) {
	lock, err := backup.AcquireLock(ctx, db.Target)
	if err != nil {
		if casino.ErrorCode(err) == casino.ECONFLICT {
			logger.Warn("backup_leftovers_skipped", slog.String("reason", "a backup or restore is running"))
		} else {
			logger.Warn("backup_leftovers_skipped", slog.String("reason", "cannot take the backup lock: "+sqlstore.Redact(err.Error())))
		}
		return
	}
	defer lock.Release()
	cleaned, err := backup.CleanLeftovers(ctx, db.Target, cfg.Backup.Dir)
	for _, c := range cleaned {
		logger.Warn("backup_leftover_cleaned", slog.String("leftover", c), slog.String("why", "left by an interrupted backup or restore"))
	}
	if err != nil {
		logger.Warn("backup_leftovers_skipped", slog.String("reason", "cleaning failed: "+sqlstore.Redact(err.Error())))
	}
}

// registerBackupMetrics exposes the newest complete backup of the folder,
// rescanned on scrape as newest allows.
func registerBackupMetrics(reg *prometheus.Registry, newest *backup.NewestCache) {
	gauge := func(name, help string, f func(e *backup.Entry) float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			if e := newest.Get(); e != nil {
				return f(e)
			}
			return 0
		})
	}
	reg.MustRegister(
		gauge("casino_backup_last_success_timestamp_seconds", "Unix time of snapshot_at of the newest complete backup in the backup folder whose manifest is trusted (signature verifies when a verify key is set, snapshot_at not in the future); 0 if none. Alert when time() minus this exceeds the RPO target.",
			func(e *backup.Entry) float64 { return float64(e.Manifest.SnapshotAt.UnixNano()) / 1e9 }),
		gauge("casino_backup_last_size_bytes", "Size in bytes of the newest complete backup.",
			func(e *backup.Entry) float64 { return float64(e.Manifest.SizeBytes) }),
		gauge("casino_backup_last_duration_seconds", "How long the newest complete backup took.",
			func(e *backup.Entry) float64 { return e.Manifest.DurationMS / 1000 }),
	)
}
