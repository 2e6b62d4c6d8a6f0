package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
	"casino/api"
	"casino/sqlstore"
)

// authConfig holds the identity settings of casino serve (owner bootstrap,
// tokens, throttling). Env first, flags override.
type authConfig struct{}

func bindAuthFlags(fs *flag.FlagSet, env *Env, c *authConfig) {}

func (c *authConfig) validate(fs *flag.FlagSet) error { return nil }

// redacted returns the settings for --print-config, secrets masked.
func (c *authConfig) redacted() map[string]any { return nil }

// newBackend wires the API server to the database's services.
func newBackend(ctx context.Context, env *Env, cfg *Config, db *sqlstore.DB, logger *slog.Logger, reg *prometheus.Registry) (*api.Server, error) {
	return api.NewServer(api.Config{
		Logger:         logger,
		Build:          casino.Build(),
		Store:          db,
		Versions:       db,
		Registry:       reg,
		TrustedProxies: cfg.proxies,
	}), nil
}
