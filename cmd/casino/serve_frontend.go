package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"casino/api"
)

// uiConfig holds the settings of the frontend-admin UI.
type uiConfig struct{}

func bindUIFlags(fs *flag.FlagSet, env *Env, c *uiConfig) {}

func (c *uiConfig) validate(fs *flag.FlagSet) error { return nil }

func (c *uiConfig) redacted() map[string]any { return nil }

// newFrontend returns the handler of the frontend-admin role. With backend
// non-nil (role all) it also serves the API under /api/.
func newFrontend(ctx context.Context, env *Env, cfg *Config, logger *slog.Logger, reg *prometheus.Registry, backend *api.Server) (http.Handler, func(), error) {
	if backend == nil {
		return nil, nil, usageErrorf("serve: --role frontend-admin is not available in this build yet")
	}
	return backend, backend.SetDraining, nil
}
