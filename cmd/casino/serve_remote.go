package main

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino/s3store"
)

// registerRemoteMetrics exposes the last successful upload to the remote,
// as `backup create --remote` recorded it in the data folder
// (s3store.StatusFile, in CASINO_DATA_DIR, beside the SQLite database, or
// ./data). All three are 0 until the first upload on this host.
func registerRemoteMetrics(reg *prometheus.Registry, env *Env, databaseURL string) {
	path := filepath.Join(dataDir(env, databaseURL), s3store.StatusFile)
	var mu sync.Mutex
	var at time.Time
	var st s3store.Status
	get := func() s3store.Status {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) > 10*time.Second {
			st, _ = s3store.ReadStatus(path)
			at = time.Now()
		}
		return st
	}
	gauge := func(name, help string, f func(s3store.Status) float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(get()) })
	}
	reg.MustRegister(
		gauge("casino_backup_remote_last_success_timestamp_seconds", "Unix time the last backup upload to the remote (CASINO_BACKUP_REMOTE) committed its manifest; 0 if none from this host. Alert when time() minus this exceeds the RPO target.",
			func(s s3store.Status) float64 {
				if s.At.IsZero() {
					return 0
				}
				return float64(s.At.UnixNano()) / 1e9
			}),
		gauge("casino_backup_remote_upload_bytes", "Bytes of the last backup uploaded to the remote.",
			func(s s3store.Status) float64 { return float64(s.Bytes) }),
		gauge("casino_backup_remote_upload_duration_seconds", "How long the last upload to the remote took, data to manifest.",
			func(s s3store.Status) float64 { return s.DurationSeconds }),
	)
}

// remoteSettings are the remote's settings for --print-config, secrets
// masked; nil when no remote is set.
func remoteSettings(env *Env) map[string]any {
	if env.Getenv("CASINO_BACKUP_REMOTE") == "" {
		return nil
	}
	cfg, err := s3store.ConfigFromEnv("", env.Getenv)
	if err != nil {
		return map[string]any{"backup_remote": env.Getenv("CASINO_BACKUP_REMOTE"), "backup_remote_error": remoteError(env, err)}
	}
	return cfg.Redacted()
}
