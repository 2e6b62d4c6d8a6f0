package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"casino"
	"casino/logging"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "serve", Summary: "run the backend API, the frontend-admin UI, or both", Run: runServe})
}

const serveUsage = `serve [flags]

Runs casino. --role all (default) serves the admin UI at / and the API at
/api/; --role backend serves only the API; --role frontend-admin serves only
the UI and talks to --backend-url. Pending migrations are applied at start
unless --migrate=off. SIGTERM or SIGINT: /api/ready answers 503 at once, then
in-flight requests drain for up to --shutdown-timeout.`

func runServe(ctx context.Context, env *Env, args []string) error {
	var cfg Config
	fs := newFlagSet(env, "serve", serveUsage)
	bindServeFlags(fs, env, &cfg)
	printConfig := fs.Bool("print-config", false, "print the effective configuration (secrets redacted) and exit")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.validate(fs); err != nil {
		return err
	}
	if *printConfig {
		return cfg.printConfig(env.Stdout, nil)
	}

	logger := logging.New(env.Stdout, cfg.level)
	defer logging.Flush(logger)
	gc := tuneGC(env.Getenv, cgroupMemoryMax)
	build := casino.Build()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var handler http.Handler
	var drain func()
	var engine string
	if cfg.Role == RoleFrontendAdmin {
		h, d, err := newFrontend(ctx, env, &cfg, logger, reg, nil)
		if err != nil {
			return err
		}
		handler, drain, engine = h, d, "none"
	} else {
		db, err := openForServe(ctx, &cfg, logger)
		if err != nil {
			return err
		}
		defer db.Close()
		engine = db.Engine()
		reg.MustRegister(db.Collector("casino"))
		keys, newest, err := backupServeHook(ctx, env, &cfg, db, logger, reg)
		if err != nil {
			return err
		}
		readiness, err := drServeHook(env, &cfg, db, keys, newest, logger, reg)
		if err != nil {
			return err
		}
		stopPITR, err := pitrServeHook(ctx, &cfg, db, logger, reg)
		if err != nil {
			return err
		}
		defer stopPITR()
		backend, err := newBackend(ctx, env, &cfg, db, readiness, logger, reg)
		if err != nil {
			return err
		}
		handler, drain = backend, backend.SetDraining
		if cfg.Role == RoleAll {
			h, d, err := newFrontend(ctx, env, &cfg, logger, reg, backend)
			if err != nil {
				return err
			}
			handler, drain = h, d
		}
	}
	return listenAndServe(ctx, &cfg, logger, handler, drain, slog.String("role", cfg.Role), slog.String("database", engine), slog.String("version", build.Version), slog.String("commit", build.Commit), slog.Int("gc_percent", gc.Percent), slog.Int64("memory_limit_bytes", gc.MemoryLimit))
}

// openForServe opens the database, waiting up to 30 s for it to answer (a
// backend may start before its PostgreSQL), migrates it unless told not to,
// refuses a schema newer than the binary, and records the running version.
func openForServe(ctx context.Context, cfg *Config, logger *slog.Logger) (*sqlstore.DB, error) {
	var db *sqlstore.DB
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err = sqlstore.Open(ctx, cfg.DatabaseURL)
		if err == nil || cfg.target.Dialect == sqlstore.SQLite || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		logger.Warn("database_unavailable", slog.String(logging.FieldError, err.Error()))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if cfg.Migrate {
		applied, err := db.Migrate(ctx)
		for _, m := range applied {
			logging.Event(ctx, logger, logging.EventMigration, slog.Int("schema_version", m.Version), slog.String("name", m.Name))
		}
		if err != nil {
			db.Close()
			return nil, err
		}
	} else if err := db.CheckSchema(ctx); err != nil {
		var newer *sqlstore.SchemaNewerError
		if errors.As(err, &newer) {
			db.Close()
			return nil, err
		}
		logger.Warn("schema_behind", slog.String(logging.FieldError, err.Error()))
	}
	if err := db.RecordVersion(ctx, casino.Build().Version, casino.Build().Commit); err != nil && cfg.Migrate {
		db.Close()
		return nil, err
	}
	return db, nil
}

// listenAndServe serves handler until ctx is cancelled, then drains: drain()
// flips readiness, in-flight requests get up to the shutdown timeout.
func listenAndServe(ctx context.Context, cfg *Config, logger *slog.Logger, handler http.Handler, drain func(), attrs ...slog.Attr) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler: handler,
		// One deadline for a request's headers and its body (at most
		// api.MaxBodyBytes): equal values let net/http set the read
		// deadline once per request instead of twice.
		ReadHeaderTimeout: 15 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logging.Event(ctx, logger, logging.EventStartup, append(attrs, slog.String("addr", ln.Addr().String()))...)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if drain != nil {
		drain()
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	logging.Event(context.Background(), logger, logging.EventShutdown,
		slog.Float64(logging.FieldDurationMS, float64(time.Since(start).Microseconds())/1000),
		slog.Bool("clean", err == nil))
	if err != nil {
		return fmt.Errorf("shutdown: in-flight requests did not finish within %s", cfg.ShutdownTimeout)
	}
	return nil
}
