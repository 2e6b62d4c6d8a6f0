package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino/pitr"
	"casino/redact"
	"casino/sqlstore"
)

// pitrConfig is casino serve's point-in-time recovery setting: Litestream
// replication of the SQLite database (PostgreSQL uses `casino pitr stream`).
type pitrConfig struct {
	Mode    string // "" or "off", "litestream" or "wal"
	Replica string
	// AllowPlaintextRemote permits an s3:// Litestream replica, which
	// Litestream cannot encrypt client-side.
	AllowPlaintextRemote bool
	getenv               func(string) string
}

func bindPITRServeFlags(fs *flag.FlagSet, env *Env, c *pitrConfig) {
	stringSetting(fs, env, &c.Mode, "pitr", "CASINO_PITR", "off", "off; litestream: replicate the SQLite database continuously; wal: PostgreSQL streamed by casino pitr stream (recorded by dr declare)")
	stringSetting(fs, env, &c.Replica, "pitr-replica", "CASINO_PITR_REPLICA", "", "Litestream replica: file:///path, or s3://bucket/prefix (the S3 settings of CASINO_BACKUP_REMOTE)")
	fs.BoolVar(&c.AllowPlaintextRemote, "allow-plaintext-remote", env.Getenv("CASINO_PITR_ALLOW_PLAINTEXT_REMOTE") == "1", "permit an s3:// Litestream replica: Litestream has no client-side encryption, so use a bucket with server-side encryption (env CASINO_PITR_ALLOW_PLAINTEXT_REMOTE=1)")
	c.getenv = env.Getenv
}

// replica is the Litestream replica the settings name.
func (c *pitrConfig) replica() pitr.Replica {
	return pitr.Replica{URL: c.Replica, AllowPlaintextRemote: c.AllowPlaintextRemote, Getenv: c.getenv}
}

func (c *pitrConfig) validate(fs *flag.FlagSet, t sqlstore.Target) error {
	switch c.Mode {
	case "", "off":
		return nil
	case "wal":
		// PostgreSQL's WAL is streamed by `casino pitr stream`, a service of
		// its own; serve only accepts the setting, which dr declare reads.
		if t.Dialect != sqlstore.Postgres {
			return usageErrorf("%s=wal streams PostgreSQL's WAL; for SQLite use litestream", settingName(fs, "pitr", "CASINO_PITR"))
		}
		return nil
	case "litestream":
	default:
		return usageErrorf("invalid %s %q: must be off, litestream (SQLite) or wal (PostgreSQL)", settingName(fs, "pitr", "CASINO_PITR"), c.Mode)
	}
	if t.Dialect != sqlstore.SQLite {
		return usageErrorf("%s=litestream replicates SQLite; for PostgreSQL run `casino pitr stream` (docs/ops/pitr.md)", settingName(fs, "pitr", "CASINO_PITR"))
	}
	if c.Replica == "" {
		return usageErrorf("%s=litestream needs %s=file:///path or s3://bucket/prefix", settingName(fs, "pitr", "CASINO_PITR"), settingName(fs, "pitr-replica", "CASINO_PITR_REPLICA"))
	}
	if err := pitr.CheckLitestreamReplica(c.replica(), true); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// pitrServeHook starts Litestream when configured, with its lag on reg
// (casino_pitr_litestream_lag_seconds); the returned function syncs what is
// pending and stops it.
func pitrServeHook(ctx context.Context, cfg *Config, db *sqlstore.DB, logger *slog.Logger, reg *prometheus.Registry) (func(), error) {
	if cfg.PITR.Mode != "litestream" {
		return func() {}, nil
	}
	ls, err := pitr.StartLitestream(ctx, pitr.LitestreamOptions{DBPath: db.Target.Path, Replica: cfg.PITR.replica(), Log: logger})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(pitr.NewLitestreamCollector(ls))
	logger.Info("pitr_replicating", slog.String("engine", "litestream"), slog.String("replica", redact.String(cfg.PITR.Replica)))
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ls.Close(sctx); err != nil {
			logger.Warn("pitr_stop", slog.String("error", err.Error()))
		}
	}, nil
}
