package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"casino/sqlstore"
)

// backupConfig holds the backup settings casino serve needs (the backup
// folder whose newest backup /metrics reports).
type backupConfig struct{}

func bindBackupFlags(fs *flag.FlagSet, env *Env, c *backupConfig) {}

func (c *backupConfig) validate(fs *flag.FlagSet) error { return nil }

func (c *backupConfig) redacted() map[string]any { return nil }

// backupServeHook runs at serve start: reports and cleans leftovers of an
// interrupted restore, and registers the backup metrics.
func backupServeHook(ctx context.Context, env *Env, cfg *Config, db *sqlstore.DB, logger *slog.Logger, reg *prometheus.Registry) error {
	return nil
}
